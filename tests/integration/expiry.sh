#!/usr/bin/env bash
# The expiry watch, with certificates that expire within seconds (no sleeping
# for days): CertificateExpiring is emitted once per certificate and threshold,
# a journal warning is logged, and Warnings turn from expiring-soon to expired
# by the timer alone, with no import or other call in between.
. "$(dirname "$0")/lib.sh"
start_bus
start_certd "expiry_warning_days: [7, 1]"
timeout 120 busctl --system monitor org.certd1 > "$WORK/monitor" 2> "$WORK/monitor.err" &
MON=$!
# busctl says so once the bus has made it a monitor: from then on it sees every signal.
wait_until 60 'grep -q "^Monitoring bus message stream" "$WORK/monitor.err"' \
  || fail "busctl monitor did not start: $(cat "$WORK/monitor.err")"
"$MAKE_TEST_CERT" later.example.com 432000 "$WORK/later.pem"   # 5 days: past the 7-day threshold only
# Made last, so that its 15 s of validity only have to cover the imports and the first check.
"$MAKE_TEST_CERT" soon.example.com 15 "$WORK/soon.pem"
out=$(busctl --system call org.certd1 /org/certd1 org.certd1.Manager Import 'aysa{sv}' $(bytes_of "$WORK/soon.pem") "" 0)
soon=$(echo "$out" | grep -o '/org/certd1/certificate/[0-9a-f]*' | head -1)
out=$(busctl --system call org.certd1 /org/certd1 org.certd1.Manager Import 'aysa{sv}' $(bytes_of "$WORK/later.pem") "" 0)
later=$(echo "$out" | grep -o '/org/certd1/certificate/[0-9a-f]*' | head -1)
prop "$soon" org.certd1.Certificate Warnings | grep -q expiring-soon || fail "no expiring-soon warning"
wait_until 60 'prop "$soon" org.certd1.Certificate Warnings | grep -q "\"expired\""' \
  || fail "Warnings did not turn to expired when the certificate expired"
# expiring-soon starts at the largest threshold (7 days here).
prop "$later" org.certd1.Certificate Warnings | grep -q expiring-soon || fail "5-day cert lacks expiring-soon"
# Every signal certd sent before it answered the calls above is in the monitor's log once a
# later message is: a Ping to a path of our own, which the bus routes after them.
busctl --system call org.certd1 /org/certd1/test/expiry_done org.freedesktop.DBus.Peer Ping >/dev/null || fail "Ping failed"
wait_until 60 'grep -q "Path=/org/certd1/test/expiry_done" "$WORK/monitor"' || fail "the monitor did not see the last call"
kill $MON 2>/dev/null || true
# The object path is the third line after the signal's header line.
announced() { grep -A3 "Member=CertificateExpiring" "$WORK/monitor" | grep -c "OBJECT_PATH \"$1\"" || true; }
n=$(announced "$soon")
[ "$n" = 2 ] || fail "expected CertificateExpiring twice (7 and 1 days) for the soon cert, saw $n"
n=$(announced "$later")
[ "$n" = 1 ] || fail "5-day certificate should be announced once (7 days), saw $n"
grep -q "PropertiesChanged" "$WORK/monitor" || fail "no PropertiesChanged when the warning changed"
grep -q "CERTD_THRESHOLD_DAYS=1" "$WORK/certd.log" || fail "no journal warning for the threshold"
pass "expiry watch: thresholds announced once, warnings follow the clock"
