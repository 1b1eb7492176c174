#!/usr/bin/env bash
# Store scale: certd start-up time, GetManagedObjects time, Import latency, bytes
# written per Import (/proc/PID/io of certd: write_bytes, what reached the block
# layer, and wchar, what certd passed to write()), RSS and RSS per certificate, with
# 1,000, 10,000 and 50,000 stored certificates (each with its key), on a private bus;
# RSS right after start-up (rss0) and after those calls, and what each added certificate costs.
# Prints a table and the ratio of each figure against the first size (linear growth
# is the ratio of the sizes; a flat per-change cost is 1).
# Usage: bench/store-scale.sh [BUILD_DIR] [SIZES...]
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$SRC/build}; shift || true
SIZES=${*:-1000 10000 50000}
CERTD=$BUILD/daemon/certd
WORK=$(mktemp -d); BUS=; PID=
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; [ -n "$BUS" ] && kill "$BUS" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
chmod 755 "$WORK"
cat > "$WORK/bus.conf" <<CONF
<busconfig><type>system</type><listen>unix:path=$WORK/bus.sock</listen><auth>EXTERNAL</auth>
<policy context="default"><allow user="*"/><allow own="*"/><allow send_destination="*"/><allow receive_sender="*"/></policy></busconfig>
CONF
dbus-daemon --config-file="$WORK/bus.conf" --nofork 2>/dev/null & BUS=$!
for _ in $(seq 100); do [ -S "$WORK/bus.sock" ] && break; sleep 0.05; done
export DBUS_SYSTEM_BUS_ADDRESS=unix:path=$WORK/bus.sock
now_ms() { date +%s%3N; }
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout /dev/null -out "$WORK/one.pem" \
  -subj /CN=import.bench.example -days 5 2>/dev/null
# As root without a certd-tls account (a developer's machine), the terminator runs as nobody.
TERMINATOR=
if [ "$(id -u)" = 0 ] && ! getent passwd certd-tls >/dev/null; then TERMINATOR=$'terminator:\n  user: nobody\n'; fi
io() { awk -v k="$2" '$1 == k":" { print $2 }' "/proc/$1/io"; }
printf "%-8s %10s %10s %10s %14s %12s %9s %9s %12s %10s %9s\n" certs startup_ms gmo_ms import_ms import_wbytes \
  import_wchar rss0_mib rss_mib rss_kib_cert restart_ms rss2_mib
