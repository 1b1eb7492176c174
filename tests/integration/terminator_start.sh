#!/usr/bin/env bash
# certd starts certd-tls from a folder its account cannot enter (a clone in root's 0700 home),
# and when certd-tls cannot be executed at all, says why once (the path, the account, the
# errno) on the bus (TerminatorState "failed", TerminatorError), in `certctl status` and in the
# log, backs off, and recovers by itself once the cause is fixed.
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (certd-tls must run under another account)"; exit 77; }
CERTD_TLS=$(dirname "$CERTD")/certd-tls
start_bus
# The binary where only root may walk: a 0700 folder (the terminator runs as nobody).
mkdir -m 700 "$WORK/private"
cp "$CERTD_TLS" "$WORK/private/certd-tls"
chmod 755 "$WORK/private/certd-tls"
cd "$WORK"
setpriv --reuid=nobody --regid=nogroup --clear-groups test -x "$WORK/private/certd-tls" \
  && fail "nobody can reach $WORK/private/certd-tls: the test would prove nothing"

state() { prop /org/certd1 org.certd1.Manager TerminatorState; }
wait_state() { # STATE: bounded wait (backoff is at most 5 s between attempts)
  local wanted_state=$1
  wait_until 120 '[ "$(state)" = "\"$wanted_state\"" ]' || fail "TerminatorState is $(state), expected \"$wanted_state\""
}
# certd binds the sockets itself: without a terminator a client connects and waits forever.
served_subject() {
  timeout 10 openssl s_client -connect "127.0.0.2:$PORT" </dev/null 2>/dev/null | openssl x509 -noout -subject 2>/dev/null || true
}

start_certd "terminator:" "  user: nobody" "  binary: $WORK/private/certd-tls"
wait_state running
[ "$(prop /org/certd1 org.certd1.Manager TerminatorError)" = '""' ] || fail "TerminatorError set while running"
wait_until 60 '[ -n "$(served_subject)" ]' || fail "nothing served on 127.0.0.2:$PORT"
pass "certd-tls runs as nobody from a 0700 folder and serves 127.0.0.2:$PORT"
stop_certd

# Not executable by nobody: the named error, once, and "failed" on the bus.
chmod 700 "$WORK/private/certd-tls"
: > "$WORK/certd.log"
start_certd "terminator:" "  user: nobody" "  binary: $WORK/private/certd-tls"
wait_state failed
error=$(prop /org/certd1 org.certd1.Manager TerminatorError)
want="cannot execute $WORK/private/certd-tls as user nobody, uid $(id -u nobody): Permission denied"
[[ $error == *"$want"* ]] || fail "TerminatorError is $error, expected it to say: $want"
status=$("$CERTCTL" status)
grep -q "^Terminator: *failed: $want" <<<"$status" || fail "certctl status does not say why: $status"
"$CERTCTL" status --json | python3 -c '
import json, sys
s = json.load(sys.stdin)
assert s["TerminatorState"] == "failed", s
assert "Permission denied" in s["TerminatorError"], s' || fail "certctl status --json lacks TerminatorError"
busctl --system call org.certd1 /org/certd1 org.certd1.Manager GetStatus | grep -qF "\"TerminatorError\" s \"$want" \
  || fail "GetStatus lacks TerminatorError"
# Several attempts later, the reason is still logged once and no broken-pipe noise appears.
wait_until 120 '[ "$(grep -c "certd-tls: started as pid" "$WORK/certd.log")" -ge 4 ]' || true # checked below
attempts=$(grep -c 'certd-tls: started as pid' "$WORK/certd.log")
[ "$attempts" -ge 4 ] || fail "certd tried to start certd-tls $attempts times, expected it to keep trying"
[ "$(grep -c "$want" "$WORK/certd.log")" = 1 ] || fail "the reason was not logged exactly once in $attempts attempts"
grep -q 'Broken pipe\|Connection reset' "$WORK/certd.log" && fail "broken-pipe noise in the log"
[ -z "$(served_subject)" ] || fail "something serves 127.0.0.2:$PORT without a terminator"
pass "'$want': TerminatorState failed, TerminatorError, certctl status, GetStatus; logged once in $attempts attempts"

# The operator fixes it: the next attempt runs, the error clears, the address is served.
chmod 755 "$WORK/private/certd-tls"
wait_state running
[ "$(prop /org/certd1 org.certd1.Manager TerminatorError)" = '""' ] || fail "TerminatorError not cleared"
wait_until 60 '[ -n "$(served_subject)" ]' || fail "nothing served on 127.0.0.2:$PORT after the fix"
pass "after chmod 755, certd-tls runs again by itself, TerminatorError cleared, 127.0.0.2:$PORT served"

# A binary that does not exist: the path and the errno.
stop_certd
start_certd "terminator:" "  user: nobody" "  binary: $WORK/private/no-such-certd-tls"
wait_state failed
[[ $(prop /org/certd1 org.certd1.Manager TerminatorError) == *"cannot open $WORK/private/no-such-certd-tls: No such file or directory"* ]] \
  || fail "TerminatorError for a missing binary: $(prop /org/certd1 org.certd1.Manager TerminatorError)"
pass "a missing binary: TerminatorError names the path and ENOENT"
stop_certd
