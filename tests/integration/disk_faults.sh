#!/usr/bin/env bash
# The state directory on a small tmpfs of the test's own: when it is full, or
# read-only, mutations fail with a named error, nothing stored is lost, and certd
# recovers by itself once space (or write access) returns.
. "$(dirname "$0")/lib.sh"
mkdir -p "$WORK/state"
mount -t tmpfs -o size=4m,mode=0700 certd-test "$WORK/state" || fail "cannot mount a tmpfs (needs root)"
trap 'kill "$CERTD_PID" 2>/dev/null; wait "$CERTD_PID" 2>/dev/null; umount "$WORK/state" 2>/dev/null; cleanup' EXIT
start_bus
start_certd
M=(org.certd1 /org/certd1 org.certd1.Manager)
create() { busctl --system call "${M[@]}" CreateSelfSigned 'a{sv}' 3 key_type s ec-p256 common_name s "$1" friendly_name s "$1"; }
create kept.example.com >/dev/null
snapshot() { (cd "$WORK/state" && find . -type f ! -name '.tmp-*' | LC_ALL=C sort | xargs sha256sum); }
count() { busctl --system call "${M[@]}" GetStatus | grep -o '"Certificates" u [0-9]*' | awk '{print $3}'; }

# Full: fill the filesystem, then every mutation fails, named, and changes nothing.
dd if=/dev/zero of="$WORK/state/filler" bs=64k 2>/dev/null || true
before=$(snapshot); n=$(count)
out=$(create full.example.com 2>&1) && fail "CreateSelfSigned succeeded on a full disk"
grep -qi "no space left" <<<"$out" || fail "full disk error unclear: $out"
[ "$(err_name /org/certd1 org.certd1.Manager.CreateSelfSigned "{'key_type': <'ec-p256'>, 'common_name': <'n.example.com'>}")" \
  = org.certd1.Error.Internal ] || fail "full disk is not reported as org.certd1.Error.Internal"
[ "$(snapshot)" = "$before" ] || fail "a failed mutation changed the stored files"
[ "$(count)" = "$n" ] || fail "a failed mutation changed what certd shows"
kill -0 "$CERTD_PID" || fail "certd died on a full disk"
rm -f "$WORK/state/filler"
create after-full.example.com >/dev/null || fail "certd did not recover when space returned"
pass "full disk: named error, nothing changed, recovery when space returns"

# Read-only: the same.
mount -o remount,ro "$WORK/state"
before=$(snapshot); n=$(count)
out=$(create ro.example.com 2>&1) && fail "CreateSelfSigned succeeded on a read-only store"
grep -qi "read-only" <<<"$out" || fail "read-only error unclear: $out"
[ "$(err_name /org/certd1 org.certd1.Manager.CreateSelfSigned "{'key_type': <'ec-p256'>, 'common_name': <'r.example.com'>}")" \
  = org.certd1.Error.Internal ] || fail "read-only store is not reported as org.certd1.Error.Internal"
[ "$(snapshot)" = "$before" ] && [ "$(count)" = "$n" ] || fail "a failed mutation changed state"
mount -o remount,rw "$WORK/state"
create after-ro.example.com >/dev/null || fail "certd did not recover when the store became writable"

# And everything that was acknowledged survives a restart.
stop_certd
start_certd
[ "$(count)" = "$((n + 1))" ] || fail "after restart certd shows $(count) certificates, expected $((n + 1))"
pass "read-only store: named error, nothing changed, recovery; acknowledged state survives a restart"
