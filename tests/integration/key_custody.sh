#!/usr/bin/env bash
# Key custody (issue 13): certd-tls, the process that parses what the network sends, holds no
# private key. For every key type certd creates (RSA 2048/3072/4096, P-256, P-384, Ed25519):
# assign it, 200 full handshakes, swaps between two addresses, an Assign with flush; then
# certd-tls's whole memory is searched (memscan.py) for each key's secret values (the EC
# scalar, RSA d, p and q, the EdDSA seed, in both byte orders and in pieces): zero hits.
# Controls, so that the search is known to find what it looks for: certd itself (the key
# holder) shows the keys it signs with; and a certd-tls given the keys (--terminator-holds-keys,
# the benchmark baseline) shows them.
. "$(dirname "$0")/lib.sh"
start_bus
start_certd
M=(org.certd1 /org/certd1 org.certd1.Manager)
SCAN="$(dirname "$0")/memscan.py"
TYPES=(rsa2048 rsa3072 rsa4096 ec-p256 ec-p384 ed25519)

# N full handshakes on ADDRESS (no resumption): prints how many completed.
handshakes() {
  python3 - "$1" "$PORT" "$2" <<'PY'
import socket, ssl, sys
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
done = 0
for _ in range(n):
    ctx = ssl.create_default_context()  # a new context each time: no session to resume
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        ctx.wrap_socket(socket.create_connection((host, port), timeout=30), server_hostname="k.test").close()
        done += 1
    except (OSError, ssl.SSLError) as e:
        print("handshake failed:", e, file=sys.stderr)
print(done)
PY
}
tls_pid() { pgrep -P "$CERTD_PID" -x certd-tls; }

for t in "${TYPES[@]}"; do
  "$CERTCTL" create-self-signed --name "k-$t" --key-type "$t" --cn "$t.test" --san IP:127.0.0.2 >/dev/null 2>&1
  "$CERTCTL" export "k-$t" --key --format pkcs8 --no-cert -o "$WORK/$t.key" >/dev/null
done
previous=
for t in "${TYPES[@]}"; do
  "$CERTCTL" assign 127.0.0.2 "k-$t" >/dev/null 2>&1
  [ -n "$previous" ] && "$CERTCTL" assign 127.0.0.3 "k-$previous" >/dev/null 2>&1
  n=$(handshakes 127.0.0.2 200)
  [ "$n" = 200 ] || fail "$t: $n of 200 handshakes completed"
  previous=$t
done
# A flush (key compromise: ticket keys and the session cache dropped) and a swap back.
last=$(find_object certificate org.certd1.Certificate FriendlyName "\"k-${TYPES[0]}\"")
busctl --system call "${M[@]}" Assign 'soa{sv}' 127.0.0.2 "$last" 1 flush b true >/dev/null
[ "$(handshakes 127.0.0.2 20)" = 20 ] || fail "no handshakes after the flush"
pass "6 key types assigned in turn, 200 handshakes each, swaps and a flush, all served"

keys=()
for t in "${TYPES[@]}"; do keys+=(--key-pem "$WORK/$t.key"); done
set +e
python3 "$SCAN" --pid "$(tls_pid)" "${keys[@]}" > "$WORK/tls-scan.txt"
rc=$?
set -e
[ "$rc" = 0 ] || fail "certd-tls's memory holds key material (exit $rc): $(grep -E '^HIT|^TOTAL' "$WORK/tls-scan.txt" | head -20)"
pass "certd-tls: $(grep ^scanned "$WORK/tls-scan.txt"), $(grep ^TOTAL "$WORK/tls-scan.txt") (6 keys, 2 byte orders, pieces)"

# Control 1: the key holder has the keys bound now (rsa2048 on .2, ed25519 on .3) in memory.
for t in rsa2048 ed25519; do
  set +e
  python3 "$SCAN" --pid "$CERTD_PID" --key-pem "$WORK/$t.key" > "$WORK/certd-scan-$t.txt"
  rc=$?
  set -e
  [ "$rc" = 1 ] || fail "the scan does not find the $t key in certd, which signs with it: $(tail -2 "$WORK/certd-scan-$t.txt")"
done
pass "control: the same scan finds the bound keys in certd (the signer): $(grep -h ^TOTAL "$WORK"/certd-scan-*.txt | tr '\n' ' ')"

# Control 2: a terminator that is given the key (the old design) is caught by this test.
stop_certd
CERTD_ARGS=(--terminator-holds-keys)
start_certd
[ "$(handshakes 127.0.0.2 5)" = 5 ] || fail "--terminator-holds-keys serves nothing"
set +e
python3 "$SCAN" --pid "$(tls_pid)" --key-pem "$WORK/${TYPES[0]}.key" > "$WORK/holds-scan.txt"
rc=$?
set -e
[ "$rc" = 1 ] || fail "a certd-tls that holds the key was not caught: $(tail -2 "$WORK/holds-scan.txt")"
pass "control: with --terminator-holds-keys the scan finds the key in certd-tls ($(grep ^TOTAL "$WORK/holds-scan.txt"))"
stop_certd
