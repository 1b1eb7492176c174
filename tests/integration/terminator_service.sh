#!/usr/bin/env bash
# certd-tls as its own service (issue 14, parts 3 and 4), without systemd: certd-tls --service
# is socket-activated by systemd-socket-activate (the control socket as certd-tls.socket passes
# it, named "control") and certd connects to it with --terminator-socket. Checks: certd binds
# and sends the listening sockets over that connection (a port already taken shows as the
# address's error), certd-tls serves what certd says, serves on when certd is SIGKILLed (an
# established connection keeps working, a session resumes; a full handshake, which needs a
# signature from certd, the key holder, fails with an alert once the 2 s signing deadline has
# passed), and takes the state of the next certd, which reconnects to the same process.
# tests/system runs the units themselves under systemd (file descriptor store, restarts,
# refused connections).
. "$(dirname "$0")/lifecycle_lib.sh"
start_bus
TLS_PIDS=()
trap 'kill "${TLS_PIDS[@]}" 2>/dev/null || true; cleanup' EXIT

mkdir -p "$WORK/www"
echo "hello through certd-tls" > "$WORK/www/hello.txt"
python3 "$(dirname "$0")/tls_backend.py" http "$BACKEND_PORT" "$WORK/www" &
TLS_PIDS+=($!)
wait_port 127.0.0.1 "$BACKEND_PORT"
# Someone else holds 127.0.0.3's port: certd cannot bind it, and the bus says so.
python3 -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.3", int(sys.argv[1]))); s.listen(1); time.sleep(3600)' "$PORT" &
TLS_PIDS+=($!)
wait_port 127.0.0.3 "$PORT"

systemd-socket-activate -l "$WORK/tls.sock" --fdname=control "$CERTD_TLS" --service >"$WORK/tls.log" 2>&1 &
TLS_PID=$!
TLS_PIDS+=("$TLS_PID")
wait_until 30 '[ -S "$WORK/tls.sock" ]' || fail "systemd-socket-activate did not listen on $WORK/tls.sock"

CERTD_ARGS=(--terminator-socket "$WORK/tls.sock")
start_certd
M=(org.certd1 /org/certd1 org.certd1.Manager)
served_fp() {
  openssl s_client -connect "$1:$PORT" -servername x </dev/null 2>/dev/null \
    | openssl x509 -noout -fingerprint -sha256 | cut -d= -f2 | tr -d : | tr 'A-F' 'a-f'
}
fp_of() { cprop "$1" FingerprintSHA256 | tr -d '"'; }
address_prop() { prop "$(find_object address org.certd1.Address Address "\"$1\"")" org.certd1.Address "$2"; }

wait_until 60 '[ "$(prop /org/certd1 org.certd1.Manager TerminatorState)" = "\"running\"" ]' \
  || fail "TerminatorState is $(prop /org/certd1 org.certd1.Manager TerminatorState), not running"
factory=$(prop /org/certd1 org.certd1.Manager FactoryCertificate | tr -d '"')
[ "$(served_fp 127.0.0.2)" = "$(fp_of "$factory")" ] || fail "127.0.0.2 does not serve the factory certificate"
pass "certd-tls --service serves the factory certificate on the socket certd bound for 127.0.0.2"
wait_until 30 '[ "$(address_prop 127.0.0.3 State)" = "\"error\"" ]' \
  || fail "127.0.0.3's port is taken, yet its state is $(address_prop 127.0.0.3 State)"
grep -q "Address already in use" <<<"$(address_prop 127.0.0.3 Error)" \
  || fail "127.0.0.3's error does not say why: $(address_prop 127.0.0.3 Error)"
pass "a port certd cannot bind shows as the address's error: $(address_prop 127.0.0.3 Error)"

# An established connection: one request now, one after certd's restart, on the same socket.
mkfifo "$WORK/go"
python3 - "$PORT" "$WORK/go" >"$WORK/client.log" 2>&1 <<'PY' &
import socket, ssl, sys
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
s = ctx.wrap_socket(socket.create_connection(("127.0.0.2", int(sys.argv[1])), timeout=60))
def get(tag):
    s.sendall(b"GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n")
    data = b""
    while b"hello through certd-tls" not in data:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    print(tag, "ok" if b"hello through certd-tls" in data else "failed", flush=True)
get("first")
open(sys.argv[2]).read()
get("second")
PY
CLIENT_PID=$!
TLS_PIDS+=("$CLIENT_PID")
wait_until 60 'grep -q "^first" "$WORK/client.log"' || fail "no first response: $(cat "$WORK/client.log")"
grep -q "^first ok" "$WORK/client.log" || fail "the first request failed: $(cat "$WORK/client.log")"

