#!/usr/bin/env bash
# Slow calls off the bus thread (issue 12): reads are answered while a FetchIssuer hangs on a
# server that never answers and while RSA-4096 keys are made; downloads run at most four at a
# time; a flood from one caller is capped (Busy) and does not starve another caller; the
# terminator recovers from SIGKILL while slow calls run; conflicting calls behave as if serial
# (docs/api.md, "Concurrent calls"). Every check is about order (what was answered before
# what), synchronised on events: the hung server's log, GetStatus's PendingSlowCalls.
. "$(dirname "$0")/lifecycle_lib.sh"
start_bus
start_certd

HUNG_PID=
slow_cleanup() {
  if [ -n "$HUNG_PID" ]; then kill "$HUNG_PID" 2>/dev/null || true; wait "$HUNG_PID" 2>/dev/null || true; fi
  lifecycle_cleanup
}
trap slow_cleanup EXIT

: > "$WORK/hung.log" # exists before the server's redirect: the wait below reads it at once
python3 -u "$(dirname "$0")/hung_http.py" > "$WORK/hung.log" 2>&1 &
HUNG_PID=$!
wait_until 60 'grep -q "^port " "$WORK/hung.log"' || fail "the hung server did not start"
hung="http://127.0.0.1:$(sed -n 's/^port //p' "$WORK/hung.log")"

pending() { busctl --system call org.certd1 /org/certd1 org.certd1.Manager GetStatus | grep -o '"PendingSlowCalls" u [0-9]*' | awk '{print $3}'; }
accepted() { grep -c '^accept ' "$WORK/hung.log" || true; }
alive() { kill -0 "$1" 2>/dev/null; }
# call_bg NAME ARGS...: busctl call ARGS in the background; its output in $WORK/NAME.out, exit
# status in $WORK/NAME.rc; its pid in BG_PID.
call_bg() {
  local name=$1; shift
  ( set +e; busctl --system --timeout=600 call org.certd1 "$@" > "$WORK/$name.out" 2>&1; echo $? > "$WORK/$name.rc" ) &
  BG_PID=$!
}
rc_of() { cat "$WORK/$1.rc"; }
wait_done() { wait_until 300 "[ -s \"\$WORK/$1.rc\" ]" || fail "$1 did not return"; }
rsa4096() { call_bg "$1" /org/certd1 org.certd1.Manager CreateSelfSigned 'a{sv}' 2 key_type s rsa4096 common_name s "$1.example.com"; }

# ---------------------------------------------------------------- (a) a hung FetchIssuer
"$MAKE_TEST_PKI" "$WORK/hung" hung "$hung/issuer.der" "$hung/root.p7c"
busctl_import "$WORK/hung/leaf.pem" >/dev/null
leaf=$(cert_path "$WORK/hung/leaf.pem")
call_bg fetch1 "$leaf" org.certd1.Certificate FetchIssuer
fetch1=$BG_PID
wait_until 120 '[ "$(accepted)" -ge 1 ]' || fail "certd never connected to the hung server"
# certd is inside the download now: every kind of read must still be answered.
[ "$(cprop "$leaf" Subject)" = '"CN=hung.example.com"' ] || fail "property read during a hung FetchIssuer"
[ "$(pending)" -ge 1 ] || fail "GetStatus does not count the hung FetchIssuer"
cprop "$leaf" Warnings | grep -q chain-incomplete || fail "Warnings read during a hung FetchIssuer"
busctl --system call org.certd1 "$leaf" org.certd1.Certificate Check as 0 >/dev/null || fail "Check during a hung FetchIssuer"
busctl --system introspect org.certd1 /org/certd1 >/dev/null || fail "introspection during a hung FetchIssuer"
alive "$fetch1" && [ ! -s "$WORK/fetch1.rc" ] || fail "FetchIssuer returned before the reads (the test proves nothing)"
pass "reads, GetStatus, Check and introspection answered while FetchIssuer hangs"

# Downloads run four at a time: four more callers fill the slots, the fifth waits in the queue.
for n in 2 3 4 5; do call_bg "fetch$n" "$leaf" org.certd1.Certificate FetchIssuer; done
wait_until 120 'grep -q "^accept [0-9]* open 4$" "$WORK/hung.log"' || fail "four downloads did not start: $(cat "$WORK/hung.log")"
[ "$(pending)" = 5 ] || fail "five FetchIssuer calls should be in progress, GetStatus says $(pending)"
[ "$(cprop "$leaf" Subject)" = '"CN=hung.example.com"' ] || fail "property read with four hung downloads"
kill -USR1 "$HUNG_PID" # the held connections close: those downloads fail, the fifth starts
for n in 1 2 3 4 5; do wait_done "fetch$n"; done
for n in 1 2 3 4 5; do
  [ "$(rc_of "fetch$n")" != 0 ] && grep -q "cannot fetch issuer" "$WORK/fetch$n.out" \
    || fail "fetch$n: expected a failed download, got: $(cat "$WORK/fetch$n.out")"
