#!/usr/bin/env bash
# Private keys and passphrases stay where they belong (DESIGN §4, §5): after
# creating, importing (PKCS#12 with a passphrase, also a wrong one), exporting
# and assigning, the keys' secret bytes (PKCS#8 DER, its base64, the raw private
# scalar/exponent) and the passphrases appear in no file certd wrote other than
# the store's 0600 key files: not in its log, state.yaml, certificates or CSRs,
# and not in any error message a client received.
. "$(dirname "$0")/lib.sh"
start_bus
start_certd
PASS="hunter2-secret-pass-$$"
WRONG="wrong-secret-guess-$$"
C() { "$CERTCTL" "$@"; }
C create-self-signed --name web --key-type rsa2048 --cn web.example.com >/dev/null
C create-request --name req --key-type ec-p384 --cn req.example.com >/dev/null
mkdir -p "$WORK/out"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$WORK/out/imp.key" \
  -out "$WORK/out/imp.pem" -subj /CN=imp.example.com -days 5 2>/dev/null
openssl pkcs12 -export -in "$WORK/out/imp.pem" -inkey "$WORK/out/imp.key" -passout pass:"$PASS" -out "$WORK/out/imp.p12"
printf '%s' "$WRONG" > "$WORK/out/wrong"; printf '%s' "$PASS" > "$WORK/out/pass"
C import "$WORK/out/imp.p12" --passphrase-file "$WORK/out/wrong" 2> "$WORK/out/err1" && fail "wrong passphrase accepted"
C import "$WORK/out/imp.p12" --passphrase-file "$WORK/out/pass" >/dev/null
C assign 127.0.0.2 web >/dev/null
C export web --key --format pkcs12 --passphrase-file "$WORK/out/pass" -o "$WORK/out/web.p12" >/dev/null
set +e
C export web --key --format pkcs8 --no-cert --passphrase-file "$WORK/out/wrong" -o /dev/null >/dev/null 2>&1
set -e
# Key memory is locked and kept out of core dumps: certd and certd-tls each hold OpenSSL's
# secure heap, a mapping whose VmFlags carry both "lo" (mlock'ed) and "dd" (MADV_DONTDUMP).
# Under AddressSanitizer there is nothing to see: its mlock is a no-op and its own shadow
# memory is MADV_DONTDUMP too. The normal build's run of this test does the check.
if sanitized "$CERTD"; then
  echo "ASan build: secure heap check skipped (mlock is a no-op, ASan's shadow is MADV_DONTDUMP)"
else
  locked_dontdump_kb() {
    awk '/^Size:/ { kb = $2 }
         /^VmFlags:/ { if (index($0 " ", " lo ") && index($0 " ", " dd ")) total += kb }
         END { printf "%d\n", total }' "/proc/$1/smaps"
  }
  tls_pid=$(pgrep -P "$CERTD_PID" -x certd-tls)
  for who in "certd:$CERTD_PID" "certd-tls:$tls_pid"; do
    kb=$(locked_dontdump_kb "${who#*:}")
    [ "$kb" -ge 1024 ] || fail "${who%%:*} has ${kb} kB of locked, no-dump memory; expected its secure heap"
    echo "${who%%:*}: ${kb} kB locked and MADV_DONTDUMP (secure heap)"
  done
fi
stop_certd   # flush everything it would write

[ "$(stat -c %a "$WORK/state")" = 700 ] || fail "state directory is not 0700"
n=0
for k in "$WORK"/state/keys/*.key; do
  [ "$(stat -c %a "$k")" = 600 ] || fail "$k is not 0600"
  n=$((n + 1))
done
[ "$n" = 4 ] || fail "expected 4 key files (factory, web, req, imported), found $n"

python3 - "$WORK" "$PASS" "$WRONG" <<'PY' || fail "secret material found outside the key files"
import base64, glob, os, re, subprocess, sys
work, secrets = sys.argv[1], [s.encode() for s in sys.argv[2:]]
needles = list(secrets)
for path in glob.glob(os.path.join(work, "state/keys/*.key")):
    der = open(path, "rb").read()
    # The raw private value: RSA privateExponent / EC priv, from openssl's text dump.
    # (Not the whole DER: an EC PKCS#8 also carries the public point, which certificates hold.)
    text = subprocess.run(["openssl", "pkey", "-inform", "DER", "-in", path, "-noout", "-text"],
                          capture_output=True, text=True, check=True).stdout
    m = re.search(r"(privateExponent|priv):\s*\n((?:\s+[0-9a-f:]+\n)+)", text)
    raw = bytes.fromhex(re.sub(r"[\s:]", "", m.group(2))).lstrip(b"\0")
    needles += [raw[:24], raw.hex().encode()[:48]]
    # The same bytes as any base64 (PEM) of the key would show them: aligned to 3 bytes.
    at = der.find(raw[:24])
    start = (at // 3 + 1) * 3
    needles.append(base64.b64encode(der[start:start + 12]))
searched, found = 0, []
skip = {os.path.join(work, "out")}   # the test's own inputs and the authorised exports
for root, dirs, files in os.walk(work):
    if any(root.startswith(s) for s in skip):
        continue
    for f in files:
        p = os.path.join(root, f)
        if p.startswith(os.path.join(work, "state/keys/")) or not os.path.isfile(p):
            continue
        data = open(p, "rb").read()
        data += b"\n" + data.replace(b"\n", b"").replace(b"\r", b"")   # PEM lines joined
        searched += 1
        for n in needles:
            if n and n in data:
                found.append(p)
for f in ["err1"]:
    data = open(os.path.join(work, "out", f), "rb").read()
    searched += 1
    for n in secrets:
        if n in data:
            found.append("client error message " + f)
print(f"searched {searched} files for {len(needles)} secret patterns")
if found:
    print("FOUND in:", sorted(set(found)))
    sys.exit(1)
PY
grep -q "BadPassphrase" "$WORK/out/err1" || fail "wrong passphrase not reported as BadPassphrase: $(cat "$WORK/out/err1")"
grep -q "CERTD_ACTION=ExportPrivateKey" "$WORK/certd.log" || fail "key export not audited"
pass "no key material or passphrase outside the 0600 key files, logs or errors; exports audited"
