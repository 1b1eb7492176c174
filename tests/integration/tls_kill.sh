#!/usr/bin/env bash
# certd's terminator SIGKILLed again and again (issue 6): the real certd on a private bus,
# certd-tls killed in bursts (each new one as soon as it serves) while a client loop makes TLS
# handshakes to an assigned address and a bus client loop calls certd (a property, the object
# tree, Assign). certd never blocks: every bus call replies. After each kill a new certd-tls
# runs and the address serves its certificate again; handshakes fail only in those gaps.
# Restarts back off when kills are rapid, and the backoff starts again after a stable run.
# Prints "figure: ..." lines.
#   TLS_KILL_BURSTS   bursts of 6 kills (default 5: 30 kills, about 80 s)
. "$(dirname "$0")/lifecycle_lib.sh"
BURSTS=${TLS_KILL_BURSTS:-5}
PER_BURST=6
start_bus
start_certd
M=(org.certd1 /org/certd1 org.certd1.Manager)

# Two certificates with keys, imported; 127.0.0.2 is assigned the first.
for n in a b; do
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$WORK/$n.key" \
    -out "$WORK/$n.pem" -days 30 -subj "/CN=kill-$n.example" 2>/dev/null
  cat "$WORK/$n.pem" "$WORK/$n.key" > "$WORK/$n+key.pem"
  busctl_import "$WORK/$n+key.pem" >/dev/null
done
A=$(cert_path "$WORK/a.pem")
B=$(cert_path "$WORK/b.pem")
busctl --system call "${M[@]}" Assign 'soa{sv}' 127.0.0.2 "$A" 0 >/dev/null
FP_A=$(openssl x509 -in "$WORK/a.pem" -outform DER | sha256sum | cut -d' ' -f1)
served_hex() {
  openssl s_client -connect "127.0.0.2:$PORT" </dev/null 2>/dev/null | openssl x509 -outform DER 2>/dev/null \
    | sha256sum | cut -d' ' -f1
}
[ "$(served_hex)" = "$FP_A" ] || fail "127.0.0.2 does not serve the assigned certificate"
[ "$(prop /org/certd1 org.certd1.Manager TerminatorState)" = '"running"' ] || fail "TerminatorState not running"
started_before=$(grep -c "certd-tls: started as pid" "$WORK/certd.log" || true)
pass "127.0.0.2 serves the assigned certificate; the terminator runs"

timeout 280 python3 "$(dirname "$0")/tls_kill.py" "$CERTD_PID" "$PORT" "$FP_A" "$A" "$B" "$BURSTS" "$PER_BURST" \
  > "$WORK/kill.out" 2>&1 || fail "tls_kill.py failed: $(tail -20 "$WORK/kill.out")"
grep -v '^result ' "$WORK/kill.out"
result() { sed -n "s/^result $1 //p" "$WORK/kill.out"; }
[ "$(result failure)" = - ] || fail "$(result failure)"
kills=$(result kills)
[ "$kills" = $((BURSTS * PER_BURST)) ] || fail "$kills kills done, not $((BURSTS * PER_BURST))"
started=$(($(grep -c "certd-tls: started as pid" "$WORK/certd.log") - started_before))
echo "figure: certd logged $started restarts of certd-tls for $kills kills"
[ "$started" = "$kills" ] || fail "certd logged $started restarts for $kills kills"
kill -0 "$CERTD_PID" || fail "certd died"
pass "$kills kills: each time a new certd-tls ran and 127.0.0.2 served its certificate again"

# certd never blocked: every call (property, tree, Assign) replied, and none took long.
[ "$(result bus_errors)" = 0 ] || fail "$(result bus_errors) bus calls failed: $(grep '^bus error' "$WORK/kill.out")"
[ "$(result bus_assigns)" -gt 10 ] || fail "too few bus calls during the kills: $(result bus_calls)"
[ "$(result bus_max_ms)" -lt 5000 ] || fail "a bus call took $(result bus_max_ms) ms"
pass "$(result bus_calls) bus calls during the kills all replied (max $(result bus_max_ms) ms)"

# Handshakes failed only while the terminator was down, and never got another certificate.
[ "$(result handshakes_ok)" -gt 0 ] || fail "no handshake succeeded"
[ "$(result handshakes_outside_gaps)" = 0 ] || fail "handshakes failed outside the restart gaps"
[ "$(result wrong_certificate)" = 0 ] || fail "127.0.0.2 served another certificate"
pass "handshakes failed only in the gaps after kills; always the assigned certificate"

# Backoff: within a burst the 5th restart waited longer than the 1st; after the stable pause
# the next burst's first restart is quick again (shorter than the previous burst's last).
prev_last=
for b in $(seq "$BURSTS"); do
  read -r -a d <<< "$(result "burst$b")"
  [ "${d[4]}" -gt "${d[0]}" ] || fail "burst $b: the 5th restart (${d[4]} ms) did not wait longer than the 1st (${d[0]} ms)"
  [ -z "$prev_last" ] || [ "${d[0]}" -lt "$prev_last" ] \
    || fail "burst $b: the backoff did not start again after a stable run (${d[0]} ms after $prev_last ms)"
  prev_last=${d[$((PER_BURST - 1))]}
done
pass "restarts back off under rapid kills and start quick again after a stable run"

# After it all: the address serves, the state is running, Assign works.
wait_until 60 '[ "$(prop /org/certd1 org.certd1.Manager TerminatorState)" = "\"running\"" ]' || true # checked below
[ "$(prop /org/certd1 org.certd1.Manager TerminatorState)" = '"running"' ] || fail "TerminatorState not running at the end"
[ "$(served_hex)" = "$FP_A" ] || fail "127.0.0.2 does not serve the assigned certificate at the end"
busctl --system call "${M[@]}" Assign 'soa{sv}' 127.0.0.2 "$B" 0 >/dev/null
[ "$(served_hex)" = "$(openssl x509 -in "$WORK/b.pem" -outform DER | sha256sum | cut -d' ' -f1)" ] \
  || fail "Assign after the kills did not reach the terminator"
pass "after the kills certd and its terminator work as before"