# A TLS session to resume while certd is away, then (on "go") a resumption and a full handshake.
mkfifo "$WORK/go-away"
python3 - "$PORT" "$WORK/go-away" >"$WORK/away.log" 2>&1 <<'PY' &
import socket, ssl, sys
port, go = int(sys.argv[1]), sys.argv[2]
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
def connect(session=None):
    raw = socket.create_connection(("127.0.0.2", port), timeout=30)
    return ctx.wrap_socket(raw, server_hostname="x", session=session)
s = connect()
s.sendall(b"GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n")
s.recv(4096)  # the TLS 1.3 ticket comes with the first records
session = s.session
s.close()
print("saved", flush=True)
open(go).read()
r = connect(session)
print("resumed" if r.session_reused else "not resumed", flush=True)
r.close()
try:
    connect().close()
    print("full handshake completed", flush=True)
except ssl.SSLError as e:
    print("full handshake alert", e.reason, flush=True)
except OSError as e:
    print("full handshake other", e, flush=True)
PY
AWAY_PID=$!
TLS_PIDS+=("$AWAY_PID")
wait_until 60 'grep -q "^saved" "$WORK/away.log"' || fail "no session to resume: $(cat "$WORK/away.log")"

# certd goes away (SIGKILL: no goodbye). certd-tls serves on.
kill -KILL "$CERTD_PID"
wait "$CERTD_PID" 2>/dev/null || true
CERTD_PID=
wait_until 30 'grep -q "certd disconnected" "$WORK/tls.log"' || fail "certd-tls did not notice certd's end"
kill -0 "$TLS_PID" || fail "certd-tls exited with certd"
echo go > "$WORK/go-away"
wait "$AWAY_PID" || true
grep -q "^resumed" "$WORK/away.log" || fail "no resumption while certd is away: $(cat "$WORK/away.log")"
grep -q "^full handshake alert" "$WORK/away.log" \
  || fail "a full handshake with no key holder should end in an alert: $(cat "$WORK/away.log")"
kill -0 "$TLS_PID" || fail "certd-tls exited after a handshake without its signer"
pass "with certd killed, certd-tls (pid $TLS_PID) resumes sessions; a full handshake (it needs certd's signature) ends in an alert: $(grep "^full" "$WORK/away.log")"

# The next certd connects to the same certd-tls and its changes are served.
start_certd
wait_until 60 '[ "$(prop /org/certd1 org.certd1.Manager TerminatorState)" = "\"running\"" ]' \
  || fail "the restarted certd's TerminatorState is $(prop /org/certd1 org.certd1.Manager TerminatorState)"
[ "$(grep -c "certd connected" "$WORK/tls.log")" = 2 ] || fail "certd-tls saw $(grep -c "certd connected" "$WORK/tls.log") connections, not 2"
"$CERTCTL" create-self-signed --name second --key-type ec-p256 --cn second.test --san IP:127.0.0.2 >/dev/null
"$CERTCTL" assign 127.0.0.2 second >/dev/null
second=$(find_object certificate org.certd1.Certificate FriendlyName '"second"')
[ "$(served_fp 127.0.0.2)" = "$(fp_of "$second")" ] || fail "127.0.0.2 does not serve the certificate the new certd assigned"
kill -0 "$TLS_PID" || fail "certd-tls is not the same process"
pass "a new certd reconnects to the same certd-tls, and its assignment is served"

# A key holder that does not answer (certd stopped, as a hung one would be): a full handshake ends
# in an alert at the signing deadline instead of hanging, certd-tls is unaffected, and once certd
# runs again (its late replies to the abandoned requests are ignored) handshakes complete.
kill -STOP "$CERTD_PID"
stalled=$(python3 - "$PORT" <<'PY'
import socket, ssl, sys
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
try:
    ctx.wrap_socket(socket.create_connection(("127.0.0.2", int(sys.argv[1])), timeout=30),
                    server_hostname="x").close()
    print("completed")
except ssl.SSLError as e:
    print("alert", e.reason)
except OSError as e:
    print("other", e)
PY
)
kill -CONT "$CERTD_PID"
grep -q "^alert" <<<"$stalled" || fail "a handshake with a stopped key holder: $stalled"
kill -0 "$TLS_PID" || fail "certd-tls exited while certd was stopped"
[ "$(served_fp 127.0.0.2)" = "$(fp_of "$second")" ] || fail "no handshake once certd runs again"
pass "with certd stopped, a full handshake ends in an alert ($stalled) at the deadline; after SIGCONT they complete"

echo go > "$WORK/go"
wait "$CLIENT_PID" || true
grep -q "^second ok" "$WORK/client.log" || fail "the connection established before certd's restart broke: $(cat "$WORK/client.log")"
pass "a connection established before certd was killed still carries requests after its restart"

