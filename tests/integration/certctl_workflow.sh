#!/usr/bin/env bash
# The self-signed and export workflows driven only by certctl, its exit codes,
# and authorisation: a caller that is neither root nor in the admin group (run
# with setpriv as nobody) is refused every mutation with AccessDenied and can
# still read; an admin-group member without the export right cannot take a key.
. "$(dirname "$0")/lib.sh"
start_bus
start_certd
C() { "$CERTCTL" "$@"; }

# Self-signed, listed, assigned, exported.
C create-self-signed --name web --key-type ec-p256 --cn www.example.com --country DE \
  --san DNS:www.example.com --san DNS:example.com >/dev/null || fail "create-self-signed"
C list | grep -q "web" || fail "list does not show the new certificate"
C list | head -1 | grep -q "Friendly Name" || fail "list has no table header"
C --json list | python3 -c 'import json,sys; d=json.load(sys.stdin); \
  assert any(c["FriendlyName"]=="web" and c["HasPrivateKey"] for c in d), d' || fail "list --json"
C assign 127.0.0.2 web || fail "assign by friendly name"
C --json addresses | python3 -c 'import json,sys; d=json.load(sys.stdin); \
  assert [a for a in d if a["Address"]=="127.0.0.2"][0]["Certificate"].startswith("/org/certd1/certificate/"), d' \
  || fail "addresses --json"
C show web | grep -q "127.0.0.2" || fail "show does not list the address"
printf 'export secret' > "$WORK/pass"
C export web --key --chain --format pkcs12 --passphrase-file "$WORK/pass" -o "$WORK/web.p12" || fail "export"
[ "$(stat -c %a "$WORK/web.p12")" = 600 ] || fail "a file with a key is not 0600"
openssl pkcs12 -in "$WORK/web.p12" -nodes -passin file:"$WORK/pass" 2>/dev/null | grep -q "BEGIN PRIVATE KEY" \
  || fail "openssl cannot read the exported PKCS#12"
C export web --format pem -o "$WORK/web.pem"
openssl x509 -in "$WORK/web.pem" -noout -ext subjectAltName | grep -q "DNS:example.com" || fail "PEM export"
C check web www.example.com other.example.org > "$WORK/check" || true
grep -q "hostname-not-covered" "$WORK/check" || fail "check did not report the uncovered host"
C status | grep -q "127.0.0.2" || fail "status"
pass "certctl: create, list, assign, show, export, check, status"

# Exit codes: refused 1 (with the error's short name), usage 2, unreachable 3.
set +e
C assign 127.0.0.2 no-such-cert 2>"$WORK/err"; rc=$?
[ $rc = 1 ] && grep -q "NotFound" "$WORK/err" || fail "unknown certificate: rc $rc, $(cat "$WORK/err")"
C assign 2>/dev/null; [ $? = 2 ] || fail "usage error is not exit 2"
DBUS_SYSTEM_BUS_ADDRESS=unix:path=/nonexistent C status 2>/dev/null; [ $? = 3 ] || fail "unreachable is not exit 3"
set -e
pass "certctl exit codes"

# Authorisation. nobody is neither root nor in certd-admin.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$WORK/k.pem" -out "$WORK/c.pem" \
  -subj /CN=imp.example.com -days 5 2>/dev/null
chmod 644 "$WORK"/*.pem "$WORK/pass"
C create-request --name pend --key-type ec-p256 --cn pend.example.com >/dev/null
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$CERTCTL" "$@"; }
snapshot() { (cd "$WORK/state" && find . -type f | sort | xargs sha256sum); }
before=$(snapshot)
key=$(C --json show web | python3 -c 'import json,sys; print(json.load(sys.stdin)["Key"])')
refused=0
while IFS= read -r cmd; do
  set +e
  eval "as_nobody $cmd" >/dev/null 2>"$WORK/err"; rc=$?
  set -e
  { [ $rc = 1 ] && grep -q AccessDenied "$WORK/err"; } || fail "as nobody, '$cmd' gave rc $rc: $(cat "$WORK/err")"
  refused=$((refused + 1))
done <<CMDS
create-self-signed --name x --key-type ec-p256 --cn x.example.com
create-request --name y --key-type ec-p256 --cn y.example.com
import $WORK/c.pem
assign 127.0.0.3 web
replace web Appliance
set-addresses web 127.0.0.2 127.0.0.3
rename web hijacked
set-chain web automatic
fetch-issuer web
delete web
delete pend
delete $key
export web --key --format pkcs12 --passphrase-file $WORK/pass -o /tmp/certd-nobody-$$.p12
CMDS
[ "$before" = "$(snapshot)" ] || fail "a refused call changed the store"
as_nobody list | grep -q web || fail "nobody cannot read the list"
as_nobody status >/dev/null || fail "nobody cannot read the status"
as_nobody check web www.example.com >/dev/null || fail "nobody cannot run check"
as_nobody export web --format der -o /dev/null || fail "nobody cannot export a certificate"
pass "non-admin caller: $refused mutations refused with AccessDenied, state unchanged, reads allowed"

# An admin-group member (nobody's primary group nogroup) may manage but not export keys.
stop_certd
start_certd "admin_group: nogroup"
as_nobody rename web "renamed by admin" || fail "admin-group member could not rename"
C show web 2>/dev/null | grep -q "renamed by admin" || C list | grep -q "renamed by admin" || fail "rename lost"
set +e
as_nobody export "renamed by admin" --key --format pkcs12 --passphrase-file "$WORK/pass" -o /dev/null 2>"$WORK/err"; rc=$?
set -e
{ [ $rc = 1 ] && grep -q AccessDenied "$WORK/err"; } || fail "admin without export right exported a key: rc $rc"
grep -q "CERTD_ACTION=ExportPrivateKey.*CERTD_CALLER_UID=65534.*AccessDenied" "$WORK/certd.log" \
  || fail "refused export not audited"
[ "$(stat -c %a /dev/null)" = 666 ] || fail "an export changed the mode of /dev/null"
C export "renamed by admin" --key --format pkcs12 --passphrase-file "$WORK/pass" -o /dev/null >/dev/null
[ "$(stat -c %a /dev/null)" = 666 ] || fail "exporting a key to /dev/null narrowed its mode"
pass "admin-group member manages, cannot export a private key; refusal audited"
echo "certctl workflow: all checks passed"
