#!/usr/bin/env bash
# Issue 15: ACME against a real CA on loopback, Let's Encrypt's pebble (Debian's 2.4), with real
# validation (PEBBLE_VA_NOSLEEP only skips its random delays). pebble's VA connects to the
# identifier (127.0.0.2, 127.0.0.3) on certd's port: certd-tls answers tls-alpn-01 there.
# Between certd and pebble, for the fault cases, runs acme_proxy.py (hold, drop, 500, bad JSON,
# wrong content type, a swapped certificate).
#   - end to end: CreateAcmeOrder (busctl), issued, assigned; openssl s_client sees pebble's chain,
#     verified against the root from pebble's management interface (/roots/0)
#   - ordinary clients during validation never get the challenge certificate; acme-tls/1 after it
#     gets the ordinary one
#   - renewal: a handshake loop sees the old then the new certificate, no failed handshake
#   - badNonce (PEBBLE_WFE_NONCEREJECT), wrong ca_bundle, pebble stopped mid-order, certd
#     SIGKILLed between finalize and download (resumes the same CA order), malformed answers
#   - certctl acme (list, show --json, renew, delete)
. "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)

command -v pebble >/dev/null || fail "pebble is not installed (apt-get install pebble)"
PEBBLE_PORT=$((PORT + 2))
MGMT_PORT=$((PORT + 3))
PROXY_PORT=$((PORT + 4))
CONTROL_PORT=$((PORT + 5))
HTTP01_PORT=$((PORT + 6))
DNS_PORT=$((PORT + 7))
CHALL_PORT=$((PORT + 8))
EAB_PORT=$((PORT + 9))
EAB_MGMT_PORT=$((PORT + 10))
PEBBLE_PID=
PROXY_PID=
LOOP_PIDS=()
acme_cleanup() {
  for p in "${LOOP_PIDS[@]}" $PEBBLE_PID $PROXY_PID; do kill "$p" 2>/dev/null || true; done
  cleanup
}
trap acme_cleanup EXIT
fail_acme() {
  [ -f "$WORK/pebble.log" ] && tail -n 30 "$WORK/pebble.log" | sed 's/^/  pebble: /' >&2
  fail "$@"
}

# pebble's HTTPS certificate (not shipped by Debian): a test CA, and a leaf for 127.0.0.1 that
# pebble and the proxy both serve. other-ca.pem trusts neither.
cd "$WORK"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem \
  -days 2 -subj /CN=acme-test-ca 2>/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout other-ca.key \
  -out other-ca.pem -days 2 -subj /CN=some-other-ca 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout https.key -out https.csr \
  -subj /CN=127.0.0.1 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\n' > https.ext
openssl x509 -req -in https.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile https.ext \
  -out https.pem 2>/dev/null
cat > pebble.json <<EOF
{"pebble": {"listenAddress": "127.0.0.1:$PEBBLE_PORT", "managementListenAddress": "127.0.0.1:$MGMT_PORT",
 "certificate": "$WORK/https.pem", "privateKey": "$WORK/https.key", "httpPort": $HTTP01_PORT,
 "tlsPort": $PORT, "ocspResponderURL": "", "externalAccountBindingRequired": false}}
EOF

# start_pebble [NONCE_REJECT_PERCENT]: a fresh pebble (it keeps nothing across restarts).
start_pebble() {
  : > pebble.log
  PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=${1:-0} PEBBLE_AUTHZREUSE=0 \
    pebble -config pebble.json -dnsserver "127.0.0.1:$DNS_PORT" >> pebble.log 2>&1 &
  PEBBLE_PID=$!
  wait_pebble "$PEBBLE_PID" "$PEBBLE_PORT" pebble.log
}
# wait_pebble PID PORT LOG: until that pebble answers on PORT (its log says "available" before it
# accepts); a pebble that exits (a port it cannot bind) fails the test at once, with its log.
pebble_answers() {
  curl -sf --cacert ca.pem "https://127.0.0.1:$2/dir" >/dev/null && return 0
  kill -0 "$1" 2>/dev/null || fail "pebble (port $2) exited: $(tail -n 20 "$3")"
  return 1
}
wait_pebble() { wait_until 60 "pebble_answers $1 $2 $3" || fail "pebble (port $2) did not answer within 60 s: $(tail -n 20 "$3")"; }
stop_pebble() { kill "$PEBBLE_PID"; wait "$PEBBLE_PID" 2>/dev/null || true; PEBBLE_PID=; }

python3 "$HERE/acme_proxy.py" "$PROXY_PORT" "$PEBBLE_PORT" https.pem https.key "$CONTROL_PORT" > proxy.log 2>&1 &
PROXY_PID=$!
wait_until 60 'grep -q listening proxy.log' || fail "acme_proxy.py did not start: $(cat proxy.log)"
control() { curl -sf "http://127.0.0.1:$CONTROL_PORT/$1" || fail "proxy control $1"; }
# wait_held WHAT: until the proxy holds one more request matching WHAT ("POST /certZ/") than before.
held_before() { HELD_BEFORE=$(grep -c "held $1" proxy.log || true); }
wait_held() {
  local what=$1
  wait_until 60 '[ "$(grep -c "held $what" proxy.log || true)" -gt "$HELD_BEFORE" ]' || fail_acme "no request '$what' came"
}

