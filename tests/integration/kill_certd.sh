#!/usr/bin/env bash
# certd killed with SIGKILL at random instants during streams of mutating bus calls
# from CERTD_KILL_WRITERS (4) clients at once, CERTD_KILLS times (default 500): every
# restart loads, every call that had replied is there, and the store never needs repair
# (nothing half there). CERTD_KILL_PREFILL=N first lays out a store of N certificates with
# their keys (bench/store-fill), for the kills against a large store (docs/reliability.md).
. "$(dirname "$0")/lib.sh"
KILLS=${CERTD_KILLS:-500}
start_bus
if [ "${CERTD_KILL_PREFILL:-0}" -gt 0 ]; then
  "$BUILD_DIR/bench/store-fill" "$WORK/state" "$CERTD_KILL_PREFILL" >/dev/null
fi
start_certd
M=(org.certd1 /org/certd1 org.certd1.Manager)
: > "$WORK/acked"
writer() {   # mutations until killed; a name is written to "acked" only after its reply
  local i=0
  while :; do
    i=$((i + 1))
    local name="k$1-$i"
    busctl --system --timeout=5 call "${M[@]}" CreateRequest 'a{sv}' 3 key_type s ec-p256 \
      common_name s "$name.example.com" friendly_name s "$name" >/dev/null 2>&1 || return 0
    echo "$name" >> "$WORK/acked"
  done
}
# Several writers at once, so that the calls of one group commit are in flight together
# when the kill comes: each reply means durable, whatever else its group held.
WRITERS=${CERTD_KILL_WRITERS:-4}
for k in $(seq "$KILLS"); do
  W=()
  for w in $(seq "$WRITERS"); do writer "$k.$w" & W+=($!); done
  # The random instant of the kill is what this test is about, not a wait for an event.
  sleep "0.0$((RANDOM % 10))$((RANDOM % 10))"
  kill -KILL "$CERTD_PID"; wait "$CERTD_PID" 2>/dev/null || true; CERTD_PID=
  wait "${W[@]}" 2>/dev/null || true
  start_certd
  # Every acknowledged request is there (one GetManagedObjects call).
  busctl --system call org.certd1 /org/certd1 org.freedesktop.DBus.ObjectManager GetManagedObjects \
    --json=short > "$WORK/objects.json"
  python3 - "$WORK/objects.json" "$WORK/acked" <<'PY' || fail "after kill $k an acknowledged request is missing"
import json, sys
objs = json.load(open(sys.argv[1]))["data"][0]
names = {ifaces["org.certd1.Request"]["FriendlyName"]["data"]
         for ifaces in objs.values() if "org.certd1.Request" in ifaces}
missing = [n for n in open(sys.argv[2]).read().split() if n not in names]
if missing:
    print("missing:", missing[:5]); sys.exit(1)
PY
done
# A crash may leave temp files or blobs not yet referenced (cleaned at start-up), but never
# a state.yaml entry without its blob.
grep -q "dropped\|missing" "$WORK/certd.log" && fail "a restart found state referring to missing files: $(grep -m3 'dropped\|missing' "$WORK/certd.log")"
pass "$KILLS kills of certd during bus mutations: $(wc -l < "$WORK/acked") acknowledged calls, all present after every restart"
