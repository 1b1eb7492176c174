#!/usr/bin/env bash
# The data path: PROXY v2 (client address, ALPN and SNI TLVs), half-close in both directions,
# a UNIX-socket backend, a 4 MiB transfer each way through bounded buffers, the handshake and
# idle timeouts, and the connection limit.
. "$(dirname "$0")/tls_lib.sh"
make_ca
make_leaf a
PORT=$(free_port)
ECHO_PORT=$(free_port)
python3 "$HERE/tls_backend.py" echo "$ECHO_PORT" &
PIDS+=($!)
python3 "$HERE/tls_backend.py" echo "unix:$WORK/echo.sock" &
PIDS+=($!)
wait_port 127.0.0.1 "$ECHO_PORT"
# The terminator runs unprivileged (nobody when the tests run as root): it must be able to connect.
wait_until 60 '[ -S "$WORK/echo.sock" ]' || fail "the UNIX echo backend did not bind $WORK/echo.sock"
chmod 666 "$WORK/echo.sock"
start_driver
drv backend "tcp:127.0.0.1:$ECHO_PORT"
drv cert a "$WORK/a.chain" "$WORK/a.key"
drv listen 127.0.0.2 "$PORT" a
drv proxy on
drv apply

# talk.py HOST PORT CAFILE SIZE: connects with ALPN http/1.1 and SNI a.test, sends SIZE bytes
# (reading the echo meanwhile), half-closes, reads to the end and prints what came back.
cat > "$WORK/talk.py" <<'PY'
import hashlib, os, select, socket, ssl, sys
host, port, cafile, size = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
ctx = ssl.create_default_context(cafile=cafile)
ctx.set_alpn_protocols(["http/1.1"])
s = ctx.wrap_socket(socket.create_connection((host, port), timeout=30), server_hostname="a.test")
payload = bytes(range(256)) * (size // 256)
s.setblocking(False)
data = bytearray()
def pull():
    while True:
        try:
            chunk = s.recv(65536)
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
            return True
        if not chunk:
            return False
        data.extend(chunk)
sent = 0
while sent < len(payload):  # read while sending: the echo comes back as we go
    r, w, _ = select.select([s], [s], [], 30)
    if not r and not w:
        sys.exit("stalled while sending")
    if r or s.pending():
        pull()
    if w:
        try:
            sent += s.send(payload[sent:sent + 65536])
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
            pass
# Half-close at the TCP level (a FIN, no close_notify), then read until the end.
half = socket.socket(fileno=os.dup(s.fileno()))
half.shutdown(socket.SHUT_WR)
half.close()
while True:
    r, _, _ = select.select([s], [], [], 30)
    if not r and not s.pending():
        sys.exit("stalled while reading")
    if not pull():
        break
data = bytes(data)
first, _, rest = data.partition(b"\n")
if not first.startswith(b"PROXY"):
    first, rest = b"(no PROXY line)", data
echoed, _, bye = rest.rpartition(b"BYE ")
print(first.decode())
print("echoed", len(echoed), hashlib.sha256(echoed).digest() == hashlib.sha256(payload).digest())
print("bye", bye.decode().strip())
PY
out=$(python3 "$WORK/talk.py" 127.0.0.2 "$PORT" "$WORK/root.pem" 1024 2>&1) || true
echo "$out" | head -1 | grep -Eq "^PROXY src=127\.0\.0\.1:[0-9]+ dst=127\.0\.0\.2:$PORT alpn=http/1\.1 authority=a\.test$" \
  || fail "PROXY v2 header not as expected: $out"
pass "PROXY v2 carries the client address, the listener address, ALPN and SNI"
grep -q "^echoed 1024 True$" <<<"$out" || fail "echo through the terminator: $out"
grep -q "^bye 1024$" <<<"$out" || fail "the backend did not see the client's half-close: $out"
pass "client half-close reaches the backend; the backend's reply after it still reaches the client"

out=$(python3 "$WORK/talk.py" 127.0.0.2 "$PORT" "$WORK/root.pem" $((4 << 20)) 2>&1) || true
grep -q "^echoed $((4 << 20)) True$" <<<"$out" || fail "4 MiB echo: $out"
pass "4 MiB each way through bounded buffers arrives intact"

drv proxy off
drv backend "unix:$WORK/echo.sock"
drv apply
out=$(python3 "$WORK/talk.py" 127.0.0.2 "$PORT" "$WORK/root.pem" 4096 2>&1) || true
grep -q "^echoed 4096 True$" <<<"$out" || fail "unix backend: $out"
echo "$out" | head -1 | grep -q "^PROXY" && fail "PROXY header sent while off"
pass "a UNIX-socket backend works, and no PROXY header when it is off"

# Timeouts: a client that never says hello, and one that goes quiet after the handshake, are
# closed by the terminator (the test waits for that, bounded; it does not time it).
drv timeouts 500 1000
drv apply
python3 - "$PORT" "$WORK/root.pem" <<'PY' || fail "timeouts not enforced"
import socket, ssl, sys
port, cafile = int(sys.argv[1]), sys.argv[2]
silent = socket.create_connection(("127.0.0.2", port), timeout=20)
assert silent.recv(1) == b"", "handshake timeout: connection not closed"
ctx = ssl.create_default_context(cafile=cafile)
idle = ctx.wrap_socket(socket.create_connection(("127.0.0.2", port), timeout=20), server_hostname="a.test")
try:
    assert idle.recv(1) == b"", "idle timeout: connection not closed"
except ssl.SSLEOFError:
    pass
PY
pass "handshake and idle timeouts close silent connections"

# Connection limit: with 2 allowed, a third client waits in the backlog until one leaves.
drv timeouts 10000 60000
drv maxconn 2
drv apply
python3 - "$PORT" "$WORK/root.pem" <<'PY' || fail "connection limit not enforced"
import socket, ssl, sys
port, cafile = int(sys.argv[1]), sys.argv[2]
ctx = ssl.create_default_context(cafile=cafile)
def connect(timeout):
    raw = socket.create_connection(("127.0.0.2", port), timeout=timeout)
    return ctx.wrap_socket(raw, server_hostname="a.test")
held = [connect(20), connect(20)]
try:
    connect(1.0)
    sys.exit("a third connection was served beyond maxconn 2")
except (socket.timeout, TimeoutError):
    pass
held.pop().close()
third = connect(20)  # served once a slot is free
third.close()
PY
pass "beyond maxconn, clients wait until a connection closes, then are served"
