#!/usr/bin/env bash
# bench/idle-memory.sh: memory per idle TLS connection, certd-tls vs HAProxy (mode tcp, ssl on
# bind), same certificate, same backend, loopback only.
#
#   bench/idle-memory.sh
#   N [2000]          idle connections opened to each terminator (bounded to 1..8000)
#   KEY_TYPE [ecdsap256]   rsa2048 | ecdsap256 (server key)
#   TLS [1.3]         1.3 | 1.2 (the client's only version)
#   CERTD_TLS         the binary (default: build/daemon/certd-tls of this checkout)
#   HAPROXY [haproxy] BASE_PORT [18700]  TIMEOUT [120] s for the whole script
#
# For each terminator: start it, open N/2 completed-handshake TLS connections that then stay
# idle (a python3 ssl client that never sends), read RSS and PSS from /proc/PID/smaps_rollup,
# open N/2 more, read again. Reported per connection:
#   total = (mem(N) - mem(0)) / N           includes first-use growth (arenas, pools, caches)
#   slope = (mem(N) - mem(N/2)) / (N/2)     the marginal cost of one more idle connection
# plus the ratio certd-tls / haproxy. Kernel socket memory is not in either figure (same for both).
# The backend is a python3 listener that accepts and holds every connection, sending nothing.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CERTD_TLS=${CERTD_TLS:-$ROOT/build/daemon/certd-tls}
HAPROXY=${HAPROXY:-haproxy}
N=${N:-2000}
KEY_TYPE=${KEY_TYPE:-ecdsap256}
TLS=${TLS:-1.3}
BASE_PORT=${BASE_PORT:-18700}
TIMEOUT=${TIMEOUT:-120}
[ -x "$CERTD_TLS" ] || { echo "idle-memory: build certd-tls first (ninja -C build daemon/certd-tls)" >&2; exit 1; }
command -v "$HAPROXY" >/dev/null || { echo "idle-memory: haproxy not found" >&2; exit 1; }
[[ $N =~ ^[0-9]+$ ]] && [ "$N" -ge 2 ] && [ "$N" -le 8000 ] || { echo "idle-memory: N must be 2..8000" >&2; exit 1; }
N=$(( N / 2 * 2 ))
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
[ "$(ulimit -n)" -ge $(( N * 2 + 100 )) ] || { echo "idle-memory: ulimit -n too low for N=$N" >&2; exit 1; }

. "$ROOT/bench/lib.sh"
bench_workdir idle-memory "$TIMEOUT"
bench_server_cert "$KEY_TYPE"

BACKEND_PORT=$BASE_PORT
CERTD_PORT=$(( BASE_PORT + 1 ))
HAPROXY_PORT=$(( BASE_PORT + 2 ))

cat > helper.py <<'EOF'
import os, selectors, socket, ssl, sys, time

def backend(port):
    # Accepts and holds every connection; reads (and drops) whatever arrives.
    srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port)); srv.listen(4096); srv.setblocking(False)
    sel = selectors.DefaultSelector(); sel.register(srv, selectors.EVENT_READ)
    while True:
        for key, _ in sel.select():
            if key.fileobj is srv:
                try:
                    c, _ = srv.accept()
                except BlockingIOError:
                    continue
                c.setblocking(False); sel.register(c, selectors.EVENT_READ)
            else:
                try:
                    d = key.fileobj.recv(65536)
                except BlockingIOError:
                    continue
                except OSError:
                    d = b""
                if not d:
                    sel.unregister(key.fileobj); key.fileobj.close()

def mem(pid):
    # kB -> bytes; RSS and PSS of the whole process (all threads)
    out = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            k, _, rest = line.partition(":")
            if k in ("Rss", "Pss"):
                out[k] = int(rest.split()[0]) * 1024
    return out

