#!/usr/bin/env bash
# The systemd protocol without systemd: certd started with NOTIFY_SOCKET and
# WATCHDOG_USEC (as Type=notify with WatchdogSec= would) sends READY=1 with a
# STATUS= line once org.certd1 is served, pets the watchdog, and on SIGTERM
# sends STOPPING=1 and exits 0.
. "$(dirname "$0")/lib.sh"
start_bus
python3 - "$WORK/notify.sock" "$WORK/notify.log" <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(1)
end = time.monotonic() + 30
with open(sys.argv[2], "w") as log:
    while time.monotonic() < end:
        try:
            msg = s.recv(4096).decode()
        except socket.timeout:
            continue
        log.write(msg.replace("\n", " | ") + "\n")
        log.flush()
        if "STOPPING=1" in msg:
            break
PY
LISTENER=$!
for _ in $(seq 100); do [ -S "$WORK/notify.sock" ] && break; sleep 0.05; done
export NOTIFY_SOCKET="$WORK/notify.sock" WATCHDOG_USEC=400000
start_certd
# The watchdog is petted at half the interval: several pings within two seconds.
sleep 2
unset NOTIFY_SOCKET WATCHDOG_USEC
grep -q "READY=1" "$WORK/notify.log" || fail "no READY=1: $(cat "$WORK/notify.log")"
grep "READY=1" "$WORK/notify.log" | grep -q "STATUS=Serving" || fail "READY=1 without STATUS=: $(cat "$WORK/notify.log")"
pings=$(grep -c "WATCHDOG=1" "$WORK/notify.log" || true)
[ "$pings" -ge 3 ] || fail "only $pings watchdog pings in 2 s with WATCHDOG_USEC=400000"
stop_certd
wait "$LISTENER" || true
grep -q "STOPPING=1" "$WORK/notify.log" || fail "no STOPPING=1 on SIGTERM"
pass "READY=1 with STATUS, $pings watchdog pings in 2 s, STOPPING=1 and exit 0 on SIGTERM"
