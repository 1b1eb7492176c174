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
as_user() { local user=$1; shift; setpriv --reuid="$user" --regid="$(id -g "$user")" --init-groups "$@"; }

echo "# installing"
mkdir -p /etc/systemd/system/certd.service.d /etc/sysusers.d /etc/tmpfiles.d /etc/certd
cp /pkg/lib/systemd/system/certd.service /etc/systemd/system/certd.service
# The shipped unit runs /usr/bin/certd, where a package (--prefix=/usr) puts it; this tree
# was installed under /usr/local.
printf '[Service]\nExecStart=\nExecStart=/usr/local/bin/certd --config /etc/certd/certd.yaml\n' \
  >/etc/systemd/system/certd.service.d/10-prefix.conf
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
wait_until 30 'pgrep -u certd-tls -x certd-tls >/dev/null'
tls=$(pgrep -u certd-tls -x certd-tls | head -1)
check "certd-tls runs as certd-tls (under the unit's seccomp filter and capabilities)" test -n "$tls"
if [ -n "$tls" ]; then
  for set in CapInh CapPrm CapEff CapBnd CapAmb; do
    v=$(sed -n "s/^$set:[[:space:]]*//p" "/proc/$tls/status")
    [ "$set" = CapBnd ] && continue # the bounding set is the unit's; nothing in the others
    check "certd-tls has no capabilities: $set=$v" test "$v" = 0000000000000000
  done
fi
wait_until 30 'openssl s_client -connect 127.0.0.2:443 </dev/null 2>/dev/null | grep -q "^New, TLSv1"'
check "certd-tls serves the factory certificate on 127.0.0.2:443" \
  bash -c 'openssl s_client -connect 127.0.0.2:443 </dev/null 2>/dev/null | grep -q "^New, TLSv1"'

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

echo "# restarts"
systemctl kill -s SIGKILL certd
check "after SIGKILL systemd restarts certd" wait_until 60 \
  '[ "$(prop MainPID)" != "$main" ] && [ "$(prop MainPID)" != 0 ] && [ "$(prop ActiveState)" = active ]'
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
check "certd is stopped" test "$(prop ActiveState)" = inactive
check "a call to org.certd1 starts certd.service" busy get-property org.certd1 /org/certd1 org.certd1.Manager Version
check "and it is active again" wait_until 30 active

echo "# exposure"
live=$(systemd-analyze security --no-pager certd.service | tail -1 | grep -o '[0-9]\+\.[0-9]')
offline=$(systemd-analyze security --offline=yes --no-pager /pkg/lib/systemd/system/certd.service | tail -1 | grep -o '[0-9]\+\.[0-9]')
check "systemd-analyze security: $live live, $offline offline" test "$live" = "$offline"
echo "# done"
