#!/usr/bin/env bash
# bench/tls-bench.sh: certd-tls as the EXTRA column of the shared peer benchmark
# (../shared/bench/tls-peers.sh: HAProxy, nginx, hitch, stunnel in front of the same backend,
# same machine, same run). Results land in $OUT_DIR (default ./tls-peers-results).
#
#   bench/tls-bench.sh [--install] [tls-peers.sh options]
#   CERTD_TLS=/path/to/certd-tls   the binary (default: build/daemon/certd-tls of this checkout)
#   every knob of tls-peers.sh passes through (DURATION, PEERS, KEYS, METRICS, ...)
#
# certd-tls runs standalone (--listen/--cert/--key/--backend): the same data path, worker loop and
# contexts as under certd, without the supervisor. It is pinned by tls-peers.sh to SERVER_CPU, so
# it starts one worker (it sizes itself to the CPUs it may use).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PEERS_SCRIPT=$(cd "$ROOT/../shared/bench" 2>/dev/null && pwd)/tls-peers.sh
[ -x "$PEERS_SCRIPT" ] || [ -f "$PEERS_SCRIPT" ] || { echo "tls-bench: $ROOT/../shared/bench/tls-peers.sh not found" >&2; exit 1; }
CERTD_TLS=${CERTD_TLS:-$ROOT/build/daemon/certd-tls}
[ -x "$CERTD_TLS" ] || { echo "tls-bench: build certd-tls first (ninja -C build daemon/certd-tls)" >&2; exit 1; }

export EXTRA_NAME=certd-tls
export EXTRA_START="exec '$CERTD_TLS' --listen 127.0.0.1:\$PORT --cert \$CERT --key \$KEY --backend \$BACKEND"
exec bash "$PEERS_SCRIPT" "$@"
