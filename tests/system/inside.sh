#!/usr/bin/env bash
# Runs inside the container system.sh boots (systemd as PID 1, the real system bus): installs
# certd from /pkg and /usr/local the way a package's maintainer scripts would, then checks it
# under the shipped unit. Prints TAP lines; system.sh fails on any "not ok".
set -uo pipefail
n=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
notok() { n=$((n + 1)); echo "not ok $n - $*"; }
check() { # check DESCRIPTION COMMAND...
  local what=$1; shift
  local out
  if out=$("$@" 2>&1); then ok "$what"; else notok "$what: $(tail -3 <<<"$out" | tr '\n' ' ')"; fi
}
# wait_until SECONDS CONDITION: the integration tests' one way to wait (system.sh copies it here).
. /report/wait_lib.sh
prop() { systemctl show -P "$1" certd.service; }
active() { [ "$(prop ActiveState)/$(prop SubState)" = active/running ]; }
busy() { busctl --system "$@"; }
# runuser needs PAM, whose configuration the volatile /etc lacks; setpriv only switches.
# handshake ADDRESS: a TLS handshake on ADDRESS:443 completes (within 10 s: a listening socket
# with no terminator behind it holds a client in its backlog).
# grep reads all of s_client's output: `grep -q` could end at the match and s_client's next
# write would then die of SIGPIPE, a failure under pipefail.
handshake() { timeout 10 openssl s_client -connect "$1:443" </dev/null 2>/dev/null | grep "^New, TLSv1" >/dev/null; }
# refused ADDRESS: nothing listens on ADDRESS:443.
refused() {
  python3 -c 'import socket, sys; s = socket.socket(); s.settimeout(10); sys.exit(s.connect_ex((sys.argv[1], 443)) != 111)' "$1"
}
as_user() { local user=$1; shift; setpriv --reuid="$user" --regid="$(id -g "$user")" --init-groups "$@"; }

echo "# installing"
mkdir -p /etc/systemd/system/certd.service.d /etc/systemd/system/certd-tls.service.d /etc/sysusers.d \
  /etc/tmpfiles.d /etc/certd
cp /pkg/lib/systemd/system/certd.service /pkg/lib/systemd/system/certd-tls.service \
  /pkg/lib/systemd/system/certd-tls.socket /etc/systemd/system/
# The shipped units run /usr/bin/certd and /usr/libexec/certd-tls, where a package
# (--prefix=/usr) puts them; this tree was installed under /usr/local.
for unit in certd certd-tls; do
  { printf '[Service]\nExecStart=\n'
    [ "$unit" = certd ] && printf 'ExecReload=\n'
    sed -n 's#^\(ExecStart\|ExecReload\)=\(+\?\)/usr/#\1=\2/usr/local/#p' "/pkg/lib/systemd/system/$unit.service"
  } >"/etc/systemd/system/$unit.service.d/10-prefix.conf"
done
# A short watchdog only to keep the hung-certd check short; the mechanism is the shipped one.
printf '[Service]\nWatchdogSec=3s\n' >/etc/systemd/system/certd.service.d/20-test-watchdog.conf
cp /pkg/usr/lib/sysusers.d/certd.conf /etc/sysusers.d/
cp /pkg/usr/lib/tmpfiles.d/certd.conf /etc/tmpfiles.d/
sed -e 's/^addresses: \[\]/addresses: [127.0.0.2]/' /usr/local/etc/certd/certd.yaml >/etc/certd/certd.yaml
systemd-sysusers
systemd-tmpfiles --create /etc/tmpfiles.d/certd.conf
useradd -m -G certd-admin admin
useradd -m plain
systemctl reload dbus
systemctl daemon-reload
systemctl enable certd.service
# The backend certd-tls forwards to (config/certd.yaml's default, tcp:127.0.0.1:8080).
python3 -m http.server --bind 127.0.0.1 --directory /report 8080 >/dev/null 2>&1 &

echo "# starting"
check "the bus policy is where a package puts it" test -f /usr/share/dbus-1/system.d/org.certd1.conf
check "certd.service is enabled" test "$(systemctl is-enabled certd.service)" = enabled
check "systemctl start certd (Type=notify: returns once READY=1)" timeout 60 systemctl start certd
check "certd.service is active (running)" active
check "Type=notify" test "$(prop Type)" = notify
check "the Manager answers on the real system bus" busy get-property org.certd1 /org/certd1 org.certd1.Manager Version
check "the state directory is 0700 certd:certd" test "$(stat -c '%a %U:%G' /var/lib/certd)" = "700 certd:certd"
main=$(prop MainPID)
check "certd runs as certd" test "$(ps -o user= -p "$main")" = certd
check "certd holds CAP_NET_BIND_SERVICE alone" \
  test "$(sed -n 's/^CapEff:[[:space:]]*//p' "/proc/$main/status")" = 0000000000000400