stop_certd
kill -0 "$TLS_PID" || fail "certd-tls exited when certd stopped"
pass "certd-tls serves on after certd stops (certd-tls.service's StopWhenUnneeded= stops it under systemd)"

# 20 restarts of certd under a handshake loop, with the listening socket of 127.0.0.2 kept
# across them as systemd's file descriptor store keeps it (fd_holder.py passes it back with
# LISTEN_FDS): each new certd adopts it and sends it again, and certd-tls swaps it in while
# clients arrive. (A worker once freed a replaced listener while an event of the same batch
# still named it, and certd-tls crashed: found by tests/system.)
kill "$TLS_PID"; wait "$TLS_PID" 2>/dev/null || true
systemd-socket-activate -l "$WORK/tls2.sock" --fdname=control "$CERTD_TLS" --service >"$WORK/tls2.log" 2>&1 &
TLS_PID=$!
TLS_PIDS+=("$TLS_PID")
wait_until 30 '[ -S "$WORK/tls2.sock" ]' || fail "systemd-socket-activate did not listen on $WORK/tls2.sock"
export CERTD_LOG_STDERR=1 CERTD_LOGFILE="$WORK/certd.log"
coproc HOLDER { python3 "$(dirname "$0")/fd_holder.py" 127.0.0.2 "$PORT" sh -c 'exec "$0" "$@" >>"$CERTD_LOGFILE" 2>&1' \
  "$CERTD" --config "$WORK/certd.yaml" --terminator-socket "$WORK/tls2.sock"; }
TLS_PIDS+=("$HOLDER_PID")
read -r line <&"${HOLDER[0]}"; [ "$line" = listening ] || fail "fd_holder.py: $line"
holder() { echo "$1" >&"${HOLDER[1]}"; read -r reply pid <&"${HOLDER[0]}"; [ "$reply" = "$2" ] || fail "fd_holder.py: $reply"; }
holder start started; CERTD_PID=$pid
wait_until 120 certd_answers || fail "certd did not start with the kept socket"
python3 "$(dirname "$0")/../system/tls_probe.py" loop 127.0.0.2 "$PORT" "$WORK/stop" 300 >"$WORK/loop.log" 2>&1 &
LOOP_PID=$!
TLS_PIDS+=("$LOOP_PID")
wait_until 60 'grep -qs ^first "$WORK/loop.log"' || fail "the handshake loop did not start: $(cat "$WORK/loop.log")"
# Each window from a kill to certd-tls's next control connection (CLOCK_MONOTONIC seconds): a
# full handshake begun in one may fail (its signature waits for the next certd, at most 2 s),
# one begun outside every window must not.
monotonic() { python3 -c 'import time; print(f"{time.monotonic():.3f}")'; }
: > "$WORK/windows"
for i in $(seq 1 20); do
  holder kill killed; down=$pid
  holder start started; CERTD_PID=$pid
  wait_until 120 certd_answers || fail "certd did not start again ($i)"
  wait_until 60 '[ "$(grep -c "certd connected" "$WORK/tls2.log")" -ge $((i + 1)) ]' \
    || fail "restart $i: certd-tls saw $(grep -c "certd connected" "$WORK/tls2.log") connections"
  echo "$down $(monotonic)" >> "$WORK/windows"
  kill -0 "$TLS_PID" || fail "certd-tls died at restart $i: $(tail -5 "$WORK/tls2.log")"
done
grep -q "kept listening socket 127.0.0.2:$PORT" "$WORK/certd.log" || fail "certd never adopted the kept socket"
touch "$WORK/stop"
wait "$LOOP_PID"
stats=$(grep ^connections "$WORK/loop.log")
read -r _ connections _ refused _ failed _ <<<"$stats"
[ "$refused" = 0 ] || fail "handshakes across 20 restarts of certd: $stats"
[ "$connections" -gt 20 ] || fail "too few handshakes to mean anything: $stats"
python3 - "$WORK/windows" "$WORK/loop.log" <<'PY' || fail "a handshake failed outside certd's restarts: $(grep ^failure "$WORK/loop.log")"
import sys
windows = [tuple(map(float, line.split())) for line in open(sys.argv[1])]
bad = [l for l in open(sys.argv[2]) if l.startswith("failure ")
       and not any(down <= float(l.split()[1]) <= up for down, up in windows)]
print("".join(bad), end="")
sys.exit(1 if bad else 0)
PY
for i in 1 2 3; do
  [ -n "$(served_fp 127.0.0.2)" ] || fail "no full handshake after the last restart ($i)"
done
pass "20 restarts of certd (socket kept as systemd would) under a handshake loop, one certd-tls: $stats; every failure began while certd was away"
holder kill killed
CERTD_PID=
