#!/usr/bin/env bash
# Pre-flight Check (issue 5) through certctl check and busctl Check: each finding
# with its severity, stable code and a text: hostname-not-covered (RFC 6125: a
# wildcard is the whole leftmost label and matches exactly one label),
# chain-incomplete, expired, not-yet-valid, expiring-soon, no-private-key,
# weak-key, sha1-signature; a sound certificate gets none of them. Then
# certctl list --expiring 30d lists only the certificates expiring within 30 days.
. "$(dirname "$0")/lifecycle_lib.sh"
start_bus
start_certd
day=86400

# ---------------------------------------------------------------- the certificates
C create-self-signed --name wild --key-type ec-p256 --cn www.example.com \
  --san DNS:www.example.com --san '*.example.com' >/dev/null
C create-self-signed --name sound --key-type ec-p256 --cn sound.example.com --days 365 >/dev/null
"$MAKE_TEST_PKI" "$WORK/pki" incomplete "" ""
busctl_import "$WORK/pki/leaf.pem" >/dev/null                      # no key, issuer missing
"$MAKE_TEST_CERT" expired.example.com -60 "$WORK/expired.pem"      # expired a minute ago
"$MAKE_TEST_CERT" future.example.com $((20 * day)) "$WORK/future.pem" $((2 * day)) # valid from the day after tomorrow
"$MAKE_TEST_CERT" soon.example.com $((10 * day)) "$WORK/soon.pem"
"$MAKE_TEST_CERT" soon29.example.com $((29 * day)) "$WORK/soon29.pem"
"$MAKE_TEST_CERT" late31.example.com $((31 * day)) "$WORK/late31.pem"
# Server certificates (CA:FALSE; openssl req -x509 alone would make a CA, whose self-signature
# certd rightly ignores) with a 1024-bit RSA key, and signed with SHA-1.
# server_cert NAME DIGEST KEYGEN_ARGS...
server_cert() {
  local name=$1 digest=$2; shift 2
  openssl req -new -newkey "$@" -nodes -keyout "$WORK/$name.key" -out "$WORK/$name.csr" \
    -subj "/CN=$name.example.com" 2>/dev/null
  printf 'basicConstraints=critical,CA:FALSE\nsubjectAltName=DNS:%s.example.com\nextendedKeyUsage=serverAuth\n' \
    "$name" > "$WORK/$name.ext"
  openssl x509 -req -in "$WORK/$name.csr" -signkey "$WORK/$name.key" "-$digest" -days 200 \
    -extfile "$WORK/$name.ext" -out "$WORK/$name.crt" 2>/dev/null
}
server_cert weak sha256 rsa:1024
server_cert sha1 sha1 ec -pkeyopt ec_paramgen_curve:P-256
openssl x509 -in "$WORK/weak.crt" -noout -text | grep -q "Public-Key: (1024 bit)" || fail "test setup: weak key not 1024 bits"
openssl x509 -in "$WORK/sha1.crt" -noout -text | grep -q "Signature Algorithm: ecdsa-with-SHA1" || fail "test setup: not SHA-1"
for f in weak sha1; do openssl x509 -in "$WORK/$f.crt" -noout -ext basicConstraints | grep -q "CA:FALSE" || fail "test setup: $f is a CA"; done
cat "$WORK/weak.crt" "$WORK/weak.key" > "$WORK/weak.pem"
cat "$WORK/sha1.crt" "$WORK/sha1.key" > "$WORK/sha1.pem"
for f in expired future soon soon29 late31 weak sha1; do C import "$WORK/$f.pem" >/dev/null 2>&1 || fail "import $f.pem"; done

