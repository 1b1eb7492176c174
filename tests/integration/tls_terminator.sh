#!/usr/bin/env bash
# certd-tls driven by the real Supervisor (tls-driver): each address serves its own
# certificate with the full chain, curl fetches through to the backend, a new assignment is
# live when apply() returns, a bad certificate keeps the old one, TLS policy and resumption,
# restart after SIGKILL, and the unprivileged sandbox.
. "$(dirname "$0")/tls_lib.sh"
make_ca
make_leaf a
make_leaf b
make_leaf r rsa
start_http_backend
PORT=$(free_port)
start_driver
FP_A=$(fingerprint "$WORK/a.pem")
FP_B=$(fingerprint "$WORK/b.pem")
FP_R=$(fingerprint "$WORK/r.pem")

drv backend "tcp:127.0.0.1:$BACKEND_PORT"
drv cert a "$WORK/a.chain" "$WORK/a.key"
drv cert b "$WORK/b.chain" "$WORK/b.key"
drv cert r "$WORK/r.chain" "$WORK/r.key"
drv listen 127.0.0.2 "$PORT" a
drv listen 127.0.0.3 "$PORT" b
drv apply
[[ "$(status_of 127.0.0.2)" == "status 127.0.0.2 $PORT listening a - "* ]] || fail "127.0.0.2: $(status_of 127.0.0.2)"
[[ "$(status_of 127.0.0.3)" == "status 127.0.0.3 $PORT listening b - "* ]] || fail "127.0.0.3: $(status_of 127.0.0.3)"
pass "apply reports both listeners listening with their certificates"

[ "$(served 127.0.0.2)" = "$FP_A" ] || fail "127.0.0.2 does not serve a"
[ "$(served 127.0.0.3)" = "$FP_B" ] || fail "127.0.0.3 does not serve b"
out=$(openssl s_client -connect "127.0.0.2:$PORT" -showcerts -CAfile "$WORK/root.pem" 2>/dev/null </dev/null)
[ "$(echo "$out" | grep -c 'BEGIN CERTIFICATE')" = 2 ] || fail "the chain sent is not leaf + intermediate"
grep -q "Verify return code: 0 (ok)" <<<"$out" || fail "the chain does not verify against the root"
pass "each address serves its own certificate (by fingerprint) with the full chain"

body=$(curl -sS --cacert "$WORK/root.pem" "https://127.0.0.2:$PORT/hello.txt") || fail "curl via 127.0.0.2 failed"
[ "$body" = "hello through certd-tls" ] || fail "curl got '$body'"
body=$(curl -sS --cacert "$WORK/root.pem" --resolve "b.test:$PORT:127.0.0.3" "https://b.test:$PORT/hello.txt") \
  || fail "curl --resolve via 127.0.0.3 failed"
[ "$body" = "hello through certd-tls" ] || fail "curl --resolve got '$body'"
pass "curl --cacert fetches through to the plain HTTP backend"

drv listen 127.0.0.2 "$PORT" b
drv apply
[ "$(served 127.0.0.2)" = "$FP_B" ] || fail "the handshake right after apply did not get the new certificate"
drv listen 127.0.0.2 "$PORT" r
drv apply
[ "$(served 127.0.0.2)" = "$FP_R" ] || fail "the RSA certificate is not served right after apply"
pass "the very next handshake after apply() gets the newly assigned certificate (EC and RSA)"

# A key that does not belong to the certificate: named error, the address keeps serving r.
drv cert bad "$WORK/a.chain" "$WORK/b.key"
drv listen 127.0.0.2 "$PORT" bad
drv apply
st=$(status_of 127.0.0.2)
[[ "$st" == "status 127.0.0.2 $PORT listening r org.certd1.Error.KeyMismatch "* ]] || fail "bad cert status: $st"
[ "$(served 127.0.0.2)" = "$FP_R" ] || fail "a rejected certificate took the address's certificate away"
[ "$(served 127.0.0.3)" = "$FP_B" ] || fail "a rejected certificate disturbed another address"
pass "a certificate whose key does not match is rejected by name and the address keeps its certificate"
drv listen 127.0.0.2 "$PORT" a
drv apply

