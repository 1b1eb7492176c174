#!/usr/bin/env bash
# What an import names and what it refuses:
# - a certificate that completes a request takes the request's friendly name, unless the import
#   names it (certctl import --name, the friendly_name option);
# - a file pairing certificates with a private key that belongs to none of them (nor to any
#   stored certificate or request) is refused with KeyMismatch naming the key, and nothing from
#   it is stored; a file holding only a key stays valid.
. "$(dirname "$0")/lib.sh"
start_bus
cd "$WORK"
start_certd
CERTCTL=("$CERTCTL")

# A throwaway CA that signs what certd requests.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem -days 30 \
  -subj "/CN=Import Rules CA" 2>/dev/null
sign() { openssl x509 -req -in "$1" -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 -copy_extensions copy -out "$2" 2>/dev/null; }
cert_json() { # NAME: the one certificate called NAME, as certctl show --json prints it
  "${CERTCTL[@]}" --json show "$1"
}
names() { "${CERTCTL[@]}" --json list | python3 -c 'import json,sys; print(" ".join(sorted(c["FriendlyName"] for c in json.load(sys.stdin))))'; }

# The request's name, by default.
"${CERTCTL[@]}" create-request --name api --key-type ec-p256 --cn api.example.com -o api.csr >/dev/null
sign api.csr api.pem
"${CERTCTL[@]}" import api.pem >/dev/null
cert_json api | python3 -c '
import json, sys
c = json.load(sys.stdin)
assert c["IssuedTo"] == "api.example.com" and c["HasPrivateKey"], c' || fail "the certificate completing request 'api' is not called 'api'"
request=$(find_object request org.certd1.Request FriendlyName '"api"')
[ -n "$request" ] && [ "$(prop "$request" org.certd1.Request State)" = '"completed"' ] \
  || fail "request 'api' is not completed"
pass "a certificate completing request 'api' is called 'api'"

# --name wins over the request's name.
"${CERTCTL[@]}" create-request --name shop --key-type ec-p256 --cn shop.example.com -o shop.csr >/dev/null
sign shop.csr shop.pem
"${CERTCTL[@]}" import shop.pem --name storefront >/dev/null
cert_json storefront | python3 -c '
import json, sys
c = json.load(sys.stdin)
assert c["IssuedTo"] == "shop.example.com" and c["HasPrivateKey"], c' || fail "import --name did not name the certificate"
[[ " $(names) " != *" shop "* ]] || fail "a certificate is called 'shop' although the import named it 'storefront'"
pass "import --name storefront names the certificate that completes request 'shop'"

# The wrong key file: a certificate with someone else's key.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout a.key -out a.pem -days 30 \
  -subj "/CN=a.example.com" 2>/dev/null
openssl genpkey -algorithm ec -pkeyopt ec_paramgen_curve:P-256 -out b.key 2>/dev/null
b_id=$(openssl pkey -in b.key -pubout -outform DER | sha256sum | cut -c1-12)
cat a.pem b.key > wrong.pem
state_before=$(sha256sum state/state.yaml)
objects_before=$(busctl --system tree org.certd1 --list | sort)
files_before=$(find state -type f | sort)
name=$(err_name /org/certd1 org.certd1.Manager.Import "$(python3 -c 'import sys; print("@ay [" + ",".join(str(b) for b in open("wrong.pem","rb").read()) + "]")')" "''" '{}')
[ "$name" = org.certd1.Error.KeyMismatch ] || fail "a certificate with a foreign key answered '$name', expected KeyMismatch"
if out=$("${CERTCTL[@]}" import wrong.pem 2>&1); then fail "certctl import of the wrong key file succeeded: $out"; fi
[[ $out == *KeyMismatch* && $out == *"$b_id"* && $out == *"a.example.com"* ]] \
  || fail "the refusal does not name the key ($b_id) and the certificate: $out"
[ "$(sha256sum state/state.yaml)" = "$state_before" ] || fail "the refused import changed state.yaml"
[ "$(busctl --system tree org.certd1 --list | sort)" = "$objects_before" ] || fail "the refused import added objects"
[ "$(find state -type f | sort)" = "$files_before" ] || fail "the refused import left files in the store"
pass "certificate + foreign key: KeyMismatch naming key $b_id… and a.example.com; nothing stored"

# The right pair imports; a key alone imports with a warning; that stored key still does not make
# a file pairing it with an unrelated certificate acceptable.
cat a.pem a.key > right.pem
"${CERTCTL[@]}" import right.pem --name a >/dev/null
cert_json a | python3 -c 'import json,sys; assert json.load(sys.stdin)["HasPrivateKey"]' || fail "the matching pair lost its key"
out=$("${CERTCTL[@]}" import b.key 2>&1) || fail "a file holding only a key was refused: $out"
[[ $out == *key-unmatched* ]] || fail "a lone key gave no key-unmatched warning: $out"
cat a.pem b.key > wrong-again.pem
if out=$("${CERTCTL[@]}" import wrong-again.pem 2>&1); then fail "a stored lone key made a foreign pairing acceptable: $out"; fi
[[ $out == *KeyMismatch* ]] || fail "expected KeyMismatch, got: $out"
pass "matching pair imports; a key alone imports (key-unmatched); a stored lone key is still foreign to a.example.com"
stop_certd