done
# The fifth connection came only after the release: it had waited for a free slot.
awk '/^release/ {r=NR} /^accept 5 / {a=NR} END {exit !(r && a > r)}' "$WORK/hung.log" \
  || fail "the fifth download did not wait for a free slot: $(cat "$WORK/hung.log")"
! grep -q "open 5" "$WORK/hung.log" || fail "five downloads ran at once"
[ "$(pending)" = 0 ] || fail "slow calls left over: $(pending)"
pass "FetchIssuer: at most four downloads at once, the fifth queued; all fail cleanly when the server drops them"

# ---------------------------------------------------------------- (b) RSA-4096 generation
certs_before=$(busctl --system tree org.certd1 --list | grep -c '^/org/certd1/certificate/')
for n in 1 2; do rsa4096 "big$n"; done
wait_until 120 '[ "$(pending)" = 2 ]' || fail "two creations are not in progress (GetStatus: $(pending))"
[ "$(prop /org/certd1 org.certd1.Manager TerminatorState)" = '"running"' ] || fail "property read during key generation"
# Assign of a certificate still being made: it does not exist yet (objects appear at the commit).
[ "$(busctl --system tree org.certd1 --list | grep -c '^/org/certd1/certificate/')" = "$certs_before" ] \
  || fail "a certificate appeared before its creation returned"
[ "$(err_name /org/certd1 org.certd1.Manager.Assign 127.0.0.2 /org/certd1/certificate/00000000000000000000000000000000 "{}")" = org.certd1.Error.NotFound ] \
  || fail "Assign of a certificate that does not exist yet is not NotFound"
[ "$(pending)" -ge 1 ] || fail "the creations returned before the reads (the test proves nothing)"
for n in 1 2; do wait_done "big$n"; [ "$(rc_of "big$n")" = 0 ] || fail "big$n: $(cat "$WORK/big$n.out")"; done
big1=$(awk '{print $2}' "$WORK/big1.out" | tr -d '"')
[ "$(cprop "$big1" PublicKey)" = '"RSA (4096 Bits)"' ] || fail "big1 is not RSA 4096: $(cprop "$big1" PublicKey)"
pass "reads and Assign answered while RSA-4096 keys are made; the certificates appear when created"

# ---------------------------------------------------------------- (c) terminator killed meanwhile
tls_pid=$(pgrep -P "$CERTD_PID" -x certd-tls) || fail "no certd-tls child of certd"
rsa4096 kill1
wait_until 120 '[ "$(pending)" = 1 ]' || fail "the creation is not in progress"
kill -9 "$tls_pid"
wait_until 120 'p=$(pgrep -P "$CERTD_PID" -x certd-tls) && [ "$p" != "$tls_pid" ] && [ "$(prop /org/certd1 org.certd1.Manager TerminatorState)" = "\"running\"" ]' \
  || fail "the terminator did not come back"
wait_done kill1; [ "$(rc_of kill1)" = 0 ] || fail "kill1: $(cat "$WORK/kill1.out")"
new=$(awk '{print $2}' "$WORK/kill1.out" | tr -d '"')
busctl --system call org.certd1 /org/certd1 org.certd1.Manager Assign 'soa{sv}' 127.0.0.2 "$new" 0 >/dev/null \
  || fail "Assign after the terminator's restart"
served=$(openssl s_client -connect "127.0.0.2:$PORT" -servername x </dev/null 2>"$WORK/s_client.err" \
  | openssl x509 -noout -fingerprint -sha256 | cut -d= -f2 | tr -d : | tr 'A-F' 'a-f') \
  || true # s_client fails when the terminator closes for want of a backend, after the handshake
