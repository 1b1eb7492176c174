#!/usr/bin/env bash
# bench/idle-load.sh: 10,000 idle TLS connections plus steady new handshakes, certd-tls vs
# HAProxy (mode tcp, ssl on bind), same certificate, same kind of backend, loopback only.
#
#   CERTD_TLS=build-x/daemon/certd-tls bench/idle-load.sh
#   N [10000]         idle connections held open on each terminator (2..30000)
#   RATE [100]        new full handshakes per second in each handshake phase (1..1000)
#   HS_SECONDS [20]   length of each handshake phase (1..120)
#   KEY_TYPE [ecdsap256]   rsa2048 | ecdsap256 (server key)
#   TLS [1.3]         1.3 | 1.2 (the client's only version)
#   TERMINATORS ["certd-tls haproxy"]   run one after the other, each alone on the machine
#   CERTD_TLS         the binary (default: build/daemon/certd-tls of this checkout)
#   TLS_LOAD          the load helper (default: bench/tls-load next to CERTD_TLS's build dir)
#   HAPROXY [haproxy] BASE_PORT [18800]  TIMEOUT [900] s for the whole script
#   WINDOW [64]       idle connections being opened at once; SRC [8] client source addresses
#                     (127.0.0.2 ..) for the idle set, so ephemeral ports never run short
#   PIN [0]           1: terminator on CPU 1, load helper and backend on CPU 0
#   RESULTS           also append the raw RESULT lines to this file
#
# Per terminator (one worker / nbthread 1 each, a fresh process, its own echo backend
# `tls-load backend` that holds every connection), `tls-load run` does:
#   1. idle: RATE fresh TLS connections/s for HS_SECONDS against the idle terminator, each a full
#      handshake (no resumption) + one 16-byte request echoed by the backend, then close_notify;
#   2. opens N completed-handshake connections that stay idle (they never send); RSS/PSS of the
#      terminator from /proc/PID/smaps_rollup before, at N/2 and at N;
#   3. loaded: the same handshakes as in 1 with the N connections held open;
#   4. checks that the N connections are still open.
# Memory per connection = (mem(N) - mem(0)) / N, mem(0) taken after phase 1 (warm allocator);
# slope = (mem(N) - mem(N/2)) / (N/2). Handshake latency = connect() to the client's handshake
# done (hs); echo = connect() to the request's echo (the whole path incl. the backend connect).
# Printed: both terminators' figures and the ratios certd-tls / haproxy.
# Kernel socket memory is not in either figure (the same for both).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CERTD_TLS=${CERTD_TLS:-$ROOT/build/daemon/certd-tls}
TLS_LOAD=${TLS_LOAD:-$(dirname "$CERTD_TLS")/../bench/tls-load}
HAPROXY=${HAPROXY:-haproxy}
N=${N:-10000}
RATE=${RATE:-100}
HS_SECONDS=${HS_SECONDS:-20}
KEY_TYPE=${KEY_TYPE:-ecdsap256}
TLS=${TLS:-1.3}
TERMINATORS=${TERMINATORS:-"certd-tls haproxy"}
BASE_PORT=${BASE_PORT:-18800}
TIMEOUT=${TIMEOUT:-900}
WINDOW=${WINDOW:-64}
SRC=${SRC:-8}
PIN=${PIN:-0}
RESULTS=${RESULTS:-}
die() { echo "idle-load: $*" >&2; exit 1; }
[[ $N =~ ^[0-9]+$ ]] && [ "$N" -ge 2 ] && [ "$N" -le 30000 ] || die "N must be 2..30000"
[[ $RATE =~ ^[0-9]+$ ]] && [ "$RATE" -ge 1 ] && [ "$RATE" -le 1000 ] || die "RATE must be 1..1000"
[[ $HS_SECONDS =~ ^[0-9]+$ ]] && [ "$HS_SECONDS" -ge 1 ] && [ "$HS_SECONDS" -le 120 ] || die "HS_SECONDS must be 1..120"
N=$(( N / 2 * 2 ))
for t in $TERMINATORS; do
  case $t in
    certd-tls) [ -x "$CERTD_TLS" ] || die "build certd-tls first (meson setup B && ninja -C B daemon/certd-tls), then CERTD_TLS=B/daemon/certd-tls" ;;
    haproxy) command -v "$HAPROXY" >/dev/null || die "haproxy not found (apt-get install haproxy)" ;;
    *) die "unknown terminator '$t' (certd-tls, haproxy)" ;;
  esac
