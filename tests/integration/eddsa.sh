#!/usr/bin/env bash
# Ed25519 and Ed448 end to end (issue 11): an Ed25519 certificate and key made by openssl
# import and link, show "Ed25519 (256 Bits)", assign with the eddsa-limited-clients
# warning, and certd-tls serves them to clients that offer ed25519 (TLS 1.3 and 1.2) while
# a client that offers neither EdDSA algorithm gets a handshake failure. certctl and busctl
# create Ed25519 / Ed448 certificates; exports read back with openssl; the key survives a
# restart of certd.
. "$(dirname "$0")/lifecycle_lib.sh"
start_bus
start_certd
M=(org.certd1 /org/certd1 org.certd1.Manager)

# tls HOST CAFILE [s_client options...]: the s_client transcript of one handshake (never fails).
tls() {
  local host=$1 ca=$2; shift 2
  timeout 20 openssl s_client -connect "$host:$PORT" -CAfile "$ca" -verify_return_error "$@" </dev/null 2>&1 || true
}
served_fp() { # served_fp HOST CAFILE [options]: SHA-256 (lower hex) of the leaf HOST serves
  tls "$@" | openssl x509 -noout -fingerprint -sha256 2>/dev/null | cut -d= -f2 | tr -d : | tr 'A-F' 'a-f'
}
fp_of() { cprop "$1" FingerprintSHA256 | tr -d '"'; }
spki_id() { openssl pkey -in "$1" -pubout -outform DER | sha256sum | cut -c1-32; }

# --- certd lists the key types a form may offer, EdDSA included.
[ "$(prop /org/certd1 org.certd1.Manager KeyTypes)" = \
  '7 "rsa2048" "rsa3072" "rsa4096" "ec-p256" "ec-p384" "ed25519" "ed448"' ] \
  || fail "KeyTypes is $(prop /org/certd1 org.certd1.Manager KeyTypes)"

# --- An Ed25519 certificate and key from openssl, imported as one PEM file.
openssl genpkey -algorithm ed25519 -out "$WORK/ed.key"
openssl req -x509 -key "$WORK/ed.key" -out "$WORK/ed.pem" -days 30 -subj "/CN=ed.example.com" \
  -addext "subjectAltName=DNS:ed.example.com,IP:127.0.0.2" -addext "extendedKeyUsage=serverAuth" \
  -addext "keyUsage=critical,digitalSignature"
cat "$WORK/ed.pem" "$WORK/ed.key" > "$WORK/ed-bundle.pem"
busctl_import "$WORK/ed-bundle.pem" > "$WORK/import.out" || fail "Import of an Ed25519 bundle: $(cat "$WORK/import.out")"
cert=$(cert_path "$WORK/ed.pem")
[ "$(cprop "$cert" PublicKey)" = '"Ed25519 (256 Bits)"' ] || fail "PublicKey is $(cprop "$cert" PublicKey)"
[ "$(cprop "$cert" SignatureAlgorithm)" = '"ED25519"' ] || fail "SignatureAlgorithm is $(cprop "$cert" SignatureAlgorithm)"
[ "$(cprop "$cert" HasPrivateKey)" = true ] || fail "the Ed25519 certificate is not linked to its key"
# Linked by SubjectPublicKeyInfo: the key object's id is the SHA-256 of the SPKI openssl prints.
key=$(cprop "$cert" Key | tr -d '"')
[ "$key" = "/org/certd1/key/$(spki_id "$WORK/ed.key")" ] || fail "Key $key is not named after the SPKI"
[ "$(prop "$key" org.certd1.Key Algorithm)" = '"Ed25519"' ] || fail "Key Algorithm $(prop "$key" org.certd1.Key Algorithm)"
[ "$(prop "$key" org.certd1.Key Bits)" = 256 ] || fail "Key Bits $(prop "$key" org.certd1.Key Bits)"
cprop "$cert" Warnings | grep -q '"eddsa-limited-clients"' || fail "Warnings lack eddsa-limited-clients: $(cprop "$cert" Warnings)"
pass "an openssl Ed25519 certificate + key import, link by SPKI and show 'Ed25519 (256 Bits)'"

# --- Assign: the warning comes back, and the next handshake on 127.0.0.2 gets the certificate.
out=$(busctl --system call "${M[@]}" Assign 'soa{sv}' 127.0.0.2 "$cert" 0) || fail "Assign refused: $out"
grep -q '"eddsa-limited-clients"' <<<"$out" || fail "Assign did not warn eddsa-limited-clients: $out"
[ "$(prop "$(find_object address org.certd1.Address Address '"127.0.0.2"')" org.certd1.Address Certificate)" = "\"$cert\"" ] \
  || fail "127.0.0.2 is not bound to the Ed25519 certificate"