[ "$served" = "$(cprop "$new" FingerprintSHA256 | tr -d '"')" ] || fail "the restarted terminator does not serve the new certificate: $(cat "$WORK/s_client.err")"
pass "terminator SIGKILLed during key generation: the calls succeed, the terminator restarts and serves"

# ---------------------------------------------------------------- conflicts behave as if serial
# Queue work in front (an RSA-4096 creation for each of certd's CPU workers: one per core
# but one, 1 to 8), so the calls below wait in the queue while the conflicting call runs
# on the bus thread.
HOLDS=$(( $(nproc) > 1 ? $(nproc) - 1 : 1 )); [ "$HOLDS" -le 8 ] || HOLDS=8
hold() { for n in $(seq "$HOLDS"); do rsa4096 "$1$n"; done; wait_until 120 '[ "$(pending)" = "$HOLDS" ]' || fail "hold: $(pending)"; }
release_hold() { for n in $(seq "$HOLDS"); do wait_done "$1$n"; [ "$(rc_of "$1$n")" = 0 ] || fail "$1$n: $(cat "$WORK/$1$n.out")"; done; }

# A key deleted while a request on it is being made: the deletion came first, the request
# finds no key (NotFound) and nothing is stored.
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$WORK/lone.key" 2>/dev/null
out=$(busctl_import "$WORK/lone.key")
key=$(echo "$out" | grep -o '"/org/certd1/key/[0-9a-f]*"' | tr -d '"')
[ -n "$key" ] || fail "lone key not imported: $out"
requests_before=$(busctl --system tree org.certd1 --list | grep -c '^/org/certd1/request/' || true)
hold h
call_bg csr /org/certd1 org.certd1.Manager CreateRequest 'a{sv}' 2 key o "$key" common_name s csr.example.com
wait_until 120 '[ "$(pending)" = $((HOLDS + 1)) ]' || fail "CreateRequest not queued"
busctl --system call org.certd1 "$key" org.certd1.Key Delete || fail "deleting the unused key"
wait_done csr
[ "$(rc_of csr)" != 0 ] || fail "CreateRequest on a key deleted meanwhile succeeded"
grep -q "was deleted while the request was being made" "$WORK/csr.out" || fail "csr: $(cat "$WORK/csr.out")"
[ "$(busctl --system tree org.certd1 --list | grep -c '^/org/certd1/request/' || true)" = "$requests_before" ] \
  || fail "a request was stored for a deleted key"
[ ! -e "$WORK/state/keys/$(basename "$key").key" ] || fail "the deleted key came back"
release_hold h
pass "key deleted while a request on it was being made: NotFound, nothing stored"

# Two imports of one PKCS#12 file at once: one copy stored, both return the same objects.
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$WORK/twin.key" -subj /CN=twin.example.com -days 30 \
  -out "$WORK/twin.pem" 2>/dev/null
openssl pkcs12 -export -inkey "$WORK/twin.key" -in "$WORK/twin.pem" -passout pass:twin -out "$WORK/twin.p12"
certs_before=$(busctl --system tree org.certd1 --list | grep -c '^/org/certd1/certificate/')
hold t
for n in 1 2; do
  call_bg "twin$n" /org/certd1 org.certd1.Manager Import 'aysa{sv}' $(bytes_of "$WORK/twin.p12") twin 0
done
wait_until 120 '[ "$(pending)" = $((HOLDS + 2)) ]' || fail "the two imports are not both in progress"
for n in 1 2; do wait_done "twin$n"; [ "$(rc_of "twin$n")" = 0 ] || fail "twin$n: $(cat "$WORK/twin$n.out")"; done
[ "$(grep -o '"/org/certd1/[a-z]*/[0-9a-f]*"' "$WORK/twin1.out")" = "$(grep -o '"/org/certd1/[a-z]*/[0-9a-f]*"' "$WORK/twin2.out")" ] \
  || fail "the two imports returned different objects: $(cat "$WORK/twin1.out") / $(cat "$WORK/twin2.out")"
release_hold t
[ "$(busctl --system tree org.certd1 --list | grep -c '^/org/certd1/certificate/')" = $((certs_before + HOLDS + 1)) ] \
  || fail "the twin certificate is not stored exactly once"
twin=$(cert_path "$WORK/twin.pem")
[ "$(cprop "$twin" HasPrivateKey)" = true ] || fail "the twin certificate lost its key"
pass "two imports of one PKCS#12 at once: stored once, both answered with the same objects"

# ---------------------------------------------------------------- a flood from one caller
"$SLOW_CALLS" flood 50 rsa2048 > "$WORK/flood.out" 2>&1 || fail "flood: $(cat "$WORK/flood.out")"
grep -q "too many" "$WORK/flood.out" || fail "the Busy message is unclear: $(cat "$WORK/flood.out")"
cat "$WORK/flood.out"
[ "$(pending)" = 0 ] || fail "slow calls left over after the flood: $(pending)"
pass "50 creations from one connection: capped with Busy; another caller and a read went first"

# ---------------------------------------------------------------- shutdown during a download
# SIGTERM while a FetchIssuer hangs: the download is cancelled and certd exits cleanly
# (stop_certd fails otherwise), without the caller's reply.
kill "$HUNG_PID"; wait "$HUNG_PID" 2>/dev/null || true
: > "$WORK/hung.log"
python3 -u "$(dirname "$0")/hung_http.py" > "$WORK/hung.log" 2>&1 &
HUNG_PID=$!
wait_until 60 'grep -q "^port " "$WORK/hung.log"' || fail "the second hung server did not start"
hung="http://127.0.0.1:$(sed -n 's/^port //p' "$WORK/hung.log")"
"$MAKE_TEST_PKI" "$WORK/hung2" hung2 "$hung/issuer.der" "$hung/root.p7c"
busctl_import "$WORK/hung2/leaf.pem" >/dev/null
call_bg last "$(cert_path "$WORK/hung2/leaf.pem")" org.certd1.Certificate FetchIssuer
wait_until 120 '[ "$(accepted)" -ge 1 ]' || fail "certd never connected to the second hung server"
stop_certd
wait_done last
[ "$(rc_of last)" != 0 ] || fail "FetchIssuer succeeded although certd stopped: $(cat "$WORK/last.out")"
pass "SIGTERM during a hung download: certd exits cleanly"
