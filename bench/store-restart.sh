#!/usr/bin/env bash
# Start-up with and without certd's description cache (certificates.cache): fills a store
# with N certificates (each with its key), starts certd on a private bus twice and prints the
# time to its bus name and its RSS each time. The first start parses every certificate and
# writes the cache; the restart takes every description from it.
# Usage: bench/store-restart.sh [BUILD_DIR] [SIZES...]
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
TERMINATOR=
if [ "$(id -u)" = 0 ] && ! getent passwd certd-tls >/dev/null; then TERMINATOR=$'terminator:\n  user: nobody\n'; fi
# Starts certd, waits for its bus name; prints the milliseconds and the RSS in MiB; stops it.
start() {
  local t0; t0=$(now_ms)
  CERTD_LOG_STDERR=1 "$CERTD" --config "$1/certd.yaml" 2>>"$1/certd.log" & PID=$!
  until busctl --system get-property org.certd1 /org/certd1 org.certd1.Manager Version >/dev/null 2>&1; do sleep 0.01; done
  echo "$(( $(now_ms) - t0 )) $(awk '/VmRSS/ {printf "%.1f", $2/1024}' /proc/$PID/status)"
  kill "$PID"; wait "$PID" 2>/dev/null || true; PID=
}
printf "%-8s %12s %12s %12s %12s\n" certs first_ms first_rss_mib restart_ms restart_rss_mib
for n in $SIZES; do
  d=$WORK/s$n; mkdir -p "$d"
  printf 'state_directory: ./state\naddresses: [127.0.0.2, 127.0.0.3]\nport: 8443\nbackend: tcp:127.0.0.1:8080\n%s' "$TERMINATOR" > "$d/certd.yaml"
  "$BUILD/bench/store-fill" "$d/state" "$n" >/dev/null
  read -r first firstRss < <(start "$d")
  read -r again againRss < <(start "$d")
  printf "%-8s %12s %12s %12s %12s\n" "$n" "$first" "$firstRss" "$again" "$againRss"
done