# findings CERT HOST...: "severity code" lines (error and warning only, without root-changed), sorted, from certctl --json;
# also checks that busctl Check gives the same findings and every finding has a text.
findings() {
  local cert=$1 path; shift
  C --json check "$cert" "$@" > "$WORK/check.json" || fail "certctl check $cert: exit $?"
  path=$(C --json show "$cert" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Path"])')
  busctl --system --json=short call org.certd1 "$path" org.certd1.Certificate Check as $# "$@" > "$WORK/check.bus.json" ||
    fail "busctl Check $cert"
  python3 - "$WORK/check.json" "$WORK/check.bus.json" <<'PY' || fail "certctl check and busctl Check disagree for $cert"
import json, sys
cli = [(f["Severity"], f["Code"], f["Text"]) for f in json.load(open(sys.argv[1]))]
bus = [tuple(f) for f in json.load(open(sys.argv[2]))["data"][0]]
assert sorted(cli) == sorted(bus), (cli, bus)
for sev, code, text in cli:
    assert sev in ("error", "warning", "info"), sev
    assert code and text.strip(), (code, text)
# root-changed (the address would get another root CA) is the pre-flight of Assign,
# tested with the binding rules; here every unassigned certificate would draw it.
for sev, code, text in sorted(cli):
    if sev != "info" and code != "root-changed":
        print(sev, code)
PY
}
# expect CERT "EXPECTED LINES" HOST...
expect() {
  local cert=$1 want got; want=$(printf '%s\n' "$2" | sed '/^$/d' | LC_ALL=C sort); shift 2
  got=$(findings "$cert" "$@" | LC_ALL=C sort)
  [ "$got" = "$want" ] || fail "check $cert $*: expected [$(echo $want)], got [$(echo $got)]"
}

# ---------------------------------------------------------------- host names (RFC 6125)
expect wild "" www.example.com a.example.com A.Example.COM
expect wild "error hostname-not-covered" example.com
expect wild "error hostname-not-covered" a.b.example.com
expect wild "error hostname-not-covered" www.example.org
expect wild "error hostname-not-covered
error hostname-not-covered" example.com a.b.example.com a.example.com
python3 -c 'import json,sys; t=[f["Text"] for f in json.load(open(sys.argv[1]))]; assert any("a.b.example.com" in x for x in t), t' \
  "$WORK/check.json" || fail "the hostname-not-covered text does not name the host"
# The table form: Severity, Code, Text columns.
C check wild example.com > "$WORK/check.txt"
head -1 "$WORK/check.txt" | grep -q "Severity.*Code.*Text" || fail "certctl check has no table header"
grep -q "error.*hostname-not-covered.*example.com" "$WORK/check.txt" || fail "certctl check table: $(cat "$WORK/check.txt")"
C check wild a.example.com > "$WORK/check.txt"
grep -q "hostname-not-covered" "$WORK/check.txt" && fail "certctl check of a covered host: $(cat "$WORK/check.txt")"
pass "hostname-not-covered: *.example.com covers a.example.com only, not example.com nor a.b.example.com"

# ---------------------------------------------------------------- each certificate finding
expect sound ""
expect sound "" sound.example.com
expect incomplete.example.com "warning chain-incomplete
error no-private-key" incomplete.example.com
expect expired.example.com "error expired"
# Not yet valid takes precedence over expiring-soon (daemon/pki/chain.cpp: one validity finding).
expect future.example.com "error not-yet-valid"
expect soon.example.com "warning expiring-soon"
expect soon29.example.com "warning expiring-soon"
expect late31.example.com ""
expect weak.example.com "warning weak-key" weak.example.com
expect sha1.example.com "warning sha1-signature" sha1.example.com
pass "Check: chain-incomplete, expired, not-yet-valid, expiring-soon, no-private-key, weak-key, sha1-signature"

# ---------------------------------------------------------------- list --expiring
C --json list --expiring 30d > "$WORK/expiring.json"
python3 - "$WORK/expiring.json" <<'PY' || fail "list --expiring 30d: $(cat "$WORK/expiring.json")"
import json, sys
names = [c["FriendlyName"] for c in json.load(open(sys.argv[1]))]
for want in ("soon.example.com", "soon29.example.com", "future.example.com"):
    assert want in names, ("missing", want, names)
for not_want in ("late31.example.com", "wild", "sound", "Appliance", "weak.example.com", "sha1.example.com",
                 "incomplete.example.com"):
    assert not_want not in names, ("listed", not_want, names)
# soonest first
assert names.index("soon.example.com") < names.index("future.example.com") < names.index("soon29.example.com"), names
PY
C list --expiring 30d > "$WORK/expiring.txt"
grep -q "soon29.example.com" "$WORK/expiring.txt" || fail "list --expiring table lacks soon29"
grep -q "late31.example.com" "$WORK/expiring.txt" && fail "list --expiring table lists late31"
C list | grep -q "late31.example.com" || fail "plain list lacks late31 (so the filter test proves nothing)"
C list --expiring 12h | grep -q "soon.example.com" && fail "list --expiring 12h lists a 10-day certificate"
pass "certctl list --expiring 30d lists only those expiring within 30 days, soonest first"
echo "lifecycle check: all checks passed"