t13=$(tls 127.0.0.2 "$WORK/ed.pem" -sigalgs ed25519 -verify_hostname ed.example.com)
grep -q "Verify return code: 0 (ok)" <<<"$t13" || fail "TLS 1.3 + ed25519 does not verify: $(echo "$t13" | tail -20)"
grep -q "^New, TLSv1.3, Cipher is TLS_" <<<"$t13" || fail "not TLS 1.3: $(echo "$t13" | grep '^New,')"
[ "$(served_fp 127.0.0.2 "$WORK/ed.pem" -sigalgs ed25519)" = "$(fp_of "$cert")" ] || fail "127.0.0.2 serves another certificate"
# RFC 8422: TLS 1.2 with Ed25519 in an ECDHE-ECDSA suite (the intermediate profile allows TLS 1.2).
t12=$(tls 127.0.0.2 "$WORK/ed.pem" -tls1_2 -sigalgs ed25519)
grep -q "Verify return code: 0 (ok)" <<<"$t12" || fail "TLS 1.2 + ed25519 does not verify: $(echo "$t12" | tail -20)"
grep -q "^New, TLSv1.2, Cipher is ECDHE-ECDSA-" <<<"$t12" || fail "TLS 1.2 suite: $(echo "$t12" | grep '^New,')"
# A client that offers no EdDSA algorithm: handshake failure (alert 40) on 127.0.0.2, while the
# factory certificate (RSA) on 127.0.0.3 serves that same client.
no=$(tls 127.0.0.2 "$WORK/ed.pem" -sigalgs 'ECDSA+SHA256:RSA-PSS+SHA256:RSA+SHA256')
grep -q "alert handshake failure" <<<"$no" || fail "a client without ed25519 was not refused: $(echo "$no" | tail -20)"
factory_ok=$(timeout 20 openssl s_client -connect "127.0.0.3:$PORT" -sigalgs 'ECDSA+SHA256:RSA-PSS+SHA256:RSA+SHA256' \
  </dev/null 2>&1 || true)
grep -q "^New, TLSv1.3, Cipher is TLS_" <<<"$factory_ok" || fail "127.0.0.3 refused an RSA/ECDSA-only client: $(echo "$factory_ok" | tail -5)"
pass "Assign warns eddsa-limited-clients; 127.0.0.2 serves Ed25519 over TLS 1.3 and 1.2 to ed25519 clients only"

# --- Export: PKCS#12 with the key, PEM, DER, PKCS#8, PKCS#7, each read back by openssl.
export_to() { # export_to FILE OPTION-COUNT OPTIONS...
  local file=$1; shift
  busctl --system call org.certd1 "$cert" org.certd1.Certificate Export 'a{sv}' "$@" \
    | perl -ane 'print pack("C*", @F[2..$#F])' > "$file"
}
export_to "$WORK/x.p12" 3 include_private_key b true format s pkcs12 passphrase s 'ed secret'
openssl pkcs12 -in "$WORK/x.p12" -nodes -passin 'pass:ed secret' 2>/dev/null > "$WORK/x.p12.pem" || fail "openssl pkcs12 cannot read the export"
[ "$(spki_id "$WORK/x.p12.pem")" = "$(spki_id "$WORK/ed.key")" ] || fail "the PKCS#12 export holds another key"
[ "$(openssl x509 -in "$WORK/x.p12.pem" -outform DER | sha256sum | cut -d' ' -f1)" = "$(fp_of "$cert")" ] \
  || fail "the PKCS#12 export holds another certificate"
export_to "$WORK/x.p8" 3 include_private_key b true include_certificate b false format s pkcs8
[ "$(openssl pkey -inform DER -in "$WORK/x.p8" -pubout -outform DER | sha256sum | cut -c1-32)" = "$(spki_id "$WORK/ed.key")" ] \
  || fail "openssl pkey cannot read the PKCS#8 export"
export_to "$WORK/x.der" 1 format s der
[ "$(sha256sum < "$WORK/x.der" | cut -d' ' -f1)" = "$(fp_of "$cert")" ] || fail "DER export"
export_to "$WORK/x.p7b" 1 format s pkcs7
openssl pkcs7 -inform DER -in "$WORK/x.p7b" -print_certs | grep -q "subject=CN = ed.example.com" || fail "PKCS#7 export"
pass "Ed25519 exports (PKCS#12, PKCS#8, DER, PKCS#7) read back by openssl"

