# Shared by the shell integration tests: a private dbus-daemon and a real certd
# in a temporary directory, torn down on exit. Source it; it uses set -eu.
#   CERTD       path of the certd binary (meson passes it)
#   CERTCTL     path of certctl
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/wait_lib.sh"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/certd-it-XXXXXX")
BUS_PID=
CERTD_PID=
cleanup() {
  [ -n "$CERTD_PID" ] && kill "$CERTD_PID" 2>/dev/null && wait "$CERTD_PID" 2>/dev/null || true
  [ -n "$BUS_PID" ] && kill "$BUS_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; [ -f "$WORK/certd.log" ] && sed 's/^/  certd: /' "$WORK/certd.log" >&2; exit 1; }
pass() { echo "ok: $*"; }

# start_bus [POLICY]: a private system-type bus. POLICY is the <policy>/<include> XML it
# enforces; the default lets every local user connect, own and call anything, so that
# certd's own authorisation (not the bus policy) is what the tests exercise.
start_bus() {
  local policy=${1:-'  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>'}
  cat > "$WORK/bus.conf" <<CONF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=$WORK/bus.sock</listen>
  <auth>EXTERNAL</auth>
$policy
</busconfig>
CONF
  chmod 755 "$WORK"
  dbus-daemon --config-file="$WORK/bus.conf" --nofork --print-address > "$WORK/bus.addr" 2> "$WORK/bus.log" &
  BUS_PID=$!
  wait_until 60 '[ -S "$WORK/bus.sock" ]' || fail "dbus-daemon did not create $WORK/bus.sock: $(cat "$WORK/bus.log")"
  export DBUS_SYSTEM_BUS_ADDRESS="unix:path=$WORK/bus.sock"
}

# The TLS port of this test's certd: random, so suites running side by side do not collide, and
# with the ports above it that tests take (PORT + 1 ... PORT + 10) below Linux's ephemeral range
# (32768-60999): a client's outgoing connection holding one of them made a listener fail to bind.
PORT=${PORT:-$((20000 + RANDOM % 12000))}
BACKEND_PORT=${BACKEND_PORT:-$((PORT + 1))}

# start_certd [extra yaml lines]: the minimal config of DESIGN §6 plus extras. As root,
# the terminator drops to nobody (the tests' machines have no certd-tls user).
# CERTD_PREFIX (an array, default empty) runs before certd, e.g. setpriv; CERTD_ARGS (an
# array, default empty) follows its --config.
CERTD_PREFIX=()
CERTD_ARGS=()
start_certd() {
  {
    echo "state_directory: ./state"
    echo "addresses: [127.0.0.2, 127.0.0.3]"
    echo "port: $PORT"
    echo "backend: tcp:127.0.0.1:$BACKEND_PORT"
    local has_terminator=
    for line in "$@"; do echo "$line"; case "$line" in terminator:*) has_terminator=1;; esac; done
    [ -n "$has_terminator" ] || printf 'terminator:\n  user: nobody\n'
  } > "$WORK/certd.yaml"
  CERTD_LOG_STDERR=1 "${CERTD_PREFIX[@]}" "$CERTD" --config "$WORK/certd.yaml" "${CERTD_ARGS[@]}" >> "$WORK/certd.log" 2>&1 &
  CERTD_PID=$!
  wait_until 120 certd_answers || fail "certd did not take org.certd1 within 120 s"
}
# Succeeds once certd answers on the bus; fails the test if certd has exited.
certd_answers() {
  busctl --system get-property org.certd1 /org/certd1 org.certd1.Manager Version >/dev/null 2>&1 && return 0
  kill -0 "$CERTD_PID" 2>/dev/null || fail "certd exited during start-up"
  return 1
}

stop_certd() {
  kill "$CERTD_PID"; wait "$CERTD_PID" || fail "certd did not exit cleanly on SIGTERM"
  CERTD_PID=
}

# prop PATH INTERFACE NAME: the property's value as busctl prints it, without the type.
prop() { busctl --system get-property org.certd1 "$1" "$2" "$3" | cut -d' ' -f2-; }
# A file as busctl 'ay' arguments: length then decimal bytes.
bytes_of() { echo "$(stat -c %s "$1") $(od -An -v -tu1 "$1" | tr -s ' \n' '  ')"; }
# find_object KIND INTERFACE PROPERTY VALUE: the first object under /org/certd1/KIND/ whose
# property prints as VALUE (busctl form, e.g. '"root"').
find_object() {
  local p
  for p in $(busctl --system tree org.certd1 --list | grep "^/org/certd1/$1/"); do
    if [ "$(prop "$p" "$2" "$3")" = "$4" ]; then echo "$p"; return 0; fi
  done
  return 0
}
# err_name PATH INTERFACE.METHOD ARGS...: the D-Bus error name of a call (busctl prints only the
# text; gdbus prints the name). ARGS are GVariant text, e.g. 127.0.0.2 /org/certd1/... '{}'.
err_name() {
  gdbus call --system --dest org.certd1 --object-path "$1" --method "$2" "${@:3}" 2>&1 \
    | sed -n 's/.*GDBus\.Error:\(org\.certd1\.Error\.[A-Za-z]*\).*/\1/p' || true
}
