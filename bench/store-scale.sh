#!/usr/bin/env bash
# Store scale: certd start-up time, GetManagedObjects time, Import latency and
# RSS with 1,000 and 10,000 stored certificates (each with its key), on a
# private bus. Prints a table and the 10k/1k ratio of each figure (linear growth
# is a ratio of 10). Usage: bench/store-scale.sh [BUILD_DIR] [SIZES...]
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$SRC/build}; shift || true
SIZES=${*:-1000 10000}
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
printf "%-8s %12s %18s %16s %10s\n" certs startup_ms managed_objects_ms import_ms rss_mib
declare -A R
for n in $SIZES; do
  d=$WORK/s$n; mkdir -p "$d"
  printf 'state_directory: ./state\naddresses: [127.0.0.2, 127.0.0.3]\nport: 8443\nbackend: tcp:127.0.0.1:8080\n' > "$d/certd.yaml"
  "$BUILD/bench/store-fill" "$d/state" "$n" >/dev/null
  t0=$(now_ms)
  CERTD_LOG_STDERR=1 "$CERTD" --config "$d/certd.yaml" 2>/dev/null & PID=$!
  until busctl --system get-property org.certd1 /org/certd1 org.certd1.Manager Version >/dev/null 2>&1; do sleep 0.01; done
  startup=$(( $(now_ms) - t0 ))
  t0=$(now_ms)
  for _ in 1 2 3; do busctl --system call org.certd1 /org/certd1 org.freedesktop.DBus.ObjectManager GetManagedObjects >/dev/null; done
  gmo=$(( ($(now_ms) - t0) / 3 ))
  # Import latency: 5 distinct certificates, one call each.
  t0=$(now_ms)
  for i in 1 2 3 4 5; do
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout /dev/null -out "$d/i$i.pem" \
      -subj "/CN=import$i.bench.example" -days 5 2>/dev/null
  done
  t0=$(now_ms)
  for i in 1 2 3 4 5; do
    busctl --system call org.certd1 /org/certd1 org.certd1.Manager Import 'aysa{sv}' \
      $(stat -c %s "$d/i$i.pem") $(od -An -v -tu1 "$d/i$i.pem") "" 0 >/dev/null
  done
  imp=$(( ($(now_ms) - t0) / 5 ))
  rss=$(awk '/VmRSS/ {printf "%.1f", $2/1024}' /proc/$PID/status)
  printf "%-8s %12s %18s %16s %10s\n" "$n" "$startup" "$gmo" "$imp" "$rss"
  R[$n]="$startup $gmo $imp $rss"
  kill "$PID"; wait "$PID" 2>/dev/null || true; PID=
done
set -- $SIZES
if [ $# -ge 2 ]; then
  read -r s1 g1 i1 r1 <<<"${R[$1]}"; read -r s2 g2 i2 r2 <<<"${R[$2]}"
  awk -v a="$1" -v b="$2" -v s1="$s1" -v s2="$s2" -v g1="$g1" -v g2="$g2" -v i1="$i1" -v i2="$i2" -v r1="$r1" -v r2="$r2" \
    'BEGIN { printf "ratio %s/%s (%.0fx the certificates): startup %.1f, GetManagedObjects %.1f, Import %.1f, RSS %.1f\n", b, a, b/a, s2/s1, g2/g1, i2/i1, r2/r1 }'
fi