def measure(name, pid, port, n, tls):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
    v = ssl.TLSVersion.TLSv1_3 if tls == "1.3" else ssl.TLSVersion.TLSv1_2
    ctx.minimum_version = v; ctx.maximum_version = v
    conns = []
    def open_some(k):
        for _ in range(k):
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            t = ctx.wrap_socket(s, server_hostname="bench.test")  # full handshake, no resumption
            conns.append(t)
    time.sleep(0.5)
    m0 = mem(pid)
    open_some(n // 2); time.sleep(1.0); m1 = mem(pid)
    open_some(n // 2); time.sleep(1.0); m2 = mem(pid)
    alive = 0
    for t in conns:  # the terminator has not closed them (a closed one is readable: EOF)
        t.setblocking(False)
        try:
            t.recv(1)
        except ssl.SSLWantReadError:
            alive += 1
        except (ssl.SSLError, OSError):
            pass
        else:
            # TLS 1.3 tickets are handled inside recv; data here would be unexpected
            alive += 1
    res = {"name": name, "n": n, "alive": alive}
    for k in ("Rss", "Pss"):
        res[k + "_base"] = m0[k]
        res[k + "_total"] = (m2[k] - m0[k]) / n
        res[k + "_slope"] = (m2[k] - m1[k]) / (n // 2)
    for t in conns:
        t.close()
    return res

if __name__ == "__main__":
    if sys.argv[1] == "backend":
        backend(int(sys.argv[2]))
    else:
        _, _, tls, n = sys.argv[:4]
        rows = []
        for spec in sys.argv[4:]:
            name, pid, port = spec.split(":")
            rows.append(measure(name, int(pid), int(port), int(n), tls))
        print(f"{'terminator':<10} {'conns':>5} {'alive':>5} {'RSS base':>9} {'RSS/conn':>9} {'slope':>9}"
              f" {'PSS/conn':>9} {'slope':>9}   (bytes)")
        for r in rows:
            print(f"{r['name']:<10} {r['n']:>5} {r['alive']:>5} {r['Rss_base']//1024:>7}kB"
                  f" {r['Rss_total']:>9.0f} {r['Rss_slope']:>9.0f} {r['Pss_total']:>9.0f} {r['Pss_slope']:>9.0f}")
        if len(rows) == 2 and rows[1]["Rss_total"] > 0:
            a, b = rows
            print(f"ratio {a['name']}/{b['name']}: RSS/conn {a['Rss_total']/b['Rss_total']:.2f}"
                  f" (slope {a['Rss_slope']/max(b['Rss_slope'],1):.2f}),"
                  f" PSS/conn {a['Pss_total']/b['Pss_total']:.2f} (slope {a['Pss_slope']/max(b['Pss_slope'],1):.2f})")
EOF

python3 helper.py backend "$BACKEND_PORT" &
PIDS+=($!)

bench_haproxy_cfg "$HAPROXY_PORT" "$BACKEND_PORT" $(( N + 100 )) 300

# One worker each (certd-tls sizes itself to the CPUs it may use; HAProxy runs nbthread 1).
"$CERTD_TLS" --listen 127.0.0.1:$CERTD_PORT --cert cert.pem --key key.pem \
  --backend 127.0.0.1:$BACKEND_PORT --workers 1 2>certd-tls.err &
CERTD_PID=$!; PIDS+=($CERTD_PID)
"$HAPROXY" -db -f haproxy.cfg 2>haproxy.err &
HAPROXY_PID=$!; PIDS+=($HAPROXY_PID)

wait_port() {
  for _ in $(seq 100); do
    (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "idle-memory: nothing listens on port $1" >&2; exit 1
}
wait_port "$BACKEND_PORT"; wait_port "$CERTD_PORT"; wait_port "$HAPROXY_PORT"

echo "idle-memory: N=$N KEY_TYPE=$KEY_TYPE TLS=$TLS  $("$HAPROXY" -v | head -1)"
python3 helper.py measure "$TLS" "$N" "certd-tls:$CERTD_PID:$CERTD_PORT" "haproxy:$HAPROXY_PID:$HAPROXY_PORT"