# TLS policy: Mozilla intermediate.
! handshake 127.0.0.2 -tls1 -cipher 'DEFAULT:@SECLEVEL=0' || fail "TLS 1.0 accepted"
! handshake 127.0.0.2 -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0' || fail "TLS 1.1 accepted"
handshake 127.0.0.2 -tls1_3 || fail "TLS 1.3 refused"
grep -q "TLSv1.3" "$WORK/hs.out" || fail "not TLS 1.3"
handshake 127.0.0.2 -tls1_2 -cipher ECDHE-ECDSA-AES128-GCM-SHA256 || fail "TLS 1.2 ECDHE-ECDSA-AES128-GCM refused"
handshake 127.0.0.2 -tls1_2 -cipher ECDHE-ECDSA-CHACHA20-POLY1305 || fail "TLS 1.2 ECDHE CHACHA20 refused"
drv listen 127.0.0.2 "$PORT" r
drv apply
handshake 127.0.0.2 -tls1_2 -cipher ECDHE-RSA-AES256-GCM-SHA384 || fail "TLS 1.2 ECDHE-RSA-AES256-GCM refused"
! handshake 127.0.0.2 -tls1_2 -cipher AES128-GCM-SHA256 || fail "TLS 1.2 RSA key exchange accepted"
! handshake 127.0.0.2 -tls1_2 -cipher ECDHE-RSA-AES128-SHA || fail "TLS 1.2 CBC suite accepted"
handshake 127.0.0.2 -tls1_3 -groups P-384 || fail "P-384 refused"
! handshake 127.0.0.2 -tls1_3 -groups ffdhe2048 || fail "ffdhe2048 accepted"
pass "TLS 1.0/1.1 refused; TLS 1.3 and TLS 1.2 ECDHE AEAD accepted; RSA kx and CBC refused"

# Resumption survives a swap (tickets sealed by the listener's front context).
for v in -tls1_3 -tls1_2; do
  printf 'GET /hello.txt HTTP/1.0\r\n\r\n' | timeout 20 openssl s_client -connect "127.0.0.2:$PORT" $v -ign_eof \
    -sess_out "$WORK/sess" >"$WORK/s1.out" 2>&1 || fail "first connection ($v) failed"
  grep -q "hello through certd-tls" "$WORK/s1.out" || fail "no response over $v"
  drv listen 127.0.0.2 "$PORT" a
  drv apply
  printf 'GET /hello.txt HTTP/1.0\r\n\r\n' | timeout 20 openssl s_client -connect "127.0.0.2:$PORT" $v -ign_eof \
    -sess_in "$WORK/sess" >"$WORK/s2.out" 2>&1 || fail "resumed connection ($v) failed"
  grep -q "^Reused, " "$WORK/s2.out" || fail "a session from before the swap did not resume ($v)"
  drv listen 127.0.0.2 "$PORT" r
  drv apply
done
pass "a session ticket from before a swap resumes after it (TLS 1.3 and 1.2)"
drv flush
drv apply
printf 'GET /hello.txt HTTP/1.0\r\n\r\n' | timeout 20 openssl s_client -connect "127.0.0.2:$PORT" -ign_eof \
  -sess_in "$WORK/sess" >"$WORK/s3.out" 2>&1 || fail "connection after flush failed"
grep -q "^New, " "$WORK/s3.out" || fail "a session resumed after flush"
pass "flush rotates ticket keys and drops the session cache: old sessions no longer resume"

