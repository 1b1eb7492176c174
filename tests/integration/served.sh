#!/usr/bin/env bash
# certd and its terminator together (issues 4 and 5): what an address serves is
# what the bus says. A leaf with an incomplete chain is served alone; FetchIssuer
# completes the chain from a loopback HTTP server and the terminator then sends
# it whole. A renewal (same key, re-signed) moved with ReplaceCertificate while a
# bounded client loop keeps handshaking: no handshake fails, and the next one
# after the reply gets the renewed certificate. SIGKILL of certd-tls: certd
# restarts it and the addresses serve again with no operator action.
. "$(dirname "$0")/lifecycle_lib.sh"
start_bus
start_certd
start_http
base="http://127.0.0.1:$HTTP_PORT"
M=(org.certd1 /org/certd1 org.certd1.Manager)
served_fp() {   # served_fp ADDRESS: SHA-256 fingerprint (lower hex) of the certificate served there
  openssl s_client -connect "$1:$PORT" -servername x </dev/null 2>/dev/null \
    | openssl x509 -noout -fingerprint -sha256 | cut -d= -f2 | tr -d : | tr 'A-F' 'a-f'
}
served_count() {  # certificates the address sends in its handshake
  openssl s_client -connect "$1:$PORT" -showcerts </dev/null 2>/dev/null | grep -c "BEGIN CERTIFICATE" || true
}
fp_of() { cprop "$1" FingerprintSHA256 | tr -d '"'; }

# The chain: leaf alone, then completed by FetchIssuer, served whole.
mkdir -p "$HTTP_ROOT/p"
"$MAKE_TEST_PKI" "$WORK/p" p "$base/p/issuer.der" "$base/p/root.p7c"
openssl x509 -in "$WORK/p/intermediate.pem" -outform DER -out "$HTTP_ROOT/p/issuer.der"
openssl crl2pkcs7 -nocrl -certfile "$WORK/p/root.pem" -outform DER -out "$HTTP_ROOT/p/root.p7c"
cat "$WORK/p/leaf.pem" "$WORK/p/leaf.key" > "$WORK/p/leaf+key.pem"
busctl_import "$WORK/p/leaf+key.pem" >/dev/null
leaf=$(cert_path "$WORK/p/leaf.pem")
busctl --system call "${M[@]}" Assign 'soa{sv}' 127.0.0.2 "$leaf" 0 >/dev/null
[ "$(served_fp 127.0.0.2)" = "$(fp_of "$leaf")" ] || fail "127.0.0.2 does not serve the assigned certificate"
[ "$(served_count 127.0.0.2)" = 1 ] || fail "an incomplete chain should be served as the leaf alone"
busctl --system call org.certd1 "$leaf" org.certd1.Certificate FetchIssuer >/dev/null
[ "$(served_count 127.0.0.2)" = 3 ] || fail "after FetchIssuer 127.0.0.2 sends $(served_count 127.0.0.2) certificates, not 3"
verify=$(openssl s_client -connect 127.0.0.2:$PORT -CAfile "$WORK/p/root.pem" -verify_return_error </dev/null 2>&1 || true)
grep -q "Verify return code: 0 (ok)" <<<"$verify" || fail "the served chain does not verify against the root"
[ "$(served_fp 127.0.0.3)" = "$(fp_of "$(prop /org/certd1 org.certd1.Manager FactoryCertificate | tr -d '"')")" ] \
  || fail "127.0.0.3 does not serve the factory certificate"
pass "FetchIssuer completes the chain and the terminator serves it whole"

# Renewal under load: a CSR, signed twice by a CA (same key), moved with ReplaceCertificate.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$WORK/ca.key" -out "$WORK/ca.pem" \
  -days 30 -subj "/CN=Renewal CA" -addext basicConstraints=critical,CA:TRUE -addext keyUsage=keyCertSign 2>/dev/null
req=$(busctl --system call "${M[@]}" CreateRequest 'a{sv}' 4 key_type s ec-p256 common_name s renew.example.com \
  friendly_name s renew subject_alt_names as 1 DNS:renew.example.com | cut -d'"' -f2)
busctl --system get-property org.certd1 "$req" org.certd1.Request RequestPem --json=short \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"], end="")' > "$WORK/renew.csr"
sign() { openssl x509 -req -in "$WORK/renew.csr" -CA "$WORK/ca.pem" -CAkey "$WORK/ca.key" -CAcreateserial \
  -days "$1" -copy_extensions copy -out "$2" 2>/dev/null; }
