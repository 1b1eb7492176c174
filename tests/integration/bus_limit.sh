#!/usr/bin/env bash
# GetManagedObjects on a store whose reply would outgrow the bus's max_message_size (here
# lowered to 32 KiB, so a few dozen certificates reach it): dbus-daemon would drop certd's
# connection for the oversized reply and certd would exit. Instead the call is refused with
# org.certd1.Error.TooLarge, certd stays on the bus and every object still reads with GetAll.
# Every reply up to the refusal went through: the bound certd checks is never below the
# real size (else the bus would have disconnected certd on the way).
. "$(dirname "$0")/lib.sh"
LIMIT=32768
start_bus '  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
  <limit name="max_message_size">'$LIMIT'</limit>'
start_certd "bus_max_message_size: $LIMIT"
gmo() {
  gdbus call --system --dest org.certd1 --object-path /org/certd1 \
    --method org.freedesktop.DBus.ObjectManager.GetManagedObjects > "$WORK/gmo.out" 2>&1
}
answered=0
refused=
for i in $(seq 1 200); do
  "$MAKE_TEST_CERT" "host$i.example.com" 86400 "$WORK/c.pem"
  busctl --system call org.certd1 /org/certd1 org.certd1.Manager Import 'aysa{sv}' \
    $(bytes_of "$WORK/c.pem") "" 0 > /dev/null || fail "Import $i failed"
  if gmo; then
    grep -q "host$i.example.com" "$WORK/gmo.out" || fail "GetManagedObjects lacks certificate $i"
    answered=$((answered + 1))
  else
    grep -q "org.certd1.Error.TooLarge" "$WORK/gmo.out" \
      || fail "GetManagedObjects with $i certificates failed otherwise: $(cat "$WORK/gmo.out")"
    refused=$i
    break
  fi
  kill -0 "$CERTD_PID" 2>/dev/null || fail "certd exited after GetManagedObjects with $i certificates"
done
[ -n "$refused" ] || fail "GetManagedObjects was never refused (200 certificates under $LIMIT bytes?)"
[ "$answered" -ge 5 ] || fail "GetManagedObjects refused with only $refused certificates"
grep -q "bus_max_message_size" "$WORK/gmo.out" || fail "the refusal does not name the setting: $(cat "$WORK/gmo.out")"
certd_answers || fail "certd does not answer after the refusal"
# The objects are all there, one by one.
n=$(busctl --system tree org.certd1 --list | grep -c '^/org/certd1/certificate/')
[ "$n" = $((refused + 1)) ] || fail "expected $((refused + 1)) certificates (with the factory one), saw $n"
p=$(busctl --system tree org.certd1 --list | grep '^/org/certd1/certificate/' | tail -1)
busctl --system call org.certd1 "$p" org.freedesktop.DBus.Properties GetAll s org.certd1.Certificate \
  | grep -q NotAfterUSec || fail "GetAll of $p failed after the refusal"
kill -0 "$BUS_PID" 2>/dev/null || fail "dbus-daemon exited"
pass "GetManagedObjects: answered up to $answered certificates, then TooLarge at $refused; certd stays on the bus"