tlsprop() { systemctl show -P "$1" certd-tls.service; }
check "certd-tls.service is active (running), started because certd.service wants it" \
  wait_until 30 '[ "$(tlsprop ActiveState)/$(tlsprop SubState)" = active/running ]'
tls=$(tlsprop MainPID)
check "certd-tls runs as certd-tls" test "$(ps -o user= -p "$tls")" = certd-tls
for set in CapInh CapPrm CapEff CapBnd CapAmb; do
  v=$(sed -n "s/^$set:[[:space:]]*//p" "/proc/$tls/status")
  check "certd-tls has no capabilities: $set=$v" test "$v" = 0000000000000000
done
wait_until 30 'handshake 127.0.0.2'
check "certd-tls serves the factory certificate on 127.0.0.2:443" \
  handshake 127.0.0.2

echo "# the shipped bus policy, the real dbus-daemon"
factory=$(busy get-property org.certd1 /org/certd1 org.certd1.Manager FactoryCertificate | cut -d'"' -f2)
check "an admin-group member may mutate" as_user admin busctl --system call org.certd1 "$factory" \
  org.certd1.Certificate SetFriendlyName s "set by admin"
check "a plain user may read" as_user plain busctl --system get-property org.certd1 "$factory" \
  org.certd1.Certificate FriendlyName
if out=$(as_user plain busctl --system call org.certd1 "$factory" org.certd1.Certificate \
  SetFriendlyName s "set by plain" 2>&1); then
  notok "a plain user may not mutate: it did"
else
  check "a plain user may not mutate (access denied: $out)" grep -qi "access denied\|AccessDenied" <<<"$out"
fi
check "the audit record of the admin's mutation is in the journal (CERTD_ACTION, CERTD_CALLER_UID)" \
  bash -c "journalctl -u certd -o json --no-pager | grep '\"CERTD_ACTION\":\"SetFriendlyName\"' | grep -q '\"CERTD_CALLER_UID\":\"$(id -u admin)\"'"

echo "# restarts that refuse no connection (issue 14, part 3)"
serving() { handshake 127.0.0.2; }
# measure NAME MAX_FAILED COMMAND...: runs COMMAND while a client makes one new TLS connection
# after another to 127.0.0.2:443, until a handshake succeeds after it. No attempt may be
# refused; at most MAX_FAILED may fail otherwise (a handshake certd-tls had begun when it stopped).
measure() {
  local name=$1 max_failed=$2; shift 2
  rm -f /report/stop
  python3 /report/tls_probe.py loop 127.0.0.2 443 /report/stop 120 >/report/loop.log 2>&1 &
  local loop=$!
  wait_until 30 'grep -qs ^first /report/loop.log'
  local start=${EPOCHREALTIME/./} took
  "$@"
  took=$(((${EPOCHREALTIME/./} - start) / 1000))
  wait_until 60 serving
  touch /report/stop
  wait "$loop"
  local stats
  stats=$(grep ^connections /report/loop.log)
  echo "# $name: $stats command_ms $took"
  sed -n 's/^failure/#   failure/p' /report/loop.log
  local _ refused failed
  read -r _ _ _ refused _ failed _ <<<"$stats"
  check "$name: no connection refused ($stats)" test "$refused" = 0
  check "$name: at most $max_failed failed" test "$failed" -le "$max_failed"
}
mkfifo /report/go
python3 /report/tls_probe.py hold 127.0.0.2 443 /report/go >/report/hold.log 2>&1 &
hold=$!
wait_until 30 'grep -qs "^first ok" /report/hold.log'
measure "systemctl restart certd" 0 systemctl restart certd
now=$(tlsprop MainPID)
check "certd-tls served on through certd's restart (pid $tls before, $now after)" test "$now" = "$tls"
check "the restarted certd took its listening socket back from the file descriptor store" \
  bash -c "journalctl -u certd --no-pager | grep -q 'kept listening socket 127.0.0.2:443'"
echo go >/report/go
wait "$hold"
check "a connection established before certd's restart still carries requests ($(tail -1 /report/hold.log))" \
  grep -q "^second ok" /report/hold.log
measure "systemctl restart certd-tls" 1 systemctl restart certd-tls
measure "SIGKILL of certd-tls (Restart=always)" 1 systemctl kill -s SIGKILL certd-tls
measure "systemctl restart certd certd-tls (an upgrade)" 1 systemctl restart certd certd-tls

