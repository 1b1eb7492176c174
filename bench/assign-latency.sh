#!/usr/bin/env bash
# Time from Assign to the new certificate being served, with 100 appliance
# addresses (127.0.1.1-100) on loopback; certd and certd-tls as built, on a
# private bus. Then, for comparison in the same run, nginx with the same 100
# addresses: the time from replacing the certificate files and `nginx -s reload`
# until the next handshake gets the new certificate (what a reload-based
# appliance does). Usage: bench/assign-latency.sh [BUILD_DIR] [ROUNDS]
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$SRC/build}; ROUNDS=${2:-500}
WORK=$(mktemp -d); chmod 755 "$WORK"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; [ -f "$WORK/nginx.pid" ] && kill "$(cat "$WORK/nginx.pid")" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
PORT=$((20000 + RANDOM % 12000)) # below the ephemeral range (32768-)
addrs=$(for i in $(seq 1 100); do printf '127.0.1.%d, ' "$i"; done | sed 's/, $//')
cat > "$WORK/bus.conf" <<CONF
<busconfig><type>system</type><listen>unix:path=$WORK/bus.sock</listen><auth>EXTERNAL</auth>
<policy context="default"><allow user="*"/><allow own="*"/><allow send_destination="*"/><allow receive_sender="*"/></policy></busconfig>
CONF
dbus-daemon --config-file="$WORK/bus.conf" --nofork 2>/dev/null & PIDS+=($!)
for _ in $(seq 100); do [ -S "$WORK/bus.sock" ] && break; sleep 0.05; done
export DBUS_SYSTEM_BUS_ADDRESS=unix:path=$WORK/bus.sock
printf 'state_directory: ./state\naddresses: [%s]\nport: %d\nbackend: tcp:127.0.0.1:%d\nterminator:\n  user: nobody\n' \
  "$addrs" "$PORT" $((PORT + 1)) > "$WORK/certd.yaml"
CERTD_LOG_STDERR=1 "$BUILD/daemon/certd" --config "$WORK/certd.yaml" 2>/dev/null & PIDS+=($!)
until busctl --system get-property org.certd1 /org/certd1 org.certd1.Manager Version >/dev/null 2>&1; do sleep 0.05; done
"$BUILD/bench/assign-latency" "$ROUNDS" | tee "$WORK/certd.txt"
# Spot check: the last assignment is what 127.0.1.100 serves.
openssl s_client -connect 127.0.1.100:$PORT </dev/null 2>/dev/null | openssl x509 -noout -subject

# The peer: nginx reload with the same 100 addresses (if nginx is installed).
if ! command -v nginx >/dev/null; then echo "nginx not installed: no peer figure (apt-get install nginx-light)"; exit 0; fi
NPORT=$((PORT + 2))
for n in a b; do
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$WORK/$n.key" -out "$WORK/$n.pem" \
    -days 5 -subj "/CN=nginx-$n.example.com" 2>/dev/null
done
cp "$WORK/a.pem" "$WORK/cur.pem"; cp "$WORK/a.key" "$WORK/cur.key"
{
  echo "pid $WORK/nginx.pid; error_log $WORK/nginx.err; worker_processes 1; events {}"
  echo "http { access_log off; server {"
  for i in $(seq 1 100); do echo "listen 127.0.1.$i:$NPORT ssl;"; done
  echo "ssl_certificate $WORK/cur.pem; ssl_certificate_key $WORK/cur.key; return 200 ok; } }"
} > "$WORK/nginx.conf"
nginx -c "$WORK/nginx.conf" -e "$WORK/nginx.err"
sleep 0.5
python3 - "$WORK" "$NPORT" "$(( ROUNDS / 10 > 20 ? ROUNDS / 10 : 20 ))" <<'PY'
import hashlib, os, shutil, socket, ssl, subprocess, sys, time
work, port, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
def served():
    with socket.create_connection(("127.0.1.100", port), timeout=5) as s:
        with ctx.wrap_socket(s) as t:
            return hashlib.sha256(t.getpeercert(True)).hexdigest()
def fp(n):
    der = ssl.PEM_cert_to_DER_cert(open(f"{work}/{n}.pem").read())
    return hashlib.sha256(der).hexdigest()
ms = []
for i in range(rounds):
    n = "b" if i % 2 == 0 else "a"
    want = fp(n)
    t0 = time.monotonic()
    shutil.copy(f"{work}/{n}.pem", f"{work}/cur.pem"); shutil.copy(f"{work}/{n}.key", f"{work}/cur.key")
    subprocess.run(["nginx", "-c", f"{work}/nginx.conf", "-e", f"{work}/nginx.err", "-s", "reload"], check=True)
    deadline = t0 + 10
    while served() != want:
        if time.monotonic() > deadline: raise SystemExit("nginx never served the new certificate")
        time.sleep(0.001)
    ms.append((time.monotonic() - t0) * 1000)
ms.sort()
p = lambda q: ms[int(q * (len(ms) - 1))]
print(f"nginx-reload: 100 addresses, {rounds} swaps: p50 {p(0.5):.2f} ms, p99 {p(0.99):.2f} ms, max {ms[-1]:.2f} ms")
open(f"{work}/nginx.txt", "w").write(f"{p(0.5)} {p(0.99)}\n")
PY
read -r n50 n99 < "$WORK/nginx.txt"
c50=$(sed -n 's/.*p50 \([0-9.]*\) ms.*/\1/p' "$WORK/certd.txt"); c99=$(sed -n 's/.*p99 \([0-9.]*\) ms.*/\1/p' "$WORK/certd.txt")
awk -v c50="$c50" -v c99="$c99" -v n50="$n50" -v n99="$n99" \
  'BEGIN { printf "ratio certd/nginx-reload: p50 %.3f, p99 %.3f (lower is faster)\n", c50/n50, c99/n99 }'
