#!/usr/bin/env bash
# Live configuration reload: certd and certd-tls on loopback, the configuration file changed and
# applied with SIGHUP or `certctl reload` (Manager.Reload). An added address serves TLS and a
# removed one refuses connections; a new port moves the listeners; tls_profile modern refuses TLS 1.2; a new backend gets new
# connections while one established before the reload still talks to the old one; a changed
# worker count shows in certd-tls's threads without dropping a connection; a bad file (syntax or
# value) is refused with FILE:LINE and changes nothing; a restart-only key is named in the log;
# a caller outside admin_group gets AccessDenied, and a reload that names its group lets it in.
# systemd hears RELOADING=1 (with MONOTONIC_USEC) and then READY=1 around each reload.
. "$(dirname "$0")/lib.sh"
start_bus

# A NOTIFY_SOCKET listener, as systemd would be.
python3 "$(dirname "$0")/notify_listener.py" "$WORK/notify.sock" "$WORK/notify.log" 290 >/dev/null 2>&1 &
wait_until 60 '[ -S "$WORK/notify.sock" ]' || fail "the notify listener did not bind its socket"

# Two HTTP backends that say which one they are; they go with the test (and certd with lib.sh's cleanup).
BACKENDS=()
trap 'kill "${BACKENDS[@]}" 2>/dev/null || true; cleanup' EXIT
BACKEND2_PORT=$((PORT + 2))
for b in A:$BACKEND_PORT B:$BACKEND2_PORT; do
  mkdir -p "$WORK/www${b%%:*}"
  echo "backend ${b%%:*}" > "$WORK/www${b%%:*}/who.txt"
  python3 "$(dirname "$0")/tls_backend.py" http "${b#*:}" "$WORK/www${b%%:*}" >/dev/null 2>&1 &
  BACKENDS+=($!)
  wait_port 127.0.0.1 "${b#*:}"
done

export NOTIFY_SOCKET="$WORK/notify.sock"
start_certd "terminator:" "  user: nobody" "  workers: 2"
unset NOTIFY_SOCKET
TLS_PID=$(pgrep -P "$CERTD_PID" -x certd-tls) || fail "certd has no certd-tls child"