# Names resolve through pebble-challtestsrv: every A query answers 127.0.0.2 (no AAAA), and the
# dns-01 hook (acme_dns_hook.sh) sets TXT records through its management port.
pebble-challtestsrv -dns01 "127.0.0.1:$DNS_PORT" -management "127.0.0.1:$CHALL_PORT" -http01 "" -https01 "" \
  -tlsalpn01 "" -defaultIPv4 127.0.0.2 -defaultIPv6 "" > challtestsrv.log 2>&1 &
LOOP_PIDS+=($!)
wait_port 127.0.0.1 "$CHALL_PORT"
export ACME_TEST_CHALLTESTSRV="127.0.0.1:$CHALL_PORT" ACME_TEST_HOOK_LOG="$WORK/hook.log" ACME_TEST_HOOK_HANG="$WORK/hook.hang"
# Failed orders and renewals are retried after 2 s, 4 s, 8 s, ... (the default starts at 30 s).
CERTD_YAML=("acme_http_port: $HTTP01_PORT" "acme_dns_hook: $HERE/acme_dns_hook.sh" "acme_retry_seconds: 2")

DIRECT="https://127.0.0.1:$PEBBLE_PORT/dir"
PROXIED="https://127.0.0.1:$PROXY_PORT/dir"
start_pebble 0
start_bus
python3 -m http.server --bind 127.0.0.1 "$BACKEND_PORT" > backend.log 2>&1 &
LOOP_PIDS+=($!)
# Listening before certd-tls forwards to it: a connection it cannot forward is cut short (on a
# busy machine python starts slowly, and leaf_of's first connection came too early).
wait_port 127.0.0.1 "$BACKEND_PORT"
start_certd "${CERTD_YAML[@]}"
# Every signal certd emits, for PropertiesChanged and RenewalFailed.
gdbus monitor --system --dest org.certd1 > signals.log 2>&1 &
LOOP_PIDS+=($!)
wait_until 30 'grep -q "Monitoring signals" signals.log' || fail "gdbus monitor did not start"

A=org.certd1.AcmeOrder
# create_order DIRECTORY IDENTIFIER [extra a{sv} entries as "count|busctl words"]: prints the path.
# IDENTIFIER may be several, comma-separated. CONTACT (default admin@example.com) picks the account:
# a new contact is a new account, which has no valid authorization pebble could reuse (pebble 2.4
# reuses one about 1 % of the time even with PEBBLE_AUTHZREUSE=0), so its order must be validated.
create_order() {
  local dir=$1 extra_count=${3:-0} ids
  IFS=, read -r -a ids <<< "$2"
  shift 3 2>/dev/null || shift $#
  busctl --system call org.certd1 /org/certd1 org.certd1.Manager CreateAcmeOrder 'a{sv}' \
    $((4 + extra_count)) directory_url s "$dir" identifiers as ${#ids[@]} "${ids[@]}" contact s "${CONTACT:-admin@example.com}" \
    ca_bundle ay $(bytes_of "${BUNDLE:-ca.pem}") "$@" | awk '{print $2}' | tr -d '"'
}
state_of() { prop "$1" $A State | tr -d '"'; }
# wait_state PATH STATE...: until the order is in one of the states. An order that becomes
# invalid or failed instead (unless expected) fails the test at once.
reached() { # PATH STATES: the state is one of STATES, or invalid/failed
  local now
  now=$(state_of "$1")
  case " $2 invalid failed " in *" $now "*) return 0;; esac
  return 1
}
wait_state() {
  local path=$1; shift
  local states="$*" now
  wait_until 120 'reached "$path" "$states"' || true
  now=$(state_of "$path")
  case " $states " in *" $now "*) ;; *) fail_acme "$path is $now ($(prop "$path" $A Error)), expected: $states";; esac
}
leaf_of() { # ADDRESS [ALPN]: the SHA-256 fingerprint of the leaf certd-tls serves there, or ""
  local alpn=()
  [ -n "${2:-}" ] && alpn=(-alpn "$2")
  # Only the certificate counts: how the connection ended afterwards does not (nor may it end
  # the test through set -e); the callers compare what is printed, and fail on "".
  { echo | openssl s_client -connect "$1:$PORT" "${alpn[@]}" 2>/dev/null || true; } |
    { openssl x509 -noout -fingerprint -sha256 2>/dev/null || true; } | cut -d= -f2
}