done
[ -x "$TLS_LOAD" ] || die "build the load helper first (ninja -C B bench/tls-load), or set TLS_LOAD"
# Absolute: the script works in a temporary directory.
TLS_LOAD=$(readlink -f "$TLS_LOAD")
[ ! -e "$CERTD_TLS" ] || CERTD_TLS=$(readlink -f "$CERTD_TLS")

# A terminator holds 2 fds per connection (client + backend), the helper and the backend one.
# Both terminators may accept N + 50 connections (room for the handshake probes in flight).
NEED=$(( 2 * (N + 50) + 100 ))
[ "$(ulimit -Hn)" -ge "$NEED" ] || ulimit -Hn "$NEED" 2>/dev/null || true
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
N_ASKED=$N
if [ "$(ulimit -n)" -lt "$NEED" ]; then
  # Not even root may raise the hard limit without CAP_SYS_RESOURCE: hold what fits.
  N=$(( ($(ulimit -n) - 200) / 4 * 2 ))
  [ "$N" -ge 2 ] || die "ulimit -n is $(ulimit -n): too low"
  NEED=$(( 2 * (N + 50) + 100 ))
  echo "idle-load: WARNING: N reduced from $N_ASKED to $N: the fd limit is $(ulimit -n) and cannot be raised here" >&2
fi

. "$ROOT/bench/lib.sh"
bench_workdir idle-load "$TIMEOUT"
bench_server_cert "$KEY_TYPE"

# taskset execs the command: $! stays the terminator's pid.
if [ "$PIN" = 1 ]; then CPU0=(taskset -c 0); CPU1=(taskset -c 1); else CPU0=(); CPU1=(); fi
wait_port() {
  for _ in $(seq 100); do
    (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0
    sleep 0.1
  done
  die "nothing listens on port $1"
}
stop() { kill "$1" 2>/dev/null || true; for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done; kill -9 "$1" 2>/dev/null || true; }
# Other work on the machine during the run (2 cores shared with builds): the load averages.
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

echo "idle-load: N=$N (asked $N_ASKED) RATE=$RATE/s HS_SECONDS=$HS_SECONDS KEY_TYPE=$KEY_TYPE TLS=$TLS  $("$HAPROXY" -v 2>/dev/null | head -1 | cut -d' ' -f1-3)"
echo "idle-load: load average at start $(loadavg) ($(nproc) cpus)"
: > results
i=0
for t in $TERMINATORS; do
  i=$((i + 1))
  BACKEND_PORT=$(( BASE_PORT + 2 * i ))
  PORT=$(( BASE_PORT + 2 * i + 1 ))
  "${CPU0[@]}" "$TLS_LOAD" backend "$BACKEND_PORT" 2>"backend-$t.err" &
  BE_PID=$!; PIDS+=($BE_PID)
  wait_port "$BACKEND_PORT"
  case $t in
    certd-tls)
      "${CPU1[@]}" "$CERTD_TLS" --listen 127.0.0.1:$PORT --cert cert.pem --key key.pem \
        --backend 127.0.0.1:$BACKEND_PORT --workers 1 --max-connections $(( N + 50 )) 2>"$t.err" &
      ;;
    haproxy)
      bench_haproxy_cfg "$PORT" "$BACKEND_PORT" $(( N + 50 )) 600
      "${CPU1[@]}" "$HAPROXY" -db -f haproxy.cfg 2>"$t.err" &
      ;;
  esac
  SRV_PID=$!; PIDS+=($SRV_PID)
  wait_port "$PORT"
  sleep 0.5
  echo "idle-load: $t (pid $SRV_PID), load average $(loadavg)"
  if ! "${CPU0[@]}" "$TLS_LOAD" run --name "$t" --port "$PORT" --pid "$SRV_PID" --n "$N" --rate "$RATE" \
      --seconds "$HS_SECONDS" --window "$WINDOW" --src "$SRC" --tls "$TLS" --bound $(( TIMEOUT - 10 )) >> results; then
    echo "idle-load: $t: the load run failed; terminator log tail:" >&2; tail -5 "$t.err" >&2 || true; exit 1
  fi
  kill -0 "$SRV_PID" 2>/dev/null || { echo "idle-load: $t died; log tail:" >&2; tail -5 "$t.err" >&2; exit 1; }
  stop "$SRV_PID"; stop "$BE_PID"
  sleep 1
