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

# certd itself: key bytes only in its secure heap (OpenSSL's, MADV_DONTDUMP) and in wiped buffers,
# after create (every type above), a CSR, an import of every format, exports with and without a
# passphrase, and the terminator snapshots above. certd wipes every heap block it frees
# (daemon/wipe_on_free.cpp); CERTD_WIPE_ON_FREE=0 turns that off, and then this scan must find
# the stray copies (the control).
PASS="custody-pass-$$"
printf '%s' "$PASS" > "$WORK/pass"
mkdir -p "$WORK/in"
imports=()
gen() { # NAME ALGORITHM-ARGS...: a key and a self-signed certificate for it
  local n=$1; shift
  openssl req -x509 -newkey "$@" -nodes -keyout "$WORK/in/$n.key" -out "$WORK/in/$n.crt" -subj "/CN=$n.test" -days 5 2>/dev/null
  imports+=(--key-pem "$WORK/in/$n.key")
}
gen pem ec -pkeyopt ec_paramgen_curve:P-256
cat "$WORK/in/pem.crt" "$WORK/in/pem.key" > "$WORK/in/pem.pem"
gen der rsa:2048
openssl pkey -in "$WORK/in/der.key" -outform DER -out "$WORK/in/der.p8"
gen enc ec -pkeyopt ec_paramgen_curve:P-384
openssl pkcs8 -topk8 -in "$WORK/in/enc.key" -passout file:"$WORK/pass" -out "$WORK/in/enc.p8.pem"
gen trad rsa:2048
openssl rsa -in "$WORK/in/trad.key" -traditional -out "$WORK/in/trad.rsa.pem" 2>/dev/null
gen p12 ec -pkeyopt ec_paramgen_curve:P-256
openssl pkcs12 -export -in "$WORK/in/p12.crt" -inkey "$WORK/in/p12.key" -passout file:"$WORK/pass" -out "$WORK/in/p12.p12"
gen p12open ed25519
openssl pkcs12 -export -in "$WORK/in/p12open.crt" -inkey "$WORK/in/p12open.key" -passout pass: -out "$WORK/in/p12open.p12"
exercise() { # every path a key takes through certd
  "$CERTCTL" import "$WORK/in/pem.pem" >/dev/null
  "$CERTCTL" import "$WORK/in/der.p8" >/dev/null
  "$CERTCTL" import "$WORK/in/enc.p8.pem" --passphrase-file "$WORK/pass" >/dev/null
  "$CERTCTL" import "$WORK/in/trad.rsa.pem" >/dev/null
  "$CERTCTL" import "$WORK/in/p12.p12" --passphrase-file "$WORK/pass" >/dev/null
  "$CERTCTL" import "$WORK/in/p12open.p12" >/dev/null 2>&1 || "$CERTCTL" import "$WORK/in/p12open.p12" --passphrase-file /dev/null >/dev/null
  "$CERTCTL" create-request --name "csr-$1" --key-type ec-p256 --cn csr.test >/dev/null
  for t in ec-p256 rsa2048; do
    "$CERTCTL" export "k-$t" --key --format pkcs8 --no-cert -o "$WORK/out-$1-$t.p8" >/dev/null
    "$CERTCTL" export "k-$t" --key --format pkcs12 --passphrase-file "$WORK/pass" -o "$WORK/out-$1-$t.p12" >/dev/null
    "$CERTCTL" export "k-$t" --key --format pem --passphrase-file "$WORK/pass" -o "$WORK/out-$1-$t.pem" >/dev/null
  done
}
if sanitized "$CERTD"; then
  echo "ASan build: certd's own scan skipped (ASan owns malloc: no wipe-on-free, and its quarantine keeps freed blocks)"
else
  exercise 1
  set +e
  python3 "$SCAN" --pid "$CERTD_PID" --exclude-secure-heap "${keys[@]}" "${imports[@]}" --literal "$PASS" \
    > "$WORK/certd-heap.txt"
  rc=$?
  set -e
  [ "$rc" = 0 ] || fail "certd holds key bytes outside its secure heap: $(grep -E '^HIT|^TOTAL' "$WORK/certd-heap.txt" | head -20)"
  pass "certd, outside its secure heap $(grep ^excluded "$WORK/certd-heap.txt" | head -1 | cut -d' ' -f4-): $(grep ^TOTAL "$WORK/certd-heap.txt") after create, CSR, 6 import formats, exports with and without passphrase, snapshots"
  stop_certd
  CERTD_WIPE_ON_FREE=0 start_certd
  "$CERTCTL" assign 127.0.0.2 "k-${TYPES[0]}" >/dev/null 2>&1
  exercise 2
  set +e
  python3 "$SCAN" --pid "$CERTD_PID" --exclude-secure-heap "${keys[@]}" "${imports[@]}" > "$WORK/certd-nowipe.txt"
  rc=$?
  set -e
  [ "$rc" = 1 ] || fail "control: without wipe-on-free the scan should find stray copies: $(tail -1 "$WORK/certd-nowipe.txt")"
  pass "control: with CERTD_WIPE_ON_FREE=0 the same paths leave stray copies in certd's heap ($(grep ^TOTAL "$WORK/certd-nowipe.txt"))"
fi

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