# ---- end to end, with ordinary clients on the address throughout
curl -sf --cacert ca.pem "https://127.0.0.1:$MGMT_PORT/roots/0" > pebble-root.pem || fail_acme "no pebble root"
factory=$(leaf_of 127.0.0.2)
[ -n "$factory" ] || fail "certd-tls serves nothing on 127.0.0.2"
python3 "$HERE/acme_probe.py" 127.0.0.2 "$PORT" probe.stop > probe.log 2>&1 &
LOOP_PIDS+=($!)
wait_until 60 'grep -q "^handshake" probe.log' || fail "acme_probe.py made no handshake: $(cat probe.log)"
order=$(create_order "$DIRECT" 127.0.0.2 1 assign as 1 127.0.0.2)
case "$order" in /org/certd1/acme_order/*) ;; *) fail "CreateAcmeOrder returned '$order'";; esac
wait_state "$order" valid
cert=$(prop "$order" $A Certificate | tr -d '"')
[ "$cert" != "/" ] || fail "a valid order without a certificate"
wait_until 30 '[ "$(leaf_of 127.0.0.2)" != "$factory" ]' || fail "127.0.0.2 still serves the factory certificate"
touch probe.stop
wait "${LOOP_PIDS[-1]}" || fail "ordinary clients saw the challenge certificate or failed: $(tail -5 probe.log)"
unset 'LOOP_PIDS[-1]'
grep -q "challenge-certificates=0" probe.log || fail "probe summary: $(tail -1 probe.log)"
grep -q "failures=0" probe.log || fail "ordinary handshakes failed during validation: $(tail -1 probe.log)"
pass "ordinary clients during validation: $(tail -1 probe.log)"
echo | openssl s_client -connect 127.0.0.2:$PORT -CAfile pebble-root.pem -verify_ip 127.0.0.2 \
  -verify_return_error -showcerts > s_client.txt 2>&1 || fail "s_client does not verify pebble's chain: $(tail -20 s_client.txt)"
grep -q "Verify return code: 0 (ok)" s_client.txt || fail "chain not verified: $(grep Verify s_client.txt)"
grep -q "Pebble Intermediate CA" s_client.txt || fail "no pebble intermediate in the served chain"
[ "$(prop "$cert" org.certd1.Certificate Addresses)" = '1 "127.0.0.2"' ] ||
  fail "Addresses of the issued certificate: $(prop "$cert" org.certd1.Certificate Addresses)"
[ "$(prop "$order" $A NextRenewalUSec)" != 0 ] || fail "no NextRenewalUSec"
[ "$(leaf_of 127.0.0.2 acme-tls/1)" = "$(leaf_of 127.0.0.2)" ] || fail "acme-tls/1 after validation got another certificate"
pass "end to end: pebble issued for 127.0.0.2 over tls-alpn-01, served and verified against /roots/0"
grep -q "/org/certd1/acme_order/.*PropertiesChanged.*'State': <'valid'>" signals.log ||
  fail "no PropertiesChanged with State valid: $(grep acme_order signals.log | tail -3)"
pass "PropertiesChanged follows the order"

# ---- the account: an object of its own (its key, its URL at the CA, its orders)
AC=org.certd1.AcmeAccount
account=$(prop "$order" $A Account | tr -d '"')
case "$account" in /org/certd1/acme_account/*) ;; *) fail "Account of a valid order: '$account'";; esac
[ "$(prop "$account" $AC Url)" = "$(prop "$order" $A AccountUrl)" ] || fail "account Url $(prop "$account" $AC Url)"
case "$(prop "$account" $AC Url)" in "\"https://127.0.0.1:$PEBBLE_PORT/"*) ;; *) fail "account Url $(prop "$account" $AC Url)";; esac
[ "$(prop "$account" $AC DirectoryUrl)" = "\"$DIRECT\"" ] || fail "account DirectoryUrl $(prop "$account" $AC DirectoryUrl)"
[ "$(prop "$account" $AC Contact)" = '"admin@example.com"' ] || fail "account Contact $(prop "$account" $AC Contact)"
[ "$(prop "$account" $AC Key)" = "\"/org/certd1/key/${account##*/}\"" ] || fail "account Key $(prop "$account" $AC Key)"
[ "$(prop "/org/certd1/key/${account##*/}" org.certd1.Key Algorithm) $(prop "/org/certd1/key/${account##*/}" org.certd1.Key Bits)" = '"EC" 256' ] ||
  fail "the account key (ES256: EC P-256): $(prop "/org/certd1/key/${account##*/}" org.certd1.Key Algorithm)"
[ "$(prop "$account" $AC Orders)" = "1 \"$order\"" ] || fail "account Orders $(prop "$account" $AC Orders)"
python3 "$HERE/introspect_compare.py" "$HERE/../../dbus" "$account" --only || fail "AcmeAccount differs from its XML"
grep -q "InterfacesAdded (objectpath '$account'" signals.log || fail "no InterfacesAdded for the account: $(grep acme_account signals.log)"
pass "AcmeAccount: key, URL, directory, contact and orders of the account the order registered"

# ---- bad input: named errors, nothing stored
M=org.certd1.Manager.CreateAcmeOrder
[ "$(err_name /org/certd1 $M "{'directory_url': <'http://127.0.0.1:1/dir'>, 'identifiers': <['127.0.0.2']>}")" = org.certd1.Error.InvalidArgument ] || fail "http directory accepted"
[ "$(err_name /org/certd1 $M "{'directory_url': <'$DIRECT'>, 'identifiers': <@as []>}")" = org.certd1.Error.InvalidArgument ] || fail "no identifiers accepted"
[ "$(err_name /org/certd1 $M "{'directory_url': <'$DIRECT'>, 'identifiers': <['bad name!']>}")" = org.certd1.Error.InvalidArgument ] || fail "bad identifier accepted"
[ "$(err_name /org/certd1 $M "{'directory_url': <'$DIRECT'>, 'identifiers': <['127.0.0.2']>, 'challenge': <'dns-02'>}")" = org.certd1.Error.InvalidArgument ] || fail "unknown challenge accepted"
[ "$(err_name /org/certd1 $M "{'directory_url': <'$DIRECT'>, 'identifiers': <['127.0.0.2']>, 'colour': <'red'>}")" = org.certd1.Error.InvalidArgument ] || fail "unknown key accepted"
[ "$(err_name /org/certd1 $M "{'directory_url': <'$DIRECT'>, 'identifiers': <['127.0.0.2']>, 'assign': <['192.0.2.99']>}")" = org.certd1.Error.NotFound ] || fail "unknown assign address accepted"
[ "$(busctl --system tree org.certd1 --list | grep -c '^/org/certd1/acme_order/')" = 1 ] || fail "a refused CreateAcmeOrder left an order"
pass "bad specs: InvalidArgument / NotFound, nothing stored"

# ---- renewal under a handshake loop: old, then new, nothing failed. The renewal is automatic
# (3 s after issuance) and goes through the proxy, which holds the renewal's new CA order
# (the second POST /order-plz) until the loop runs on the old certificate: on a busy machine
# the loop may start later than 3 s after issuance.
fingerprint() { leaf_of "$1" | tr -d ':' | tr 'A-F' 'a-f' | cut -c1-16; }
held_before "POST /order-plz"
control "rule?prefix=/order-plz&action=hold&after=1" >/dev/null
renewing=$(create_order "$PROXIED" 127.0.0.3 2 assign as 1 127.0.0.3 renew_after_seconds u 3)
wait_state "$renewing" valid
first=$(prop "$renewing" $A Certificate | tr -d '"')
wait_until 30 '[ "$(fingerprint 127.0.0.3)" != "$(echo "$factory" | tr -d ":" | tr "A-F" "a-f" | cut -c1-16)" ]' || fail "127.0.0.3 not switched"
old=$(fingerprint 127.0.0.3)
rm -f probe.stop
python3 "$HERE/acme_probe.py" 127.0.0.3 "$PORT" probe.stop > probe.log 2>&1 &
LOOP_PIDS+=($!)
wait_until 60 'grep -q "^handshake" probe.log' || fail "acme_probe.py made no handshake: $(cat probe.log)"
wait_held "POST /order-plz" # the timer started the renewal by itself
control clear >/dev/null
control release >/dev/null
wait_until 120 '[ "$(prop "$renewing" $A Certificate | tr -d \")" != "$first" ]' || fail_acme "not renewed: $(prop "$renewing" $A Error)"
wait_until 30 '[ "$(fingerprint 127.0.0.3)" != "$old" ]' || fail "127.0.0.3 still serves the first certificate"
new=$(fingerprint 127.0.0.3)
busctl --system call org.certd1 "$renewing" $A Delete || fail "Delete of the renewing order"
touch probe.stop
wait "${LOOP_PIDS[-1]}" || fail "handshakes failed during renewal: $(tail -3 probe.log)"
unset 'LOOP_PIDS[-1]'
sequence=$(sed -n 's/^sequence=//p' probe.log)
case ",$sequence," in ",$old,"*) ;; *) fail "the loop did not start on the old certificate: $sequence (old $old)";; esac
case ",$sequence," in *",$new,"*) ;; *) fail "the loop never saw the new certificate: $sequence (new $new)";; esac
[ "$(echo "$sequence" | tr ',' '\n' | sort | uniq -d)" = "" ] || fail "a certificate came back after it was replaced: $sequence"
busctl --system introspect org.certd1 "$first" >/dev/null 2>&1 || fail "the old certificate is gone after its renewal"
! busctl --system introspect org.certd1 "$renewing" >/dev/null 2>&1 || fail "the deleted order is still on the bus"
pass "renewal: $(tail -1 probe.log), leaves in order: $sequence"

