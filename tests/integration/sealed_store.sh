#!/usr/bin/env bash
# Keys sealed at rest (issue 13, opt-in): certd gets a key-encryption key as the systemd
# credential certd-kek ($CREDENTIALS_DIRECTORY/certd-kek, as LoadCredentialEncrypted= passes it;
# here a plain file). A store made without one is sealed at the next start; the state
# directory then holds no key's secret values; TLS is served; without the credential, or with
# another one, certd refuses to start, says why, and the directory is byte for byte unchanged.
. "$(dirname "$0")/lib.sh"
start_bus
start_certd
"$CERTCTL" create-self-signed --name web --key-type ec-p256 --cn web.test --san IP:127.0.0.2 >/dev/null 2>&1
"$CERTCTL" create-self-signed --name rsa --key-type rsa2048 --cn rsa.test >/dev/null 2>&1
"$CERTCTL" create-request --name req --key-type ec-p384 --cn req.test >/dev/null
"$CERTCTL" assign 127.0.0.2 web >/dev/null 2>&1
for k in web rsa; do "$CERTCTL" export "$k" --key --format pkcs8 --no-cert -o "$WORK/$k.pem" >/dev/null; done
stop_certd
n=$(ls "$WORK"/state/keys/*.key | wc -l)
[ "$n" = 4 ] || fail "expected 4 key files (factory, web, rsa, req), found $n"
for f in "$WORK"/state/keys/*.key; do
  openssl pkey -inform DER -in "$f" -noout 2>/dev/null || fail "$f is not plain PKCS#8 before sealing"
done

# Every secret value (both byte orders, and pieces) of the exported keys, searched in every file.
scan_dir() {
  python3 - "$1" "$WORK/web.pem" "$WORK/rsa.pem" <<'PY'
import os, subprocess, sys
sys.path.insert(0, os.path.join(os.environ["HERE"]))
from memscan import secrets_of
hits = 0
for root, _, files in os.walk(sys.argv[1]):
    for name in files:
        data = open(os.path.join(root, name), "rb").read()
        for pem in sys.argv[2:]:
            for value, be in secrets_of(pem):
                for needle in (be, be[::-1], be[:16], be[-16:]):
                    if needle in data:
                        hits += 1
                        print("found", value, "of", pem, "in", name)
print(hits)
PY
}
export HERE="$(cd "$(dirname "$0")" && pwd)"
[ "$(scan_dir "$WORK/state" | tail -1)" -gt 0 ] || fail "control: the plain store should show its keys"

mkdir -p "$WORK/creds" "$WORK/wrong"
head -c 32 /dev/urandom > "$WORK/creds/certd-kek"
head -c 32 /dev/urandom > "$WORK/wrong/certd-kek"
export CREDENTIALS_DIRECTORY="$WORK/creds"
start_certd
grep -q "sealed 4 plain key file(s)" "$WORK/certd.log" || fail "no migration line in the log"
fp() { openssl s_client -connect "127.0.0.2:$PORT" </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256; }
[ "$(fp)" = "$(openssl x509 -in <("$CERTCTL" export web --format pem -o -) -noout -fingerprint -sha256)" ] \
  || fail "127.0.0.2 does not serve web after the migration"
"$CERTCTL" create-self-signed --name new --key-type ec-p256 --cn new.test >/dev/null 2>&1
stop_certd
for f in "$WORK"/state/keys/*.key; do
  [ "$(head -c 8 "$f")" = CERTDKEY ] || fail "$f is not sealed"
  [ "$(stat -c %a "$f")" = 600 ] || fail "$f is not 0600"
done
found=$(scan_dir "$WORK/state")
[ "$(tail -1 <<<"$found")" = 0 ] || fail "key material in the sealed state directory: $found"
pass "a plain store is sealed at start-up (4 keys, then 1 new one sealed as written); no key's secret values in any file; TLS served"

# Without the credential, and with another: no start, a clear error, nothing changed.
before=$(cd "$WORK/state" && find . -type f -print0 | sort -z | xargs -0 sha256sum)
for creds in none "$WORK/wrong"; do
  if [ "$creds" = none ]; then unset CREDENTIALS_DIRECTORY; else export CREDENTIALS_DIRECTORY="$creds"; fi
  set +e
  CERTD_LOG_STDERR=1 "$CERTD" --config "$WORK/certd.yaml" > "$WORK/refused.log" 2>&1
  rc=$?
  set -e
  [ "$rc" != 0 ] || fail "certd started with a sealed store and credential '$creds'"
  if [ "$creds" = none ]; then
    grep -q "are sealed and certd has no key-encryption key: give it the credential certd-kek" "$WORK/refused.log" \
      || fail "unclear error without the credential: $(cat "$WORK/refused.log")"
  else
    grep -q "the key-encryption key does not open keys/" "$WORK/refused.log" \
      || fail "unclear error with the wrong credential: $(cat "$WORK/refused.log")"
  fi
  after=$(cd "$WORK/state" && find . -type f -print0 | sort -z | xargs -0 sha256sum)
  [ "$before" = "$after" ] || fail "the state directory changed when start-up was refused ($creds)"
done
pass "without the credential, or with another, certd refuses to start ($(grep -o 'certd: .*' "$WORK/refused.log" | head -1 | cut -c1-90)...) and changes nothing"

export CREDENTIALS_DIRECTORY="$WORK/creds"
start_certd
[ "$("$CERTCTL" --json keys | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" = 5 ] \
  || fail "the keys are not all there with the right credential"
"$CERTCTL" export rsa --key --format pkcs8 --no-cert -o "$WORK/rsa-again.pem" >/dev/null
cmp -s <(openssl pkey -in "$WORK/rsa.pem" -outform DER) <(openssl pkey -in "$WORK/rsa-again.pem" -outform DER) \
  || fail "the RSA key read back from the sealed store differs"
stop_certd
pass "with the right credential every key is back (an export matches the one before sealing)"