done
echo "idle-load: load average at end $(loadavg)"
[ -z "$RESULTS" ] || cat results >> "$RESULTS"

python3 - results <<'EOF'
import sys
rows = []
for line in open(sys.argv[1]):
    if line.startswith("RESULT "):
        rows.append(dict(kv.split("=", 1) for kv in line.split()[1:]))
def f(r, k): return float(r[k])
print()
print(f"{'terminator':<10} {'held':>6} {'alive':>6} {'open/s':>7} {'RSS base':>9} {'RSS/conn':>9} {'slope':>7}"
      f" {'PSS/conn':>9} {'slope':>7}  (bytes per connection)")
for r in rows:
    print(f"{r['name']:<10} {r['held']:>6} {r['alive']:>6} {int(r['held'])/f(r,'open_s'):>7.0f} {r['rss0_kb']:>7}kB"
          f" {f(r,'rss_per_conn'):>9.0f} {f(r,'rss_slope'):>7.0f} {f(r,'pss_per_conn'):>9.0f} {f(r,'pss_slope'):>7.0f}")
print()
print(f"{'terminator':<10} {'phase':<7} {'ok/started':>11} {'hs p50':>7} {'hs p99':>7} {'hs max':>7} {'echo p50':>9}"
      f" {'echo p99':>9} {'srv CPU/hs':>10}  (ms)")
for r in rows:
    for ph in ("idle", "loaded"):
        ok = int(r[ph + "_started"]) - int(r[ph + "_failed"])
        print(f"{r['name']:<10} {ph:<7} {ok:>5}/{r[ph+'_started']:<5} {f(r,ph+'_hs_p50'):>7.2f} {f(r,ph+'_hs_p99'):>7.2f}"
              f" {f(r,ph+'_hs_max'):>7.2f} {f(r,ph+'_rt_p50'):>9.2f} {f(r,ph+'_rt_p99'):>9.2f} {f(r,ph+'_cpu_ms_per_hs'):>10.3f}")
    print(f"{r['name']:<10} loaded/idle: hs p50 {f(r,'loaded_hs_p50')/max(f(r,'idle_hs_p50'),1e-9):.2f}x,"
          f" p99 {f(r,'loaded_hs_p99')/max(f(r,'idle_hs_p99'),1e-9):.2f}x")
by = {r["name"]: r for r in rows}
if "certd-tls" in by and "haproxy" in by:
    a, b = by["certd-tls"], by["haproxy"]
    q = lambda k: f(a, k) / f(b, k) if f(b, k) > 0 else float("nan")
    print()
    print(f"ratio certd-tls/haproxy: RSS/conn {q('rss_per_conn'):.2f} (slope {q('rss_slope'):.2f}),"
          f" PSS/conn {q('pss_per_conn'):.2f} (slope {q('pss_slope'):.2f})")
    print(f"ratio certd-tls/haproxy: hs p50 idle {q('idle_hs_p50'):.2f}, loaded {q('loaded_hs_p50'):.2f};"
          f" hs p99 idle {q('idle_hs_p99'):.2f}, loaded {q('loaded_hs_p99'):.2f};"
          f" server CPU/hs idle {q('idle_cpu_ms_per_hs'):.2f}, loaded {q('loaded_cpu_ms_per_hs'):.2f}")
bad = [r["name"] for r in rows if int(r["alive"]) != int(r["n"]) or int(r["idle_failed"]) or int(r["loaded_failed"])]
if bad:
    print("WARNING: closed idle connections or failed handshakes:", ", ".join(bad))
    sys.exit(2)
EOF
