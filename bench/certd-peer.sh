#!/usr/bin/env bash
# bench/certd-peer.sh: certd with its certd-tls as one column (EXTRA_START) of the shared peer
# benchmark (../shared/bench/tls-peers.sh), serving that benchmark's certificate and key on
# 127.0.0.1:$PORT. Arguments go to certd (--terminator-holds-keys: the in-process baseline of
# bench/key-custody.sh). Stays in the foreground; SIGTERM stops certd, certd-tls and the bus.
#
# A private dbus-daemon and state directory under $WORK_DIR. certd first serves 127.0.0.1 on a
# spare port; once the benchmark's certificate is imported and assigned, a reload moves it to
# $PORT, so the first handshake there already gets that certificate.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD_DIR:-$ROOT/build}
: "${PORT:?} ${PEM:?} ${BACKEND:?} ${WORK_DIR:?}"
D="$WORK_DIR/certd-$PORT"
rm -rf "$D"; mkdir -p "$D"; chmod 755 "$D"
cat > "$D/bus.conf" <<CONF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=$D/bus.sock</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/> <allow own="*"/> <allow send_destination="*"/> <allow receive_sender="*"/>
  </policy>
</busconfig>
CONF
dbus-daemon --config-file="$D/bus.conf" --nofork >"$D/bus.log" 2>&1 &
BUS=$!
CERTD=
trap 'kill $CERTD $BUS 2>/dev/null; wait 2>/dev/null; exit 0' TERM INT
export DBUS_SYSTEM_BUS_ADDRESS="unix:path=$D/bus.sock"
config() {
  printf 'state_directory: %s\naddresses: [127.0.0.1]\nport: %s\nbackend: tcp:%s\n' "$D/state" "$1" "$BACKEND"
  [ "$(id -u)" = 0 ] && printf 'terminator:\n  user: nobody\n'
  true
}
config $((PORT + 500)) > "$D/certd.yaml"
for _ in $(seq 100); do [ -S "$D/bus.sock" ] && break; sleep 0.1; done
CERTD_LOG_STDERR=1 "$BUILD/daemon/certd" --config "$D/certd.yaml" "$@" >"$D/certd.log" 2>&1 &
CERTD=$!
for _ in $(seq 300); do "$BUILD/client/certctl" status >/dev/null 2>&1 && break; sleep 0.1; done
"$BUILD/client/certctl" import "$PEM" --name bench >/dev/null
"$BUILD/client/certctl" assign 127.0.0.1 bench >/dev/null
config "$PORT" > "$D/certd.yaml"
"$BUILD/client/certctl" reload >/dev/null
wait "$CERTD"
