#!/usr/bin/env bash
# bench/key-custody.sh: what forwarded signing costs (issue 13). certd-tls holding no key (certd's
# signer threads make every handshake signature) against certd-tls holding the keys itself
# (certd --terminator-holds-keys), both as columns of the shared peer benchmark
# (../shared/bench/tls-peers.sh, through bench/certd-peer.sh), in one run, on loopback:
#   hs   full handshakes per CPU-second of certd-tls + certd (+ the private bus, idle) together
#   ka   keep-alive requests per CPU-second       bulk   MB/s per CPU-second
# for RSA-2048 and ECDSA P-256, over ROUNDS rounds that alternate which mode goes first.
# Prints each cell's forwarded/in-process ratio of the medians, and the spread of that ratio
# over the rounds (the run-to-run noise). Target: hs ratio >= 0.97; ka and bulk ~1.
#
#   bench/key-custody.sh [--install]     (--install: apt-get the peer benchmark's tools once)
#   ROUNDS [3]  DURATION [5]  KEYS ["rsa2048 ecdsap256"]  METRICS ["hs ka bulk"]
#   OUT_DIR [./key-custody-results]      every other knob of tls-peers.sh passes through
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PEERS_SCRIPT=$(cd "$ROOT/../shared/bench" 2>/dev/null && pwd)/tls-peers.sh
[ -f "$PEERS_SCRIPT" ] || { echo "key-custody: ../shared/bench/tls-peers.sh not found" >&2; exit 1; }
[ -x "$ROOT/build/daemon/certd" ] || { echo "key-custody: build first (ninja -C build)" >&2; exit 1; }
ROUNDS=${ROUNDS:-3}
OUT_DIR=$(mkdir -p "${OUT_DIR:-./key-custody-results}" && cd "${OUT_DIR:-./key-custody-results}" && pwd)
export PEERS=" " BEST_OF=" " EXTRA_READY_TIMEOUT=${EXTRA_READY_TIMEOUT:-60} DURATION=${DURATION:-5}
export KEYS=${KEYS:-"rsa2048 ecdsap256"} METRICS=${METRICS:-"hs ka bulk"}
install=${1:-}
tsvs=()
for round in $(seq "$ROUNDS"); do
  order="forwarded in-process"
  [ $((round % 2)) = 0 ] && order="in-process forwarded"
  for mode in $order; do
    flag=""
    [ "$mode" = in-process ] && flag="--terminator-holds-keys"
    echo "key-custody: round $round/$ROUNDS, $mode" >&2
    out="$OUT_DIR/$mode-$round"
    EXTRA_NAME="certd-$mode" EXTRA_START="exec bash '$ROOT/bench/certd-peer.sh' $flag" OUT_DIR="$out" \
      bash "$PEERS_SCRIPT" $install >"$out.log" 2>&1 || { echo "key-custody: see $out.log" >&2; exit 1; }
    install=""
    tsvs+=("$(ls "$out"/tls-peers-*.tsv)")
  done
done
awk -F'\t' '
  FNR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
  $col["status"] != "ok" && $col["status"] != "noisy" { bad = bad " " $col["terminator"] "/" $col["key"] "/" $col["metric"] }
  { mode = $col["terminator"]; sub(/^certd-/, "", mode); cell = $col["key"] " " $col["metric"]
    cells[cell] = 1; n[cell, mode]++; pc[cell, mode, n[cell, mode]] = $col["per_core"] + 0
    v[cell, mode, n[cell, mode]] = $col["value"] + 0 }
  function median(cell, mode, arr,   k, m, i, j, t, a) {
    m = n[cell, mode]; for (i = 1; i <= m; i++) a[i] = arr[cell, mode, i]
    for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
    return m % 2 ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2 }
  END {
    printf "%-10s %-5s %12s %12s %7s %15s\n", "key", "metric", "fwd/cpu-s", "inproc/cpu-s", "ratio", "round ratios"
    for (cell in cells) {
      f = median(cell, "forwarded", pc); p = median(cell, "in-process", pc)
      rr = ""; lo = 1e9; hi = 0
      for (i = 1; i <= n[cell, "forwarded"] && i <= n[cell, "in-process"]; i++) {
        r = pc[cell, "in-process", i] > 0 ? pc[cell, "forwarded", i] / pc[cell, "in-process", i] : 0
        rr = rr sprintf(" %.3f", r); if (r < lo) lo = r; if (r > hi) hi = r }
      split(cell, kc, " ")
      printf "%-10s %-5s %12.1f %12.1f %7.3f  %s (spread %.3f)\n", kc[1], kc[2], f, p, (p > 0 ? f / p : 0), rr, hi - lo
    }
    if (bad != "") print "cells not ok:" bad
  }' "${tsvs[@]}" | tee "$OUT_DIR/summary.txt"
