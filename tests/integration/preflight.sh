#!/usr/bin/env bash
# Pre-flight on binding changes through certctl and busctl: an expired
# certificate is refused (CheckFailed) unless forced, and the refusal changes
# nothing; a renewal that drops a name is refused unless forced; the warnings
# of a forced call come back to the caller.
. "$(dirname "$0")/lifecycle_lib.sh"
start_bus
start_certd
M=(org.certd1 /org/certd1 org.certd1.Manager)
"$MAKE_TEST_CERT" expired.example.com -60 "$WORK/expired.pem" -864000     # valid 10 days ago to 1 minute ago
"$MAKE_TEST_CERT" other.example.com 864000 "$WORK/other.pem"
busctl_import "$WORK/expired.pem" >/dev/null
busctl_import "$WORK/other.pem" >/dev/null
expired=$(cert_path "$WORK/expired.pem"); other=$(cert_path "$WORK/other.pem")

before=$(snapshot)
set +e
C assign 127.0.0.2 expired.example.com 2>"$WORK/err"; rc=$?
set -e
{ [ $rc = 1 ] && grep -q "CheckFailed" "$WORK/err" && grep -q "expired" "$WORK/err"; } \
  || fail "certctl assign of an expired certificate: rc $rc, $(cat "$WORK/err")"
[ "$(err_name /org/certd1 org.certd1.Manager.Assign 127.0.0.2 "$expired" "{}")" = org.certd1.Error.CheckFailed ] \
  || fail "busctl-side Assign of an expired certificate is not CheckFailed"
expect_unchanged "$before" "refused Assign"
out=$(C assign 127.0.0.2 expired.example.com --force 2>&1) || fail "certctl assign --force: $out"
grep -q "expired" <<<"$out" || fail "forced assign did not show the expired warning: $out"
[ "$(prop "$(find_object address org.certd1.Address Address '"127.0.0.2"')" org.certd1.Address Certificate)" = "\"$expired\"" ] \
  || fail "forced assign did not bind"
pass "expired certificate: CheckFailed unless --force; warning shown when forced"

# Renewal that drops expired.example.com: refused unless forced, through busctl then certctl.
before=$(snapshot)
[ "$(err_name /org/certd1 org.certd1.Manager.ReplaceCertificate "$expired" "$other" "{}")" = org.certd1.Error.CheckFailed ] \
  || fail "ReplaceCertificate dropping a SAN is not CheckFailed"
set +e
C replace expired.example.com other.example.com 2>"$WORK/err"; rc=$?
set -e
{ [ $rc = 1 ] && grep -q "san-not-covered" "$WORK/err"; } || fail "certctl replace: rc $rc, $(cat "$WORK/err")"
expect_unchanged "$before" "refused ReplaceCertificate"
out=$(busctl --system call "${M[@]}" ReplaceCertificate 'ooa{sv}' "$expired" "$other" 1 force b true)
grep -q '"127.0.0.2"' <<<"$out" || fail "forced ReplaceCertificate moved nothing: $out"
pass "renewal dropping a name: CheckFailed unless force (busctl and certctl)"
