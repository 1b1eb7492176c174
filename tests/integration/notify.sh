#!/usr/bin/env bash
# The systemd protocol without systemd: certd started with NOTIFY_SOCKET and
# WATCHDOG_USEC (as Type=notify with WatchdogSec= would) sends READY=1 with a
# STATUS= line once org.certd1 is served, pets the watchdog at half the interval
# (the listener notes when each message arrives), and on SIGTERM sends STOPPING=1
# and exits 0.
. "$(dirname "$0")/lib.sh"
start_bus
python3 "$(dirname "$0")/notify_listener.py" "$WORK/notify.sock" "$WORK/notify.log" 240 &
LISTENER=$!
wait_until 60 '[ -S "$WORK/notify.sock" ]' || fail "the notify listener did not bind its socket"
export NOTIFY_SOCKET="$WORK/notify.sock" WATCHDOG_USEC=400000
start_certd
unset NOTIFY_SOCKET WATCHDOG_USEC
# READY=1 may reach the listener's log a little after the bus name answers.
wait_until 60 'grep -q "READY=1" "$WORK/notify.log"' || fail "no READY=1: $(cat "$WORK/notify.log")"
grep "READY=1" "$WORK/notify.log" | grep -q "STATUS=Serving" || fail "READY=1 without STATUS=: $(cat "$WORK/notify.log")"
# The watchdog is petted at half the interval: wait for 10 pings (the bound only limits how long a
# certd that does not pet takes to fail), then the typical gap between two must be well within
# WATCHDOG_USEC (the median: one late wake-up on a busy machine is not what is tested).
wait_until 60 '[ "$(grep -c "WATCHDOG=1" "$WORK/notify.log")" -ge 10 ]' \
  || fail "only $(grep -c "WATCHDOG=1" "$WORK/notify.log") watchdog pings in 60 s with WATCHDOG_USEC=400000"
pings=$(grep -c "WATCHDOG=1" "$WORK/notify.log")
median_ms=$(grep "WATCHDOG=1" "$WORK/notify.log" | awk '{ if (NR > 1) print int(($1 - prev) * 1000); prev = $1 }' \
  | sort -n | awk '{ gap[NR] = $1 } END { print gap[int((NR + 1) / 2)] }')
[ "$median_ms" -lt 400 ] || fail "watchdog pinged every $median_ms ms (median) with WATCHDOG_USEC=400000"
stop_certd
wait "$LISTENER" || true
grep -q "STOPPING=1" "$WORK/notify.log" || fail "no STOPPING=1 on SIGTERM"
pass "READY=1 with STATUS, $pings watchdog pings $median_ms ms apart (median), STOPPING=1 and exit 0 on SIGTERM"
