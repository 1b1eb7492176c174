#!/usr/bin/env bash
# fsyncs per transaction with group commit: 100 transactions of each kind (create: a key and
# a certificate; rename: one friendly name) in groups of 1 and of 50, counted with strace.
# Usage: bench/store-group.sh [BUILD_DIR] [COUNT]
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$SRC/build}
COUNT=${2:-100}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
printf "%-8s %6s %8s %12s %10s\n" kind group fsyncs fsyncs_per_tx ms_per_tx
for kind in create rename; do
  for group in 1 50; do
    rm -rf "$WORK/store"
    # The store's open and first commit are not part of the figure: measure them alone and subtract.
    strace -f -c -e trace=fsync,fdatasync -o "$WORK/base" "$BUILD/bench/store-group" "$WORK/store" 0 1 "$kind" >/dev/null
    rm -rf "$WORK/store"
    out=$(strace -f -c -e trace=fsync,fdatasync -o "$WORK/trace" "$BUILD/bench/store-group" "$WORK/store" "$COUNT" "$group" "$kind")
    total() { awk '$NF == "fsync" || $NF == "fdatasync" { n += $4 } END { print n + 0 }' "$1"; }
    n=$(( $(total "$WORK/trace") - $(total "$WORK/base") ))
    ms=$(echo "$out" | sed -E 's/.*, ([0-9.]+) ms per transaction/\1/')
    awk -v k="$kind" -v g="$group" -v n="$n" -v c="$COUNT" -v ms="$ms" \
      'BEGIN { printf "%-8s %6d %8d %12.2f %10s\n", k, g, n, n / c, ms }'
  done
done
