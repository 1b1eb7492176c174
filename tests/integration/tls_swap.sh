#!/usr/bin/env bash
# Swap under load: while clients make requests (one keep-alive connection, and a new TLS
# connection per request), the certificate of 127.0.0.2 is reassigned 200 times. Zero failed
# requests, the keep-alive connection never reconnects, and the next handshake after the last
# swap gets the last certificate.
. "$(dirname "$0")/tls_lib.sh"
make_ca
make_leaf a
make_leaf b
start_http_backend
PORT=$(free_port)
start_driver
drv backend "tcp:127.0.0.1:$BACKEND_PORT"
drv cert a "$WORK/a.chain" "$WORK/a.key"
drv cert b "$WORK/b.chain" "$WORK/b.key"
drv listen 127.0.0.2 "$PORT" a
drv workers 2
drv apply

STOP="$WORK/stop"
python3 "$HERE/tls_client.py" keepalive 127.0.0.2 "$PORT" "$WORK/root.pem" "$STOP" 200000 >"$WORK/ka.out" 2>"$WORK/ka.err" &
KA=$!
PIDS+=($KA)
python3 "$HERE/tls_client.py" new 127.0.0.2 "$PORT" "$WORK/root.pem" "$STOP" 200000 >"$WORK/new.out" 2>"$WORK/new.err" &
NEW=$!
PIDS+=($NEW)
# Both clients are under way before the first swap: each has said its first request is done
# (python starts slowly on a busy machine; 200 swaps can be over before it has).
under_way() { # OUT PID: the client printed its first line; fails the test if it exited instead
  grep -q "^first request done$" "$1" && return 0
  kill -0 "$2" 2>/dev/null || fail "a client exited before its first request: $(cat "${1%.out}.err")"
  return 1
}
wait_until 60 'under_way "$WORK/ka.out" "$KA" && under_way "$WORK/new.out" "$NEW"' \
  || fail "the clients did not finish a first request in 60 s"
drv swap 127.0.0.2 "$PORT" a b 200
[ "$DRV_LAST" = "swapped 200" ] || fail "not every swap was acknowledged: $DRV_LAST"
touch "$STOP"
wait "$KA" || fail "keep-alive client crashed: $(cat "$WORK/ka.err")"
wait "$NEW" || fail "new-connection client crashed: $(cat "$WORK/new.err")"
echo "keep-alive: $(tail -n 1 "$WORK/ka.out")"
echo "new connections: $(tail -n 1 "$WORK/new.out")"
read -r _ ka_n _ ka_fail _ ka_re _ _ < <(tail -n 1 "$WORK/ka.out")
read -r _ new_n _ new_fail _ _ _ new_certs < <(tail -n 1 "$WORK/new.out")
[ "$ka_n" -gt 0 ] && [ "$new_n" -gt 0 ] || fail "a client made no requests"
[ "$ka_fail" = 0 ] || fail "$ka_fail keep-alive requests failed: $(head -5 "$WORK/ka.err")"
[ "$ka_re" = 0 ] || fail "the keep-alive connection was dropped $ka_re times"
[ "$new_fail" = 0 ] || fail "$new_fail new-connection requests failed: $(head -5 "$WORK/new.err")"
pass "200 swaps under load: $ka_n keep-alive + $new_n new-connection requests, zero failures, zero reconnects ($new_certs distinct certificates seen)"

# The 200th swap (index 199) assigned b.
fp=$(openssl s_client -connect "127.0.0.2:$PORT" 2>/dev/null </dev/null | openssl x509 -noout -fingerprint -sha256 | cut -d= -f2)
[ "$fp" = "$(fingerprint "$WORK/b.pem")" ] || fail "after the swaps, 127.0.0.2 does not serve the last certificate"
pass "after the last swap the next handshake gets the last certificate"