declare -A R
for n in $SIZES; do
  d=$WORK/s$n; mkdir -p "$d"
  printf 'state_directory: ./state\naddresses: [127.0.0.2, 127.0.0.3]\nport: 8443\nbackend: tcp:127.0.0.1:8080\n%s' "$TERMINATOR" > "$d/certd.yaml"
  "$BUILD/bench/store-fill" "$d/state" "$n" >/dev/null
  t0=$(now_ms)
  CERTD_LOG_STDERR=1 "$CERTD" --config "$d/certd.yaml" 2>"$d/certd.log" & PID=$!
  until busctl --system get-property org.certd1 /org/certd1 org.certd1.Manager Version >/dev/null 2>&1; do sleep 0.01; done
  startup=$(( $(now_ms) - t0 ))
  rss0=$(awk '/VmRSS/ {printf "%.1f", $2/1024}' /proc/$PID/status)
  t0=$(now_ms)
  gmo=
  # A reply that would outgrow the bus's message size limit is refused (TooLarge, docs/api.md
  # "Large stores"); the figure then says so.
  for _ in 1 2 3; do
    busctl --system call org.certd1 /org/certd1 org.freedesktop.DBus.ObjectManager GetManagedObjects \
      >/dev/null 2>"$WORK/gmo.err" || { gmo=TooLarge; break; }
  done
  [ -n "$gmo" ] || gmo=$(( ($(now_ms) - t0) / 3 ))
  if ! kill -0 "$PID" 2>/dev/null; then
    echo "certd exited during GetManagedObjects with $n certificates: $(cat "$WORK/gmo.err"); its log ends:"
    tail -3 "$d/certd.log"
    PID=; continue
  fi
  # Import latency: 5 distinct certificates, one call each.
  t0=$(now_ms)
  for i in 1 2 3 4 5; do
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout /dev/null -out "$d/i$i.pem" \
      -subj "/CN=import$i.bench.example" -days 5 2>/dev/null
  done
  sync
  w0=$(io "$PID" write_bytes); c0=$(io "$PID" wchar)
  t0=$(now_ms)
  for i in 1 2 3 4 5; do
    busctl --system call org.certd1 /org/certd1 org.certd1.Manager Import 'aysa{sv}' \
      $(stat -c %s "$d/i$i.pem") $(od -An -v -tu1 "$d/i$i.pem") "" 0 >/dev/null
  done
  imp=$(( ($(now_ms) - t0) / 5 ))
  wb=$(( ($(io "$PID" write_bytes) - w0) / 5 )); wc=$(( ($(io "$PID" wchar) - c0) / 5 ))
  rss=$(awk '/VmRSS/ {printf "%.1f", $2/1024}' /proc/$PID/status)
  per=$(awk -v r="$rss" -v n="$n" 'BEGIN { printf "%.1f", r * 1024 / n }')
  kill "$PID"; wait "$PID" 2>/dev/null || true; PID=
  # A restart: what start-up costs once certd has run on this store (its description cache,
  # certificates.cache, written), and the RSS right after it.
  t0=$(now_ms)
  CERTD_LOG_STDERR=1 "$CERTD" --config "$d/certd.yaml" 2>>"$d/certd.log" & PID=$!
  until busctl --system get-property org.certd1 /org/certd1 org.certd1.Manager Version >/dev/null 2>&1; do sleep 0.01; done
  restart=$(( $(now_ms) - t0 ))
  rss2=$(awk '/VmRSS/ {printf "%.1f", $2/1024}' /proc/$PID/status)
  kill "$PID"; wait "$PID" 2>/dev/null || true; PID=
  printf "%-8s %10s %10s %10s %14s %12s %9s %9s %12s %10s %9s\n" "$n" "$startup" "$gmo" "$imp" "$wb" "$wc" "$rss0" \
    "$rss" "$per" "$restart" "$rss2"
  R[$n]="$startup $gmo $imp $wb $wc $rss $rss0 $restart $rss2"
done
set -- $SIZES
first=$1; shift || true
for n in "$@"; do
  [ -n "${R[$first]+x}" ] && [ -n "${R[$n]+x}" ] || continue
  read -r s1 g1 i1 w1 c1 r1 z1 t1 y1 <<<"${R[$first]}"; read -r s2 g2 i2 w2 c2 r2 z2 t2 y2 <<<"${R[$n]}"
  awk -v a="$first" -v b="$n" -v s1="$s1" -v s2="$s2" -v g1="$g1" -v g2="$g2" -v i1="$i1" -v i2="$i2" \
    -v w1="$w1" -v w2="$w2" -v c1="$c1" -v c2="$c2" -v r1="$r1" -v r2="$r2" -v z1="$z1" -v z2="$z2" \
    -v t1="$t1" -v t2="$t2" -v y1="$y1" -v y2="$y2" \
    'function q(x, y) { return (x + 0 > 0 && y + 0 > 0) ? sprintf("%.2f", x / y) : "n/a" }
     BEGIN { printf "ratio %s/%s (%.0fx the certificates): startup %s, restart %s, GetManagedObjects %s, Import %s, bytes per Import %s (write_bytes) %s (wchar), RSS %s\n", b, a, b/a, q(s2, s1), q(t2, t1), q(g2, g1), q(i2, i1), q(w2, w1), q(c2, c1), q(r2, r1)
             # What one more certificate (with its key) costs resident, whatever the process costs empty.
             printf "RSS per added certificate, %s -> %s: %.1f KiB after the first start-up, %.1f KiB after the calls above, %.1f KiB after the restart\n", a, b, (z2 - z1) * 1024 / (b - a), (r2 - r1) * 1024 / (b - a), (y2 - y1) * 1024 / (b - a) }'
done