drv profile modern
drv apply
! handshake 127.0.0.3 -tls1_2 || fail "modern profile accepted TLS 1.2"
handshake 127.0.0.3 -tls1_3 || fail "modern profile refused TLS 1.3"
drv profile intermediate
drv apply
handshake 127.0.0.3 -tls1_2 || fail "back to intermediate, TLS 1.2 refused: $(cat "$WORK/hs.out")"
pass "the modern profile serves TLS 1.3 only, switchable at run time"

# SIGKILL: the supervisor restarts it and every address serves again.
drv pid
old=${DRV_LAST#pid }
kill -9 "$old"
drv wait-restart "$old"
[ "$DRV_LAST" = running ] || fail "certd-tls was not restarted"
drv pid
new=${DRV_LAST#pid }
[ "$new" != "$old" ] && [ "$new" != 0 ] || fail "no new terminator process"
[ "$(served 127.0.0.2)" = "$FP_R" ] || fail "127.0.0.2 does not serve after the restart"
[ "$(served 127.0.0.3)" = "$FP_B" ] || fail "127.0.0.3 does not serve after the restart"
drv statuses
grep -q "^status 127.0.0.3 $PORT listening b" <<<"$DRV_OUT" || fail "statuses after restart: $DRV_OUT"
pass "after SIGKILL the supervisor restarts certd-tls and every address serves again"

# Removing a listener closes its socket; the other keeps serving.
drv unlisten 127.0.0.3 "$PORT"
drv apply
! handshake 127.0.0.3 || fail "127.0.0.3 still serves after its listener went away"
[ "$(served 127.0.0.2)" = "$FP_R" ] || fail "127.0.0.2 stopped serving"
pass "a listener that disappears is closed; the others are untouched"

# IPv6, when the host has ::1.
if python3 -c 'import socket; s=socket.socket(socket.AF_INET6); s.bind(("::1",0))' 2>/dev/null; then
  drv listen ::1 "$PORT" b
  drv apply
  [ "$(served '[::1]')" = "$FP_B" ] || fail "::1 does not serve b"
  pass "IPv6 listener serves its certificate"
fi

# The sandbox.
drv pid
pid=${DRV_LAST#pid }
if [ "$(id -u)" = 0 ]; then
  uid=$(awk '/^Uid:/ {print $2}' "/proc/$pid/status")
  gid=$(awk '/^Gid:/ {print $2}' "/proc/$pid/status")
  [ "$uid" != 0 ] && [ "$uid" = "$(id -u "$TLS_USER")" ] || fail "terminator uid is $uid"
  awk '/^Uid:/ {exit !($2 && $3 && $4 && $5)}' "/proc/$pid/status" || fail "some terminator uid is 0"
  awk '/^Groups:/ {exit NF != 1}' "/proc/$pid/status" || fail "terminator kept supplementary groups"
  for cap in CapPrm CapEff CapBnd_ignored CapAmb; do
    v=$(awk -v c="$cap:" '$1 == c {print $2}' "/proc/$pid/status")
    [ -z "$v" ] || [ "$v" = 0000000000000000 ] || fail "terminator has $cap $v"
  done
  grep -q '^NoNewPrivs:[[:space:]]*1' "/proc/$pid/status" || fail "NoNewPrivs not set"
  echo secret > "$WORK/root-only.key"; chmod 600 "$WORK/root-only.key"
  if setpriv --reuid="$uid" --regid="$gid" --clear-groups --inh-caps=-all cat "$WORK/root-only.key" >/dev/null 2>&1; then
    fail "the terminator's uid can read a 0600 root file"
  fi
  pass "as root, certd-tls runs as $TLS_USER (uid $uid), no capabilities, no_new_privs, cannot read a 0600 root file"
fi
python3 - "$pid" <<'PY' || fail "terminator is dumpable"
# A non-dumpable process's /proc files belong to root whatever its uid.
import os, sys
st = os.stat("/proc/%s/environ" % sys.argv[1])
sys.exit(0 if st.st_uid == 0 else 1)
PY
pass "certd-tls is not dumpable (no core dumps of key material)"
