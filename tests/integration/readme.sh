#!/usr/bin/env bash
# The README's two promises, as a new user meets them: `.ci/demo` runs certd with its terminator
# on the embedded demo configuration, and the "Using it" block, run as written in another shell
# at the top of the clone, works: request -> CA-signed certificate -> import (named after the
# request) -> assign -> curl through certd-tls -> PKCS#12 export that openssl reads back.
# The clone here is a copy of .ci/ and config/ with the build folder linked in; the demo uses
# its fixed ports (8443, backend 8080, Cockpit 9090), so it cannot run beside a developer's
# own .ci/demo.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/certd-readme-XXXXXX")
chmod 755 "$WORK"
DEMO_PID=
cleanup() {
  if [ -n "$DEMO_PID" ]; then
    kill "$DEMO_PID" 2>/dev/null || true
    wait "$DEMO_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  [ -f "$WORK/demo.log" ] && sed 's/^/  demo: /' "$WORK/demo.log" | tail -40 >&2
  exit 1
}
pass() { echo "ok: $*"; }

in_use() { python3 -c "import socket,sys; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('$1', $2))" 2>/dev/null && return 1 || return 0; }
for endpoint in "127.0.0.2 8443" "127.0.0.1 8080" "127.0.0.1 9090" "127.0.0.1 14000" "127.0.0.1 15000"; do
  # shellcheck disable=SC2086
  in_use $endpoint && fail "${endpoint/ /:} is in use (is a .ci/demo running?); the README's demo needs it"
done

clone=$WORK/clone
mkdir -p "$clone"
cp -r "$SRC/.ci" "$SRC/config" "$SRC/README.md" "$clone/"
ln -s "$BUILD_DIR" "$clone/build"

# The first README command (after .ci/install-deps): the demo, until it prints its instructions.
setsid "$clone/.ci/demo" >"$WORK/demo.log" 2>&1 &
DEMO_PID=$!
for _ in $(seq 1200); do
  grep -q "Ctrl-C stops certd" "$WORK/demo.log" && break
  kill -0 "$DEMO_PID" 2>/dev/null || fail ".ci/demo exited"
  sleep 0.05
done
grep -q "Ctrl-C stops certd" "$WORK/demo.log" || fail ".ci/demo did not print its instructions"
grep -q "^Terminator: *running" "$WORK/demo.log" || fail ".ci/demo's certctl status does not show a running terminator"
pass ".ci/demo runs certd and certd-tls ($(grep -c . "$WORK/demo.log") lines of output)"

# With the web page built, the demo serves it through Cockpit at the URL it prints.
if [ -f "$BUILD_DIR/web/index.js.gz" ]; then
  url=$(sed -n 's/^Open \(http:[^ ]*\) in a browser.*/\1/p' "$WORK/demo.log")
  [ "$url" = "http://127.0.0.1:9090/certd" ] || fail ".ci/demo printed no Cockpit URL (got '$url')"
  curl -fsS http://127.0.0.1:9090/cockpit/@localhost/certd/manifest.json | grep -q '"certd"' \
    || fail "Cockpit at 127.0.0.1:9090 does not serve the certd page"
  pass ".ci/demo serves the web page at $url"
fi

# The "Using it" block, exactly as the README has it.
awk '/^## Using it/ { on = 1 } on && /^```sh$/ { code = 1; next } code && /^```$/ { exit } code { print }' \
  "$clone/README.md" >"$WORK/using-it.sh"
[ "$(grep -c 'certctl' "$WORK/using-it.sh")" -ge 5 ] || fail "could not find the README's 'Using it' block"
(cd "$clone" && bash -euo pipefail "$WORK/using-it.sh") >"$WORK/using-it.log" 2>&1 \
  || { sed 's/^/  using-it: /' "$WORK/using-it.log" >&2; fail "the README's 'Using it' block failed"; }
grep -q "hello from the backend behind certd" "$WORK/using-it.log" \
  || { cat "$WORK/using-it.log" >&2; fail "the README's curl did not reach the backend through certd-tls"; }
pass "the README's 'Using it' block runs as written ($(wc -l <"$WORK/using-it.sh") lines)"

# What it promised: the certificate is called "shop", 127.0.0.2 serves it, the export reads back.
export DBUS_SYSTEM_BUS_ADDRESS=unix:path=$clone/demo/bus.sock
"$BUILD_DIR/client/certctl" list --json | python3 -c '
import json, sys
certs = json.load(sys.stdin)
shop = [c for c in certs if c["FriendlyName"] == "shop"]
assert len(shop) == 1, [c["FriendlyName"] for c in certs]
assert shop[0]["IssuedTo"] == "shop.example.com" and shop[0]["HasPrivateKey"], shop[0]
assert "127.0.0.2" in shop[0]["Addresses"], shop[0]' || fail "no certificate 'shop' with its key on 127.0.0.2"
served=$(openssl s_client -connect 127.0.0.2:8443 -servername shop.example.com -CAfile "$clone/ca.pem" \
  -verify_return_error </dev/null 2>/dev/null) || fail "127.0.0.2:8443 does not verify against the demo CA"
grep -q "subject=CN = shop.example.com" <<<"$served" || fail "127.0.0.2:8443 does not serve shop.example.com"
openssl pkcs12 -in "$clone/shop.p12" -passin "file:$clone/pass.txt" -nodes 2>/dev/null >"$WORK/p12.pem" \
  || fail "openssl pkcs12 cannot read shop.p12 with pass.txt"
grep -q "BEGIN PRIVATE KEY" "$WORK/p12.pem" || fail "shop.p12 lacks the private key"
[ "$(openssl x509 -in "$WORK/p12.pem" -noout -subject)" = "subject=CN = shop.example.com" ] \
  || fail "shop.p12's certificate is not shop.example.com"
pass "certificate 'shop' completes the request, is served on 127.0.0.2:8443 (verified), exports to PKCS#12"

# The ACME block, as written: pebble issues for 127.0.0.3 over tls-alpn-01, certd binds it.
awk '/^## Certificates that renew themselves/ { on = 1 } on && /^```sh$/ { code = 1; next } code && /^```$/ { exit } code { print }' \
  "$clone/README.md" >"$WORK/acme.sh"
grep -q 'certctl acme order' "$WORK/acme.sh" || fail "could not find the README's ACME block"
(cd "$clone" && bash -euo pipefail "$WORK/acme.sh") >"$WORK/acme.log" 2>&1 \
  || { sed 's/^/  acme: /' "$WORK/acme.log" >&2; fail "the README's ACME block failed"; }
grep -q "hello from the backend behind certd" "$WORK/acme.log" \
  || { cat "$WORK/acme.log" >&2; fail "the README's ACME curl did not reach the backend through certd-tls"; }
grep -q "^State: *valid" "$WORK/acme.log" || { cat "$WORK/acme.log" >&2; fail "the README's ACME order is not valid"; }
grep -q "https://127.0.0.1:14000/my-account/" "$WORK/acme.log" || { cat "$WORK/acme.log" >&2; fail "certctl acme accounts lists no pebble account"; }
served=$(openssl s_client -connect 127.0.0.3:8443 -CAfile "$clone/pebble-root.pem" -verify_ip 127.0.0.3 \
  -verify_return_error </dev/null 2>/dev/null) || fail "127.0.0.3:8443 does not verify against pebble's root"
grep -q "Pebble Intermediate CA" <<<"$served" || fail "127.0.0.3:8443 does not serve pebble's chain"
pass "the README's ACME block runs as written: pebble's certificate on 127.0.0.3:8443 (verified)"