echo "# systemctl reload certd (issue 14, part 2)"
cp /etc/certd/certd.yaml /report/certd.yaml.orig
sed -i 's/^addresses: \[127.0.0.2\]/addresses: [127.0.0.2, 127.0.0.3]/' /etc/certd/certd.yaml
mkfifo /report/go2
python3 /report/tls_probe.py hold 127.0.0.2 443 /report/go2 >/report/hold2.log 2>&1 &
hold=$!
wait_until 30 'grep -qs "^first ok" /report/hold2.log'
tls=$(tlsprop MainPID)
main=$(prop MainPID)
measure "systemctl reload certd (an address added)" 0 timeout 60 systemctl reload certd
check "the added address 127.0.0.3 serves TLS after the reload" \
  handshake 127.0.0.3
check "the reload kept certd's and certd-tls's pids" test "$(prop MainPID)/$(tlsprop MainPID)" = "$main/$tls"
echo go >/report/go2
wait "$hold"
check "a connection established before the reload still carries requests ($(tail -1 /report/hold2.log))" \
  grep -q "^second ok" /report/hold2.log
check "the journal says what the reload applied" \
  bash -c "journalctl -u certd --no-pager | grep -q 'reloaded /etc/certd/certd.yaml: .*addresses'"
echo 'port: [' >>/etc/certd/certd.yaml
if out=$(timeout 60 systemctl reload certd 2>&1); then
  notok "systemctl reload refuses a bad file: it succeeded"
else
  check "systemctl reload refuses a bad file, and the journal names file and line" \
    bash -c "journalctl -u certd --no-pager | grep -q 'reload refused.*/etc/certd/certd.yaml:[0-9]'"
fi
check "after the refused reload certd is active" test "$(prop ActiveState)" = active
check "and 127.0.0.3 is still served" handshake 127.0.0.3
cp /report/certd.yaml.orig /etc/certd/certd.yaml
measure "systemctl reload certd (the address removed again)" 0 timeout 60 systemctl reload certd
check "127.0.0.3 is no longer listened on (connection refused)" refused 127.0.0.3

tls=$(tlsprop MainPID)
main=$(prop MainPID)
# certd is the key holder (issue 13): handshakes begun while it is down park on their signature
# (at most 2 s) and are answered by the next certd, which systemd starts 250 ms after the kill.
kill_certd() {
  systemctl kill -s SIGKILL certd
  wait_until 60 '[ "$(prop MainPID)" != "$main" ] && [ "$(prop MainPID)" != 0 ] && [ "$(prop ActiveState)" = active ]'
}
measure "SIGKILL of certd, the key holder (RestartSec=250ms)" 2 kill_certd
check "after SIGKILL systemd restarts certd" wait_until 60 \
  '[ "$(prop MainPID)" != "$main" ] && [ "$(prop MainPID)" != 0 ] && [ "$(prop ActiveState)" = active ]'
now=$(tlsprop MainPID)
check "certd-tls served on through certd's SIGKILL (pid $tls before, $now after)" test "$now" = "$tls"
wait_until 30 'busy get-property org.certd1 "$factory" org.certd1.Certificate FriendlyName >/dev/null 2>&1'
check "the state survived the SIGKILL" bash -c \
  "busctl --system get-property org.certd1 $factory org.certd1.Certificate FriendlyName | grep -q 'set by admin'"
main=$(prop MainPID)
kill -STOP "$main"
check "the watchdog restarts a hung certd (SIGSTOP)" wait_until 90 \
  '[ "$(prop MainPID)" != "$main" ] && [ "$(prop ActiveState)" = active ]'
check "the journal names the watchdog" bash -c "journalctl -u certd --no-pager | grep -qi watchdog"

echo "# D-Bus activation"
systemctl stop certd
# The restarts above exceed the default start rate limit (5 in 10 s); an operator clears it so.
systemctl reset-failed certd
check "certd is stopped" test "$(prop ActiveState)" = inactive
check "certd-tls stopped with it (StopWhenUnneeded=)" wait_until 30 '[ "$(tlsprop ActiveState)" = inactive ]'
check "a call to org.certd1 starts certd.service" busy get-property org.certd1 /org/certd1 org.certd1.Manager Version
check "and it is active again" wait_until 30 active
check "so is certd-tls, serving" wait_until 60 serving

echo "# exposure"
for unit in certd.service certd-tls.service; do
  live=$(systemd-analyze security --no-pager "$unit" | tail -1 | grep -o '[0-9]\+\.[0-9]')
  offline=$(systemd-analyze security --offline=yes --no-pager "/pkg/lib/systemd/system/$unit" | tail -1 | grep -o '[0-9]\+\.[0-9]')
  check "systemd-analyze security $unit: $live live, $offline offline, at most 1.5" \
    bash -c "[ '$live' = '$offline' ] && systemd-analyze security --no-pager --threshold=15 $unit >/dev/null"
done
echo "# done"
