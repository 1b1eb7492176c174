#!/usr/bin/env bash
# Bus load (issue 6): a real certd on a private bus (started by the driver, as the test
# fixture does), THREADS client threads with one bus connection each, CALLS mixed calls
# together (reads, creates, imports, assigns, replaces, renames, deletes). Prints p50/p99/max
# latency per call type, throughput, certd's CPU and RSS (every tenth of the calls, after
# warm-up, at the end) and the stored objects before and after. Builds nothing: the driver is
# tests/bus-load of the build directory (`ninja -C BUILD tests/bus-load daemon/certd
# daemon/certd-tls`). Needs root, as the integration tests do.
#
#   bench/bus-load.sh [BUILD_DIR]      (default: build of this checkout)
#   THREADS [50]  CALLS [10000]  TIME_LIMIT [600] s for the calls (reported, not a failure)
#   RUNS [1]      repeat the whole run, to see the noise
#   BASELINE [1000]  then the same mix from one client thread, that many calls: the cost of
#                 each call without queueing behind 49 others (0: skip)
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$SRC/build}
THREADS=${THREADS:-50}; CALLS=${CALLS:-10000}; TIME_LIMIT=${TIME_LIMIT:-600}; RUNS=${RUNS:-1}
BASELINE=${BASELINE:-1000}
for f in tests/bus-load daemon/certd daemon/certd-tls; do
  [ -x "$BUILD/$f" ] || { echo "bus-load: $BUILD/$f missing: ninja -C $BUILD tests/bus-load daemon/certd daemon/certd-tls" >&2; exit 1; }
done
export CERTD=$BUILD/daemon/certd LC_ALL=C.UTF-8
echo "bus-load: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at start; $BUILD"
for run in $(seq 1 "$RUNS"); do
  [ "$RUNS" -gt 1 ] && echo "--- run $run of $RUNS"
  "$BUILD/tests/bus-load" --threads "$THREADS" --calls "$CALLS" --time-limit "$TIME_LIMIT"
done
if [ "$BASELINE" -gt 0 ]; then
  echo "--- baseline: one client thread, $BASELINE calls (no queueing)"
  "$BUILD/tests/bus-load" --threads 1 --calls "$BASELINE" --time-limit "$TIME_LIMIT"
fi