# --- certctl create-self-signed --key-type ed25519: the warning, the key, served on 127.0.0.3.
C create-self-signed --name edself --key-type ed25519 --cn edself.example.com --san IP:127.0.0.3 \
  > "$WORK/create.out" 2> "$WORK/create.err" || fail "certctl create-self-signed --key-type ed25519: $(cat "$WORK/create.err")"
grep -q "warning: eddsa-limited-clients" "$WORK/create.err" || fail "no eddsa-limited-clients warning: $(cat "$WORK/create.err")"
C --json show edself | python3 -c 'import json,sys; d=json.load(sys.stdin); \
  assert d["PublicKey"]=="Ed25519 (256 Bits)" and d["SignatureAlgorithm"]=="ED25519" and d["HasPrivateKey"], d' \
  || fail "certctl show edself: $(C show edself)"
C assign 127.0.0.3 edself 2> "$WORK/assign.err" || fail "certctl assign: $(cat "$WORK/assign.err")"
grep -q "eddsa-limited-clients" "$WORK/assign.err" || fail "certctl assign did not show the warning: $(cat "$WORK/assign.err")"
C export edself --format pem -o "$WORK/edself.pem"
out=$(tls 127.0.0.3 "$WORK/edself.pem" -sigalgs ed25519 -verify_ip 127.0.0.3)
grep -q "Verify return code: 0 (ok)" <<<"$out" || fail "127.0.0.3 does not serve edself verifiably: $(echo "$out" | tail -20)"
pass "certctl create-self-signed --key-type ed25519 warns, assigns and 127.0.0.3 serves it"

# --- busctl CreateSelfSigned key_type ed448 and CreateRequest key_type ed25519.
out=$(busctl --system call "${M[@]}" CreateSelfSigned 'a{sv}' 3 key_type s ed448 common_name s ed448.example.com \
  subject_alt_names as 1 IP:127.0.0.3)
grep -q '"eddsa-limited-clients"' <<<"$out" || fail "CreateSelfSigned ed448 did not warn: $out"
ed448=$(echo "$out" | cut -d'"' -f2)
[ "$(cprop "$ed448" PublicKey)" = '"Ed448 (456 Bits)"' ] || fail "Ed448 PublicKey $(cprop "$ed448" PublicKey)"
[ "$(prop "$(cprop "$ed448" Key | tr -d '"')" org.certd1.Key Bits)" = 456 ] || fail "Ed448 Key Bits"
busctl --system call "${M[@]}" Assign 'soa{sv}' 127.0.0.3 "$ed448" 0 >/dev/null
C export "$ed448" --format pem -o "$WORK/ed448.pem"
out=$(tls 127.0.0.3 "$WORK/ed448.pem" -sigalgs ed448)
grep -q "Verify return code: 0 (ok)" <<<"$out" || fail "127.0.0.3 does not serve Ed448 verifiably: $(echo "$out" | tail -20)"
req=$(busctl --system call "${M[@]}" CreateRequest 'a{sv}' 2 key_type s ed25519 common_name s csr.example.com | cut -d'"' -f2)
busctl --system get-property org.certd1 "$req" org.certd1.Request RequestPem --json=short \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"], end="")' > "$WORK/ed.csr"
openssl req -in "$WORK/ed.csr" -verify -noout 2>&1 | grep -q "verify OK" || fail "the Ed25519 CSR does not verify"
openssl req -in "$WORK/ed.csr" -noout -text | grep -q "ED25519 Public-Key" || fail "the CSR does not carry an Ed25519 key"
set +e
busctl --system call "${M[@]}" CreateSelfSigned 'a{sv}' 2 key_type s dsa common_name s x.example.com 2> "$WORK/err"
set -e
grep -q "is not one of rsa2048, rsa3072, rsa4096, ec-p256, ec-p384, ed25519, ed448" "$WORK/err" \
  || fail "an unknown key_type does not list the key types: $(cat "$WORK/err")"
pass "CreateSelfSigned ed448 (served to ed448 clients) and CreateRequest ed25519 (openssl req -verify)"

# --- A restart loads the EdDSA keys back from the store; the bindings serve again.
stop_certd
start_certd
[ "$(cprop "$cert" HasPrivateKey)" = true ] || fail "after a restart the Ed25519 key is gone"
# "running" once certd-tls has acknowledged the state it was given (the bindings).
terminator_running() { [ "$(prop /org/certd1 org.certd1.Manager TerminatorState)" = '"running"' ]; }
wait_until 60 terminator_running || fail "the terminator did not come back"
[ "$(served_fp 127.0.0.2 "$WORK/ed.pem" -sigalgs ed25519)" = "$(fp_of "$cert")" ] \
  || fail "after a restart 127.0.0.2 does not serve the Ed25519 certificate"
pass "after a restart certd serves the Ed25519 certificate again"