sign 10 "$WORK/old.pem"; sign 40 "$WORK/new.pem"
busctl_import "$WORK/old.pem" >/dev/null; busctl_import "$WORK/new.pem" >/dev/null
busctl_import "$WORK/ca.pem" >/dev/null
old=$(cert_path "$WORK/old.pem"); new=$(cert_path "$WORK/new.pem")
[ "$(cprop "$old" Key)" = "$(cprop "$new" Key)" ] || fail "renewed certificate not linked to the same key"
busctl --system call "${M[@]}" Assign 'soa{sv}' 127.0.0.3 "$old" 0 >/dev/null
[ "$(served_fp 127.0.0.3)" = "$(fp_of "$old")" ] || fail "127.0.0.3 does not serve the old certificate"
# A client loop, each handshake must succeed: it runs until the test creates STOP (bounded: at
# most 100,000 handshakes or 240 s), then makes one last handshake, which starts after
# ReplaceCertificate has replied.
STOP="$WORK/stop-loop"
python3 - "$PORT" "$WORK/ca.pem" "$STOP" > "$WORK/loop.out" 2>&1 <<'PY' &
import hashlib, os, socket, ssl, sys, time
port, ca, stop = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ctx = ssl.create_default_context(cafile=ca)
ok = failed = 0
seen = []
end = time.monotonic() + 240
last = False
while not last and ok + failed < 100000 and time.monotonic() < end:
    last = os.path.exists(stop)
    try:
        with socket.create_connection(("127.0.0.3", port), timeout=60) as s:
            with ctx.wrap_socket(s, server_hostname="renew.example.com") as t:
                fp = hashlib.sha256(t.getpeercert(True)).hexdigest()
                if not seen or seen[-1] != fp:
                    seen.append(fp)
        ok += 1
        if ok == 1:
            print("first handshake done", flush=True)
    except Exception as e:
        failed += 1
        print("handshake failed:", e)
print("served in order:", " ".join(seen))
print(f"handshakes ok={ok} failed={failed}")
sys.exit(1 if failed else 0)
PY
LOOP=$!
# Replace only once the loop has had the old certificate (python may start slowly on a busy machine).
wait_until 60 'grep -q "first handshake done" "$WORK/loop.out" || ! kill -0 $LOOP 2>/dev/null'
grep -q "first handshake done" "$WORK/loop.out" || fail "the client loop made no handshake: $(cat "$WORK/loop.out")"
out=$(busctl --system call "${M[@]}" ReplaceCertificate 'ooa{sv}' "$old" "$new" 0)
grep -q '"127.0.0.3"' <<<"$out" || fail "ReplaceCertificate did not report 127.0.0.3: $out"
[ "$(served_fp 127.0.0.3)" = "$(fp_of "$new")" ] || fail "the handshake after ReplaceCertificate did not get the renewed certificate"
touch "$STOP"
wait $LOOP || fail "handshakes failed during the renewal: $(tail -3 "$WORK/loop.out")"
grep -q "failed=0" "$WORK/loop.out" || fail "loop: $(cat "$WORK/loop.out")"
# The loop ran across the swap: it saw the old certificate, then the renewed one.
grep -q "served in order: $(fp_of "$old") $(fp_of "$new")$" "$WORK/loop.out" \
  || fail "the loop did not see old then new: $(grep 'served in order' "$WORK/loop.out")"
pass "renewal moved with no failed handshake ($(tail -1 "$WORK/loop.out"))"

# The terminator dies: certd restarts it, the addresses serve again.
tls_pid=$(pgrep -P "$CERTD_PID" certd-tls | head -1)
[ -n "$tls_pid" ] || fail "no certd-tls child of certd"
[ "$(ps -o uid= -p "$tls_pid" | tr -d ' ')" != 0 ] || fail "the terminator runs as root"
kill -KILL "$tls_pid"
serves_again() {
  new_pid=$(pgrep -P "$CERTD_PID" certd-tls | head -1 || true)
  [ -n "$new_pid" ] && [ "$new_pid" != "$tls_pid" ] && [ "$(served_fp 127.0.0.3)" = "$(fp_of "$new")" ]
}
wait_until 60 serves_again || true # the checks below say what is missing
[ "$(served_fp 127.0.0.3)" = "$(fp_of "$new")" ] || fail "127.0.0.3 does not serve again after the terminator died"
[ "$(served_count 127.0.0.2)" = 3 ] || fail "127.0.0.2 lost its chain after the restart"
[ "$(prop /org/certd1 org.certd1.Manager TerminatorState)" = '"running"' ] || fail "TerminatorState not running"
pass "certd restarted the killed terminator; every address serves again"
