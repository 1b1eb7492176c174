#!/usr/bin/env bash
# The CSR workflow driven only by busctl, as an administrator's script would:
# create a request, have a CA (the openssl CLI) sign it, import the result,
# see it linked and the request completed, assign it, and check the errors.
. "$(dirname "$0")/lib.sh"
start_bus
start_certd

M=(org.certd1 /org/certd1 org.certd1.Manager)

# 1. The request.
out=$(busctl --system call "${M[@]}" CreateRequest 'a{sv}' 5 \
  friendly_name s "shop" key_type s rsa2048 common_name s shop.example.com \
  organization s "Example GmbH" subject_alt_names as 2 DNS:shop.example.com DNS:www.shop.example.com)
req=$(echo "$out" | cut -d'"' -f2)
[[ "$req" == /org/certd1/request/* ]] || fail "CreateRequest returned '$out'"
[ "$(prop "$req" org.certd1.Request State)" = '"pending"' ] || fail "new request is not pending"
busctl --system get-property org.certd1 "$req" org.certd1.Request RequestPem --json=short \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"], end="")' > "$WORK/shop.csr"
openssl req -in "$WORK/shop.csr" -noout -verify 2>&1 | grep -q "verify OK" || fail "request does not verify"
openssl req -in "$WORK/shop.csr" -noout -text | grep -q "DNS:www.shop.example.com" || fail "SANs missing from CSR"
pass "CreateRequest gives a verifiable PKCS#10 with the SANs"

# 2. A CA signs it.
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$WORK/ca.key" -out "$WORK/ca.pem" -days 30 \
  -subj "/CN=Test Root CA" -addext basicConstraints=critical,CA:TRUE -addext keyUsage=keyCertSign,cRLSign 2>/dev/null
printf 'subjectAltName=DNS:shop.example.com,DNS:www.shop.example.com\nextendedKeyUsage=serverAuth\n' > "$WORK/ext"
openssl x509 -req -in "$WORK/shop.csr" -CA "$WORK/ca.pem" -CAkey "$WORK/ca.key" -CAcreateserial \
  -days 20 -extfile "$WORK/ext" -out "$WORK/shop.pem" 2>/dev/null

# 3. Import the signed certificate.
out=$(busctl --system call "${M[@]}" Import 'aysa{sv}' $(bytes_of "$WORK/shop.pem") "" 0)
cert=$(echo "$out" | grep -o '/org/certd1/certificate/[0-9a-f]*' | head -1)
[ -n "$cert" ] || fail "Import returned no certificate: $out"
grep -q "$req" <<<"$out" || fail "Import did not report the completed request: $out"
[ "$(prop "$cert" org.certd1.Certificate HasPrivateKey)" = true ] || fail "imported cert not linked to the request's key"
[ "$(prop "$req" org.certd1.Request State)" = '"completed"' ] || fail "request not completed"
[ "$(prop "$req" org.certd1.Request Certificate)" = "\"$cert\"" ] || fail "request does not point at the cert"
[ "$(prop "$req" org.certd1.Request Key)" = "$(prop "$cert" org.certd1.Certificate Key)" ] || fail "key differs"
prop "$cert" org.certd1.Certificate Warnings | grep -q chain-incomplete || fail "missing root not warned"
pass "Import links the signed certificate to the request's key and completes the request"

# Importing the same file again changes nothing and returns the same object.
out2=$(busctl --system call "${M[@]}" Import 'aysa{sv}' $(bytes_of "$WORK/shop.pem") "" 0)
grep -q "$cert" <<<"$out2" || fail "re-import did not return the same certificate"
[ "$(ls "$WORK/state/certs" | wc -l)" = 2 ] || fail "re-import stored a second copy"
pass "Import is idempotent"

# The root completes the chain.
busctl --system call "${M[@]}" Import 'aysa{sv}' $(bytes_of "$WORK/ca.pem") "" 0 >/dev/null
prop "$cert" org.certd1.Certificate Chain | grep -q '/org/certd1/certificate/' || fail "chain not built"
prop "$cert" org.certd1.Certificate Warnings | grep -q chain-incomplete && fail "chain still incomplete"
pass "importing the root completes the chain"

# 4. Assign it to 127.0.0.3.
busctl --system call "${M[@]}" Assign 'soa{sv}' 127.0.0.3 "$cert" 0 >/dev/null
addr=$(find_object address org.certd1.Address Address '"127.0.0.3"')
[ "$(prop "$addr" org.certd1.Address Certificate)" = "\"$cert\"" ] || fail "127.0.0.3 not bound"
prop "$cert" org.certd1.Certificate Addresses | grep -q 127.0.0.3 || fail "Addresses property stale"
pass "Assign binds the address"

# 5. Errors are named and change nothing.
before=$(cat "$WORK/state/state.yaml")
[ "$(err_name /org/certd1 org.certd1.Manager.Assign 127.0.0.9 "$cert" "{}")" = org.certd1.Error.NotFound ] \
  || fail "unknown address not NotFound"
[ "$(err_name /org/certd1 org.certd1.Manager.Assign 127.0.0.2 /org/certd1/certificate/00 "{}")" = org.certd1.Error.NotFound ] \
  || fail "unknown certificate not NotFound"
root=$(find_object certificate org.certd1.Certificate Kind '"root"')
[ "$(err_name /org/certd1 org.certd1.Manager.Assign 127.0.0.2 "$root" "{}")" = org.certd1.Error.NoPrivateKey ] \
  || fail "cert without key not NoPrivateKey"
[ "$(err_name /org/certd1 org.certd1.Manager.Import "[byte 1,2,3]" "''" "{}")" = org.certd1.Error.Malformed ] \
  || fail "garbage import not Malformed"
[ "$(err_name "$cert" org.certd1.Certificate.Delete)" = org.certd1.Error.InUse ] || fail "delete of a bound cert not InUse"
[ "$before" = "$(cat "$WORK/state/state.yaml")" ] || fail "a refused call changed state.yaml"
pass "bad input gets named errors and leaves state.yaml unchanged"

# 6. Everything persists across a restart.
stop_certd
start_certd
[ "$(prop "$addr" org.certd1.Address Certificate)" = "\"$cert\"" ] || fail "binding lost on restart"
[ "$(prop "$req" org.certd1.Request State)" = '"completed"' ] || fail "request state lost on restart"
# The certificate that completed request "shop" took its name.
[ "$(prop "$cert" org.certd1.Certificate FriendlyName)" = '"shop"' ] || fail "friendly name lost"
pass "state persists across a restart"
echo "busctl workflow: all checks passed"