# ---- a renewal that fails (pebble down) keeps the old certificate serving, says so, and is
# retried with exponential back-off until it succeeds: here from a new pebble that rejects 60 %
# of nonces (badNonce) and knows no account (the key registers again)
served=$(fingerprint 127.0.0.2)
stop_pebble
busctl --system call org.certd1 "$order" $A Renew || fail "Renew"
wait_until 120 '[ "$(prop "$order" $A ErrorName)" = "\"org.certd1.Error.FetchFailed\"" ]' ||
  fail "renewal without pebble: ErrorName $(prop "$order" $A ErrorName)"
[ "$(state_of "$order")" = valid ] || fail "a failed renewal changed the state to $(state_of "$order")"
[ "$(fingerprint 127.0.0.2)" = "$served" ] || fail "a failed renewal changed what 127.0.0.2 serves"
wait_until 30 'grep -q "RenewalFailed (.org.certd1.Error.FetchFailed" signals.log' || fail "no RenewalFailed signal: $(grep -i renewal signals.log)"
retries() { grep "ACME order ${order##*/}: renewal failed" "$WORK/certd.log" | sed -n 's/.*retry in \([0-9]*\) s.*/\1/p' | tr '\n' ' '; }
wait_until 60 'case "$(retries)" in "2 4 "*) true;; *) false;; esac' || fail "renewal retries waited: $(retries)(expected 2 4 ...)"
[ "$(grep -c "RenewalFailed (.org.certd1.Error.FetchFailed" signals.log)" -ge 2 ] || fail "one RenewalFailed per failed retry"
[ "$(fingerprint 127.0.0.2)" = "$served" ] || fail "failed retries changed what 127.0.0.2 serves"
pass "failed renewal: old certificate serves, Error set, RenewalFailed emitted, retried after $(retries)s"
start_pebble 60
wait_until 120 '[ "$(prop "$order" $A Certificate)" != "\"$cert\"" ]' || fail_acme "not renewed by a retry: $(prop "$order" $A Error)"
renewed=$(prop "$order" $A Certificate | tr -d '"')
[ "$(prop "$order" $A ErrorName)" = '""' ] || fail "Error left after a renewal: $(prop "$order" $A Error)"
wait_until 30 '[ "$(fingerprint 127.0.0.2)" != "$served" ]' || fail "127.0.0.2 still serves the old certificate"
grep -q "badNonce" "$WORK/certd.log" || fail "pebble rejected no nonce at 60 % (PEBBLE_WFE_NONCEREJECT)"
[ "$(prop "$account" $AC Url)" = "$(prop "$order" $A AccountUrl)" ] || fail "account Url after registering again: $(prop "$account" $AC Url)"
pass "retried renewal from the new pebble: $(grep -c badNonce "$WORK/certd.log") refused nonces retried; account registered again"
stop_pebble
start_pebble 0

# fail_order DIRECTORY IDENTIFIER ERROR_NAME TEXT: an order that must fail with that error.
expect_failure() {
  local path=$1 name=$2 text=$3
  wait_state "$path" failed invalid
  [ "$(prop "$path" $A ErrorName)" = "\"$name\"" ] || fail "$path: ErrorName $(prop "$path" $A ErrorName), expected $name ($(prop "$path" $A Error))"
  prop "$path" $A Error | grep -q -- "$text" || fail "$path: Error $(prop "$path" $A Error) lacks '$text'"
  kill -0 "$CERTD_PID" || fail "certd died"
  busctl --system call org.certd1 "$path" $A Delete || fail "Delete $path"
}

# ---- a CA bundle that does not trust the server
wrong=$(BUNDLE=other-ca.pem create_order "$DIRECT" 127.0.0.3 0)
expect_failure "$wrong" org.certd1.Error.FetchFailed "not trusted"
pass "wrong ca_bundle: FetchFailed, not trusted"

# ---- misbehaving server answers (through the proxy)
for rule in "/order-plz badjson AcmeFailed not.valid.JSON" "/authZ/ badtype AcmeFailed Content-Type" \
            "/dir status500 AcmeFailed HTTP.500" "/certZ/ swapcert KeyMismatch not.for.the.order"; do
  set -- $rule
  control "swap?file=$WORK/https.pem" >/dev/null
  control "rule?prefix=$1&action=$2" >/dev/null
  bad=$(create_order "$PROXIED" 127.0.0.3 0)
  expect_failure "$bad" "org.certd1.Error.$3" "${4//./ }"
  control clear >/dev/null
done
pass "malformed JSON, wrong content type, HTTP 500, a chain for another key: named errors on the order"

# ---- pebble stopped mid-order (while the finalize request is on its way)
before=$(control "count?prefix=/order-plz")
held_before "POST /finalize-order/"
control "rule?prefix=/finalize-order/&action=hold" >/dev/null
stopped=$(create_order "$PROXIED" 127.0.0.3 1 assign as 1 127.0.0.3)
wait_held "POST /finalize-order/"
stop_pebble
control clear >/dev/null # first: libcurl sends a request again once when a reused connection dies
control "release?action=drop" >/dev/null
wait_state "$stopped" failed
[ "$(prop "$stopped" $A ErrorName)" = '"org.certd1.Error.FetchFailed"' ] || fail "pebble gone: $(prop "$stopped" $A ErrorName) $(prop "$stopped" $A Error)"
start_pebble 0
# A retry (2 s, 4 s, ...: the order stays failed until one succeeds), from the next pebble.
wait_until 120 '[ "$(state_of "$stopped")" = valid ]' || fail_acme "no retry made $stopped valid: $(prop "$stopped" $A Error)"
pass "pebble stopped mid-order: failed (FetchFailed), then valid from the next pebble on its own"

# ---- certd SIGKILLed between finalize and download: the same CA order is resumed
held_before "POST /certZ/"
control "rule?prefix=/certZ/&action=hold" >/dev/null
killed=$(create_order "$PROXIED" 127.0.0.3 1 assign as 1 127.0.0.3)
wait_held "POST /certZ/"
orders=$(control "count?prefix=/order-plz")
kill -9 "$CERTD_PID"; wait "$CERTD_PID" 2>/dev/null || true
CERTD_PID=
control clear >/dev/null
control "release?action=drop" >/dev/null
start_certd "${CERTD_YAML[@]}"
wait_state "$killed" valid
[ "$(control "count?prefix=/order-plz")" = "$orders" ] || fail "the restarted certd made a new CA order instead of resuming"
grep -q "ACME order ${killed##*/}: resuming" "$WORK/certd.log" || fail "no resume after the SIGKILL"
kcert=$(prop "$killed" $A Certificate | tr -d '"')
[ "$(prop "$kcert" org.certd1.Certificate Addresses)" = '1 "127.0.0.3"' ] || fail "the resumed order's certificate is not bound"
pass "SIGKILL between finalize and download: resumed the same CA order, certificate stored and bound"

# ---- certctl acme: order (RSA key, --wait), list, show, renew, delete, with --json
json_field() { python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
out=$("$CERTCTL" --json acme order --directory "$DIRECT" --identifier 127.0.0.3 --ca-bundle ca.pem \
  --contact admin@example.com --key-type rsa2048 --name "certctl order" --wait) || fail "certctl acme order: $out"
[ "$(echo "$out" | json_field State)" = valid ] || fail "certctl acme order --wait: $out"
cid=$(echo "$out" | json_field Id)
# Same server, contact and CA bundle as the first order: the same account, which now lists both
# orders (and said so).
[ "$(prop "/org/certd1/acme_order/$cid" $A Account)" = "\"$account\"" ] ||
  fail "a second order of admin@example.com: Account $(prop "/org/certd1/acme_order/$cid" $A Account)"
[ "$(prop "$account" $AC Orders | cut -d' ' -f1)" = 2 ] || fail "account Orders $(prop "$account" $AC Orders)"
grep -q "^$account: org.freedesktop.DBus.Properties.PropertiesChanged ('$AC', .*'Orders'" signals.log ||
  fail "no PropertiesChanged of the account's Orders: $(grep "$account" signals.log)"
ccert=$(echo "$out" | json_field Certificate)
[ "$(prop "$ccert" org.certd1.Certificate PublicKey)" = '"RSA (2048 Bits)"' ] || fail "key_type rsa2048: $(prop "$ccert" org.certd1.Certificate PublicKey)"
"$CERTCTL" acme list | grep "^$cid" | grep -q "valid" || fail "certctl acme list: $("$CERTCTL" acme list)"
[ "$("$CERTCTL" --json acme list | python3 -c 'import json, sys; print(len(json.load(sys.stdin)))')" -ge 2 ] ||
  fail "certctl --json acme list"
[ "$("$CERTCTL" --json acme show "certctl order" | json_field Certificate)" = "$ccert" ] || fail "certctl acme show by name"
"$CERTCTL" acme renew "$cid" > /dev/null || fail "certctl acme renew"
wait_until 120 '[ "$("$CERTCTL" --json acme show "$cid" | json_field Certificate)" != "$ccert" ]' ||
  fail_acme "certctl acme renew did not bring a new certificate: $("$CERTCTL" acme show "$cid")"
"$CERTCTL" acme accounts | grep "^${account##*/}" | grep -q "admin@example.com" || fail "certctl acme accounts: $("$CERTCTL" acme accounts)"
"$CERTCTL" --json acme accounts | python3 -c 'import json,sys; a=[x for x in json.load(sys.stdin) if x["Path"]==sys.argv[1]][0]; assert a["Url"].startswith("https://") and sys.argv[2] in a["Orders"]' "$account" "/org/certd1/acme_order/$cid" ||
  fail "certctl --json acme accounts: $("$CERTCTL" --json acme accounts)"
"$CERTCTL" acme show "$cid" | grep -q "^Account: *${account##*/} https://" || fail "certctl acme show: no account: $("$CERTCTL" acme show "$cid")"
"$CERTCTL" acme delete "$cid" | grep -q "Deleted ACME order" || fail "certctl acme delete"
[ "$(prop "$account" $AC Orders)" = "1 \"$order\"" ] || fail "account Orders after a Delete: $(prop "$account" $AC Orders)"
# The exit status is the outcome with --wait only: without it, the order was created (exit 0)
# even when it failed before certctl read it back (a CA not there fails it at once).
"$CERTCTL" acme order --directory https://127.0.0.1:1/dir --identifier 127.0.0.3 --name unreachable > /dev/null ||
  fail "certctl acme order without --wait: exit $?"
if "$CERTCTL" acme order --directory https://127.0.0.1:1/dir --identifier 127.0.0.3 --name unreachable-wait --wait > wait.out; then
  fail "certctl acme order --wait of a failing order: exit 0 ($(cat wait.out))"
fi
grep -q "^State: *failed" wait.out || fail "certctl acme order --wait: $(cat wait.out)"
"$CERTCTL" acme delete unreachable > /dev/null && "$CERTCTL" acme delete unreachable-wait > /dev/null || fail "certctl acme delete by name"
if "$CERTCTL" acme show "$cid" > show.out 2>&1; then fail "a deleted order still shows"; fi
grep -q "no ACME order" show.out || fail "certctl acme show of a deleted order: $(cat show.out)"
pass "certctl acme: order --wait, list, show, renew, delete (--json)"

# ---- DNS identifiers: tls-alpn-01 by SNI (pebble resolves www.example.test to 127.0.0.2 through
# challtestsrv), and dns-01 through the operator's hook, wildcard included
named=$(create_order "$DIRECT" www.example.test 0)
wait_state "$named" valid
ncert=$(prop "$named" $A Certificate | tr -d '"')
prop "$ncert" org.certd1.Certificate SubjectAlternativeNames | grep -q '"DNS" "www.example.test"' ||
  fail "SANs of the www.example.test certificate: $(prop "$ncert" org.certd1.Certificate SubjectAlternativeNames)"
pass "DNS identifier over tls-alpn-01 (SNI www.example.test on 127.0.0.2)"
wild=$(create_order "$DIRECT" "*.example.test,example.test" 1 challenge s dns-01)
wait_state "$wild" valid
wcert=$(prop "$wild" $A Certificate | tr -d '"')
prop "$wcert" org.certd1.Certificate SubjectAlternativeNames | grep -q '"DNS" "\*.example.test"' ||
  fail "SANs of the wildcard certificate: $(prop "$wcert" org.certd1.Certificate SubjectAlternativeNames)"
[ "$(grep -c "^add " hook.log)" = 2 ] && [ "$(grep -c "^remove " hook.log)" = 2 ] ||
  fail "dns-01 hook calls: $(cat hook.log)"
grep -q "^add \*.example.test _acme-challenge.example.test." hook.log || fail "hook arguments: $(cat hook.log)"
[ "$(err_name /org/certd1 $M "{'directory_url': <'$DIRECT'>, 'identifiers': <['*.example.test']>}")" = org.certd1.Error.InvalidArgument ] ||
  fail "a wildcard without dns-01 accepted"
[ "$(err_name /org/certd1 $M "{'directory_url': <'$DIRECT'>, 'identifiers': <['127.0.0.2']>, 'challenge': <'dns-01'>}")" = org.certd1.Error.InvalidArgument ] ||
  fail "an IP identifier with dns-01 accepted"
pass "dns-01 through acme_dns_hook: *.example.test + example.test issued; hook added and removed both records"

# ---- external account binding: a CA that requires it (a second pebble)
EAB_KEY=zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W
sed -e "s/:$PEBBLE_PORT\"/:$EAB_PORT\"/" -e "s/:$MGMT_PORT\"/:$EAB_MGMT_PORT\"/" \
  -e "s/\"externalAccountBindingRequired\": false/\"externalAccountBindingRequired\": true, \"externalAccountMACKeys\": {\"kid-1\": \"$EAB_KEY\"}/" \
  pebble.json > pebble-eab.json
PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0 pebble -config pebble-eab.json > pebble-eab.log 2>&1 &
LOOP_PIDS+=($!)
wait_pebble "${LOOP_PIDS[-1]}" "$EAB_PORT" pebble-eab.log
EAB_DIR="https://127.0.0.1:$EAB_PORT/dir"
noeab=$(create_order "$EAB_DIR" 127.0.0.3 0)
expect_failure "$noeab" org.certd1.Error.AcmeFailed "externalAccountRequired"
eab=$(create_order "$EAB_DIR" 127.0.0.3 2 eab_kid s kid-1 eab_hmac_key s "$EAB_KEY")
wait_state "$eab" valid
[ "$(err_name /org/certd1 $M "{'directory_url': <'$EAB_DIR'>, 'identifiers': <['127.0.0.3']>, 'eab_kid': <'kid-1'>}")" = org.certd1.Error.InvalidArgument ] ||
  fail "eab_kid without eab_hmac_key accepted"
eab_account=$(prop "$eab" $A Account | tr -d '"')
[ "$eab_account" != "$account" ] && [ "$(prop "$eab_account" $AC DirectoryUrl)" = "\"$EAB_DIR\"" ] ||
  fail "the EAB order's account: $eab_account $(prop "$eab_account" $AC DirectoryUrl)"
# Its last order deleted, the account goes, with its key.
busctl --system call org.certd1 "$eab" $A Delete || fail "Delete of the EAB order"
! busctl --system introspect org.certd1 "$eab_account" >/dev/null 2>&1 || fail "the account outlived its last order"
! busctl --system introspect org.certd1 "/org/certd1/key/${eab_account##*/}" >/dev/null 2>&1 || fail "the account key outlived its account"
grep -q "InterfacesRemoved (objectpath '$eab_account'" signals.log || fail "no InterfacesRemoved for the account: $(grep "$eab_account" signals.log)"
pass "external account binding: refused without it (externalAccountRequired), valid with it; its account gone with its order"

# ---- while a tls-alpn-01 challenge is pending: an acme-tls/1 client gets the challenge
# certificate and nothing after the handshake (never the backend); an ordinary one the backend
held_before "POST /chalZ/"
control "rule?prefix=/chalZ/&action=hold" >/dev/null
pending=$(CONTACT=alpn@example.com create_order "$PROXIED" 127.0.0.3 0)
wait_held "POST /chalZ/"
request='GET / HTTP/1.0\r\n\r\n'
printf "$request" | openssl s_client -connect "127.0.0.3:$PORT" -alpn acme-tls/1 -servername 3.0.0.127.in-addr.arpa \
  -ign_eof > acme-tls.out 2>&1 || true
grep -q "ALPN protocol: acme-tls/1" acme-tls.out || fail "acme-tls/1 not negotiated: $(grep -i alpn acme-tls.out)"
openssl x509 -in acme-tls.out -noout -text | grep -A1 "1.3.6.1.5.5.7.1.31: critical" > /dev/null ||
  fail "the acme-tls/1 client did not get the challenge certificate"
! grep -q "Directory listing\|HTTP/1.0 200" acme-tls.out || fail "an acme-tls/1 connection reached the backend"
printf "$request" | openssl s_client -connect "127.0.0.3:$PORT" -servername 3.0.0.127.in-addr.arpa -ign_eof \
  > ordinary.out 2>&1 || true
grep -q "HTTP/1.0 200" ordinary.out || fail "an ordinary client did not reach the backend: $(tail -5 ordinary.out)"
! openssl x509 -in ordinary.out -noout -text | grep -q "1.3.6.1.5.5.7.1.31" || fail "an ordinary client got the challenge certificate"
control clear >/dev/null
control release >/dev/null
wait_state "$pending" valid
grep -q "answered an ACME tls-alpn-01 challenge for 3.0.0.127.in-addr.arpa" "$WORK/certd.log" || fail "no challenge line in the log"
pass "pending tls-alpn-01: acme-tls/1 gets the challenge certificate and no backend; ordinary clients the backend"

# ---- http-01: certd-tls answers on acme_http_port only while an order needs it
http_refused() { ! curl -s -o /dev/null --max-time 5 "http://127.0.0.3:$HTTP01_PORT/" 2>/dev/null; }
http_refused || fail "something answers on the http-01 port before any http-01 order"
held_before "POST /chalZ/"
control "rule?prefix=/chalZ/&action=hold" >/dev/null
plain=$(CONTACT=http01@example.com create_order "$PROXIED" 127.0.0.3 1 challenge s http-01)
wait_held "POST /chalZ/"
status=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.3:$HTTP01_PORT/.well-known/acme-challenge/not-a-token")
[ "$status" = 404 ] || fail "an unknown token got HTTP $status"
status=$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.3:$HTTP01_PORT/.well-known/acme-challenge/x")
[ "$status" = 405 ] || fail "POST got HTTP $status"
control clear >/dev/null
control release >/dev/null
wait_state "$plain" valid
wait_until 30 'http_refused' || fail "the http-01 port stays open after the order"
grep -q "answering ACME http-01 on 127.0.0.3:$HTTP01_PORT" "$WORK/certd.log" || fail "no http-01 responder in the log"
pass "http-01: served on acme_http_port during validation (404/405 for anything else), closed afterwards"

# ---- certd stopping while a dns-01 hook hangs: certd stops the hook and what the hook started
# (its process group) at once, instead of waiting out the hook's 120 s bound
touch hook.hang
CONTACT=hang@example.com create_order "$DIRECT" hang.example.test 1 challenge s dns-01 > /dev/null
wait_until 60 'grep -q "^hung " hook.log' || fail "the hanging dns-01 hook did not start: $(cat hook.log)"
read -r _ hook_pid hook_child < <(grep "^hung " hook.log)
stop_certd
grep -q "dns-01 hook .*: stopped, certd is stopping" "$WORK/certd.log" || fail "certd did not stop the hanging hook"
for p in "$hook_pid" "$hook_child"; do
  ! ps -o stat= -p "$p" | grep -qv Z || fail "process $p of the dns-01 hook outlived certd: $(ps -o pid,stat,args -p "$p")"
done
pass "certd stops a hanging dns-01 hook and its children when it stops, and exits cleanly"
