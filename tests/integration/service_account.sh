#!/usr/bin/env bash
# certd run by hand, without systemd, as an ordinary account (here `daemon`) holding only the
# ambient capabilities that spawning certd-tls under its own account needs (CAP_NET_BIND_SERVICE,
# CAP_SETUID, CAP_SETGID, CAP_KILL), with NO_NEW_PRIVS. (certd.service instead runs certd-tls as
# its own unit and grants certd CAP_NET_BIND_SERVICE alone: tests/system checks that.) It must bind a port below 1024, start certd-tls as
# another account with no capability at all, keep its store under its own uid at 0600, and
# stay out of reach of its own uid (non-dumpable, no core files).
. "$(dirname "$0")/lib.sh"
ACCOUNT=daemon
CAPS=net_bind_service,setuid,setgid,kill
id "$ACCOUNT" >/dev/null 2>&1 || fail "no '$ACCOUNT' account on this machine"
as_account() { setpriv --reuid="$ACCOUNT" --regid="$ACCOUNT" --clear-groups --inh-caps=-all "$@"; }
cap_set() { sed -n "s/^$2:[[:space:]]*//p" "/proc/$1/status"; }
uids() { sed -n 's/^Uid:[[:space:]]*//p' "/proc/$1/status" | tr -s '\t ' ' '; }

start_bus
mkdir -p "$WORK/state"
chown "$ACCOUNT:" "$WORK/state"
chmod 700 "$WORK/state"
PORT=$((600 + RANDOM % 300)) # privileged: only CAP_NET_BIND_SERVICE lets certd bind it
CERTD_PREFIX=(setpriv --reuid="$ACCOUNT" --regid="$ACCOUNT" --clear-groups
  --inh-caps="-all,+${CAPS//,/,+}" --ambient-caps="-all,+${CAPS//,/,+}"
  --bounding-set="-all,+${CAPS//,/,+}" --no-new-privs)
cd "$WORK"
# certd runs as the account, which may not reach the build folder (a clone in root's 0700
# home): certd-tls is copied to where it can, as a package puts it in /usr/libexec.
mkdir -p "$WORK/libexec"
cp "$(dirname "$CERTD")/certd-tls" "$WORK/libexec/certd-tls"
start_certd "terminator:" "  user: nobody" "  binary: $WORK/libexec/certd-tls"

# certd: the account's uid everywhere, exactly the four capabilities, no core files.
account_uid=$(id -u "$ACCOUNT")
[ "$(uids "$CERTD_PID")" = "$account_uid $account_uid $account_uid $account_uid" ] \
  || fail "certd's uids are $(uids "$CERTD_PID"), expected $account_uid"
# capability(7) numbers: CAP_KILL 5, CAP_SETGID 6, CAP_SETUID 7, CAP_NET_BIND_SERVICE 10.
want=$(printf '%016x' $(( (1 << 5) | (1 << 6) | (1 << 7) | (1 << 10) )))
[ "$(cap_set "$CERTD_PID" CapEff)" = "$want" ] || fail "certd's CapEff $(cap_set "$CERTD_PID" CapEff), expected $want"
[ "$(cap_set "$CERTD_PID" NoNewPrivs)" = 1 ] || fail "certd lost NO_NEW_PRIVS"
grep -q '^Max core file size *0 *0' "/proc/$CERTD_PID/limits" || fail "certd may write core files"
as_account cat "/proc/$CERTD_PID/environ" >/dev/null 2>&1 && fail "certd's own uid can read its memory-backed /proc files"
pass "certd runs as $ACCOUNT with only CAP_NET_BIND_SERVICE, CAP_SETUID, CAP_SETGID, CAP_KILL; non-dumpable"

# certd-tls: another account, every capability set empty, NO_NEW_PRIVS.
tls_pid=
wait_until 60 'tls_pid=$(pgrep -P "$CERTD_PID" -x certd-tls || true); [ -n "$tls_pid" ]' || true # checked below
[ -n "$tls_pid" ] || fail "certd did not start certd-tls"
nobody_uid=$(id -u nobody)
[ "$(uids "$tls_pid")" = "$nobody_uid $nobody_uid $nobody_uid $nobody_uid" ] \
  || fail "certd-tls's uids are $(uids "$tls_pid"), expected nobody's"
for set in CapInh CapPrm CapEff CapAmb; do
  [ "$(cap_set "$tls_pid" "$set")" = 0000000000000000 ] || fail "certd-tls kept $set $(cap_set "$tls_pid" "$set")"
done
[ "$(cap_set "$tls_pid" NoNewPrivs)" = 1 ] || fail "certd-tls runs without NO_NEW_PRIVS"
pass "certd-tls runs as nobody with no capability in any set"

# The terminator serves on the privileged port, and a mutation lands in a store owned by the account.
served_subject() {
  openssl s_client -connect "127.0.0.2:$PORT" </dev/null 2>/dev/null | openssl x509 -noout -subject 2>/dev/null || true
}
wait_until 60 '[ -n "$(served_subject)" ]' || true # checked below
[ -n "$(served_subject)" ] || fail "nothing served on 127.0.0.2:$PORT"
"$CERTCTL" create-self-signed --name web --key-type ec-p256 --cn web.example.com >/dev/null
"$CERTCTL" assign 127.0.0.2 web >/dev/null
[[ $(served_subject) == *"CN = web.example.com"* ]] || fail "127.0.0.2:$PORT does not serve the assigned certificate"
n=0
for f in state/state.yaml state/keys/*.key; do
  [ "$(stat -c '%U %a' "$f")" = "$ACCOUNT 600" ] || fail "$f is $(stat -c '%U %a' "$f"), expected $ACCOUNT 600"
  n=$((n + 1))
done
[ "$n" -ge 3 ] || fail "expected state.yaml and two keys, found $n files"
pass "port $PORT served, Assign applied; state.yaml and $((n - 1)) keys are $ACCOUNT's, 0600"
stop_certd
