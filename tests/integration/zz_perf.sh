. "$(dirname "$0")/lib.sh"
start_bus
mkdir -p "$WORK/www"; head -c 1024 /dev/zero > "$WORK/www/1k"
python3 "$(dirname "$0")/tls_backend.py" http "$BACKEND_PORT" "$WORK/www" & BPID=$!
start_certd
"$CERTCTL" create-self-signed --name e --key-type ec-p256 --cn e.test >/dev/null
"$CERTCTL" assign 127.0.0.2 e >/dev/null
TLS=$(pgrep -P "$CERTD_PID" -x certd-tls)
for i in 1 2 3 4; do openssl s_time -connect 127.0.0.2:$PORT -new -time 12 >/dev/null 2>&1 & done
sleep 2
perf record -F 1999 -g -o /tmp/x/perf.data -p "$CERTD_PID,$TLS" -- sleep 8 2>/dev/null >/dev/null
wait %2 %3 %4 %5 2>/dev/null || true
kill $BPID