# write_config ADDRESSES PROFILE BACKEND_PORT WORKERS [extra lines]: the whole file, replaced at once.
write_config() {
  {
    echo "state_directory: ./state"
    echo "addresses: [$1]"
    echo "port: $PORT"
    echo "backend: tcp:127.0.0.1:$3"
    echo "tls_profile: $2"
    printf 'terminator:\n  user: nobody\n  workers: %s\n' "$4"
    local line
    for line in "${@:5}"; do echo "$line"; done
  } > "$WORK/certd.yaml.new"
  mv "$WORK/certd.yaml.new" "$WORK/certd.yaml"
}
# hup: SIGHUP, then until certd logged the outcome (applied: acknowledged by the terminator; or refused).
count() { grep -c "$1" "$WORK/certd.log" || true; }
hup() {
  local before
  before=$(( $(count "<5>reloaded $WORK/certd.yaml") + $(count "reload refused") ))
  kill -HUP "$CERTD_PID"
  wait_until 60 "[ \$(( \$(count '<5>reloaded $WORK/certd.yaml') + \$(count 'reload refused') )) -gt $before ]" \
    || fail "certd logged no outcome of SIGHUP"
}
# handshake ADDRESS [s_client options]: succeeds when a TLS handshake completes there.
handshake() {
  local host=$1; shift
  timeout 20 openssl s_client -connect "$host:$PORT" "$@" </dev/null >"$WORK/hs.out" 2>&1 || return 1
  grep -q "Cipher is [A-Z]" "$WORK/hs.out"
}
# fetch ADDRESS: what who.txt says through certd-tls on ADDRESS (a new connection).
fetch() { curl -sk --max-time 20 "https://$1:$PORT/who.txt"; }
workers() { grep -c "^tls-worker" /proc/"$TLS_PID"/task/*/comm 2>/dev/null | awk -F: '{ n += $2 } END { print n + 0 }'; }
# open_connection NAME: a keep-alive HTTPS connection to 127.0.0.2 that fetches who.txt now
# ("first ..." in $WORK/NAME.out) and once more when $WORK/NAME.go exists ("second ...").
open_connection() {
  python3 - "$PORT" "$WORK/$1.go" >"$WORK/$1.out" 2>&1 <<'PY' &
import http.client, os, ssl, sys, time
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
c = http.client.HTTPSConnection("127.0.0.2", int(sys.argv[1]), context=ctx, timeout=60)
def get():
    c.request("GET", "/who.txt")
    return c.getresponse().read().decode().strip()
print("first", get(), flush=True)
end = time.monotonic() + 240
while not os.path.exists(sys.argv[2]) and time.monotonic() < end:
    time.sleep(0.05)  # the polling interval of the file above
print("second", get(), flush=True)
PY
  CONNECTION=$!
  wait_until 60 "grep -q '^first' '$WORK/$1.out'" || fail "connection $1 did not open: $(cat "$WORK/$1.out")"
}
# second NAME: sends the connection's request after the reload and waits for it to close;
# $ANSWER is what it got.
second() {
  touch "$WORK/$1.go"
  wait "$CONNECTION" || true
  grep -q '^second' "$WORK/$1.out" || fail "connection $1 broke: $(cat "$WORK/$1.out")"
  ANSWER=$(sed -n 's/^second //p' "$WORK/$1.out")
}

handshake 127.0.0.2 && handshake 127.0.0.3 || fail "127.0.0.2 and 127.0.0.3 do not serve TLS at start"
wait_until 60 '[ "$(workers)" = 2 ]' || fail "certd-tls runs $(workers) workers, not 2"

# (a) Addresses: 127.0.0.4 added, 127.0.0.3 removed, by SIGHUP.
! handshake 127.0.0.4 || fail "127.0.0.4 serves before it is configured"
write_config "127.0.0.2, 127.0.0.4" intermediate "$BACKEND_PORT" 2
hup
handshake 127.0.0.4 || fail "127.0.0.4 does not serve TLS after the reload added it"
! handshake 127.0.0.3 || fail "127.0.0.3 still serves after the reload removed it"
grep -q "Connection refused\|connect:errno" "$WORK/hs.out" || fail "127.0.0.3 does not refuse: $(cat "$WORK/hs.out")"
[ "$(prop "$(busctl --system tree org.certd1 --list | grep -m1 '^/org/certd1/address/.*127_2e0_2e0_2e4')" \
  org.certd1.Address State)" = '"listening"' ] || fail "the bus does not show 127.0.0.4 listening"
busctl --system tree org.certd1 --list | grep -q '127_2e0_2e0_2e3' && fail "127.0.0.3 is still on the bus"
pass "SIGHUP: an added address serves TLS, a removed one refuses connections"

# Port: every listener moves; the address objects show the new port.
OLD_PORT=$PORT
PORT=$((OLD_PORT + 3))
write_config "127.0.0.2, 127.0.0.4" intermediate "$BACKEND_PORT" 2
"$CERTCTL" reload >/dev/null || fail "certctl reload failed"
handshake 127.0.0.2 && handshake 127.0.0.4 || fail "no TLS on the new port $PORT"
PORT=$OLD_PORT handshake 127.0.0.2 && fail "the old port $OLD_PORT still serves"
[ "$(prop "$(busctl --system tree org.certd1 --list | grep -m1 '^/org/certd1/address/.*127_2e0_2e0_2e2')" \
  org.certd1.Address Port)" = "$PORT" ] || fail "Address.Port does not show the new port"
pass "port: the listeners move to the new port"

# (b) tls_profile modern: TLS 1.2 refused, TLS 1.3 served (certctl reload is synchronous).
handshake 127.0.0.2 -tls1_2 || fail "TLS 1.2 refused under intermediate"
write_config "127.0.0.2, 127.0.0.4" modern "$BACKEND_PORT" 2
"$CERTCTL" reload >/dev/null || fail "certctl reload failed"
! handshake 127.0.0.2 -tls1_2 || fail "TLS 1.2 still served after tls_profile: modern"
handshake 127.0.0.2 -tls1_3 || fail "TLS 1.3 not served after tls_profile: modern"
pass "certctl reload: tls_profile modern refuses TLS 1.2 and serves TLS 1.3"

# (c) Backend: new connections reach B; one established before the reload stays with A.
[ "$(fetch 127.0.0.2)" = "backend A" ] || fail "not backend A before the reload"
open_connection before
write_config "127.0.0.2, 127.0.0.4" modern "$BACKEND2_PORT" 2
"$CERTCTL" reload >/dev/null || fail "certctl reload failed"
[ "$(fetch 127.0.0.2)" = "backend B" ] || fail "a new connection does not reach backend B after the reload"
second before
[ "$ANSWER" = "backend A" ] || fail "the established connection did not keep backend A"
pass "backend: new connections reach the new backend, an established one keeps working"

# (d) Bad files: nothing changes, the message names file and line.
cp "$WORK/certd.yaml" "$WORK/good.yaml"
printf 'port: [\n' >> "$WORK/certd.yaml"
if out=$("$CERTCTL" reload 2>&1); then fail "certctl reload accepted a syntax error"; fi
grep -q "certd.yaml:[0-9]*:.*malformed YAML" <<<"$out" || fail "certctl reload: no FILE:LINE for a syntax error: $out"
write_config "127.0.0.2, 127.0.0.3" intermediate "$BACKEND_PORT" 2 "expiry_warning_days: [30, 30]"
sed -i "s/^port: .*/port: 70000/" "$WORK/certd.yaml"
if out=$("$CERTCTL" reload 2>&1); then fail "certctl reload accepted port 70000"; fi
grep -q "certd.yaml:3: port:" <<<"$out" || fail "certctl reload: no FILE:LINE: KEY for a bad value: $out"
[ "$(err_name /org/certd1 org.certd1.Manager.Reload)" = org.certd1.Error.InvalidArgument ] \
  || fail "Reload of a bad file is not InvalidArgument"
hup
grep -q "<3>reload refused, the running configuration stays: $WORK/certd.yaml:3: port:" "$WORK/certd.log" \
  || fail "SIGHUP: the log does not name file and line of the bad value"
handshake 127.0.0.4 -tls1_3 && ! handshake 127.0.0.3 && ! handshake 127.0.0.2 -tls1_2 \
  || fail "a refused reload changed what is served"
[ "$(fetch 127.0.0.2)" = "backend B" ] || fail "a refused reload changed the backend"
kill -0 "$CERTD_PID" || fail "certd exited on a bad file"
cp "$WORK/good.yaml" "$WORK/certd.yaml"
pass "a bad file (syntax, value) is refused with FILE:LINE by certctl and SIGHUP, and changes nothing"

# (e) Workers: 2 -> 3 -> 1 while a connection is open; it keeps working and a retired worker
# ends with it.
write_config "127.0.0.2, 127.0.0.4" modern "$BACKEND2_PORT" 3
hup
wait_until 60 '[ "$(workers)" = 3 ]' || fail "certd-tls runs $(workers) workers after workers: 3"
open_connection workers
write_config "127.0.0.2, 127.0.0.4" modern "$BACKEND2_PORT" 1
hup
grep -q "certd-tls: 1 worker(s) now" "$WORK/certd.log" || fail "certd-tls did not log its new worker count"
second workers
[ "$ANSWER" = "backend B" ] || fail "the connection open across the worker change broke"
[ "$(fetch 127.0.0.4)" = "backend B" ] || fail "no new connection served with one worker"
wait_until 60 '[ "$(workers)" = 1 ]' \
  || fail "certd-tls still runs $(workers) workers after workers: 1 and the connection closed"
pass "terminator.workers: 2 -> 3 -> 1 threads, an established connection survives the shrink"

# (f) admin_group: nobody may not reload, until a reload names its group.
as() { local user=$1; shift; setpriv --reuid="$user" --regid="$(id -g "$user")" --clear-groups "$@"; }
if [ "$(id -u)" = 0 ]; then
  out=$(as nobody "$CERTCTL" reload 2>&1) && fail "nobody could reload"
  grep -q "AccessDenied\|needs root or membership" <<<"$out" || fail "nobody's reload: $out"
  write_config "127.0.0.2, 127.0.0.4" modern "$BACKEND2_PORT" 1 "admin_group: $(id -gn nobody)"
  "$CERTCTL" reload >/dev/null || fail "certctl reload failed"
  as nobody "$CERTCTL" reload >/dev/null || fail "nobody may not reload after admin_group names its group"
  pass "Reload needs the admin group; a reload's admin_group applies to the next call"
else
  echo "skip: (f) needs root to act as another user"
fi

# expiry_warning_days applies live: the factory certificate (3650 days) is "expiring soon" within 3650.
factory=$(prop /org/certd1 org.certd1.Manager FactoryCertificate | tr -d '"')
prop "$factory" org.certd1.Certificate Warnings | grep -q expiring-soon && fail "the factory certificate starts expiring-soon"
write_config "127.0.0.2, 127.0.0.4" modern "$BACKEND2_PORT" 1 "admin_group: $(id -gn nobody)" "expiry_warning_days: [3650]"
"$CERTCTL" reload >/dev/null || fail "certctl reload failed"
prop "$factory" org.certd1.Certificate Warnings | grep -q expiring-soon \
  || fail "expiry_warning_days: [3650] did not make the factory certificate expiring-soon"
pass "expiry_warning_days applies live"

# (g) Restart-only keys are named, in one warning, and keep their running values.
write_config "127.0.0.2, 127.0.0.4" modern "$BACKEND2_PORT" 1 "freebind: true" "factory_certificate:" \
  "  friendly_name: Other"
hup
grep -q "<4>$WORK/certd.yaml: freebind, factory_certificate changed; takes effect at the next restart" \
  "$WORK/certd.log" || fail "no warning naming the restart-only keys: $(grep -i restart "$WORK/certd.log")"
handshake 127.0.0.4 -tls1_3 || fail "127.0.0.4 stopped serving"
pass "restart-only keys are named in one warning"

# systemd's view: each reload is RELOADING=1 (with MONOTONIC_USEC), then READY=1 with a STATUS=.
reloads=$(grep -c "RELOADING=1" "$WORK/notify.log" || true)
[ "$reloads" -ge 9 ] || fail "only $reloads RELOADING=1 for 9 or more reloads: $(cat "$WORK/notify.log")"
grep "RELOADING=1" "$WORK/notify.log" | grep -qv "MONOTONIC_USEC=[0-9]" && fail "RELOADING=1 without MONOTONIC_USEC"
python3 - "$WORK/notify.log" <<'PY' || fail "RELOADING=1 not followed by READY=1: $(cat "$WORK/notify.log")"
import sys
lines = open(sys.argv[1]).read().splitlines()
waiting = False
for l in lines:
    if "RELOADING=1" in l:
        assert not waiting, l
        waiting = True
    elif "READY=1" in l:
        assert "STATUS=" in l, l
        waiting = False
assert not waiting
PY
grep -q "READY=1 | STATUS=Reload refused: $WORK/certd.yaml:3: port:" "$WORK/notify.log" \
  || fail "a refused reload's STATUS= does not say why"
pass "sd_notify: RELOADING=1 then READY=1 around every reload, refused or not"
