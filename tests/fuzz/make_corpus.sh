#!/usr/bin/env bash
# Writes the seed corpus of the fuzz targets (tests/fuzz/corpus/<target>/), which is committed:
#   tests/fuzz/make_corpus.sh [import|config|proxy-header|client-hello]...   (default: all four)
# Needs openssl, python3, ssh-keygen, curl and gnutls-cli. Keys are fresh each run, so the
# files change; regenerate only to add seeds. Files named regression-* are crash reproducers
# added by hand and are never touched here.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
corpus=$here/corpus
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
cd "$work"

# fuzz_import.cpp's passphrase for mode byte 1.
pass=fuzz-passphrase

# -------------------------------------------------------------------------------------------
# import: one mode byte (0 no passphrase, 1 the right one, 2 a wrong one), then the file.

import_seed() { # NAME MODE FILE
    { printf "\\x0$2"; cat "$3"; } >"$corpus/import/$1"
}

make_pki() {
    cat >ext.cnf <<'EOF'
[fuzz_ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[fuzz_leaf]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:www.fuzz.test, DNS:*.fuzz.test, IP:192.0.2.1, IP:2001:db8::1, email:a@fuzz.test, URI:https://fuzz.test/
authorityInfoAccess = caIssuers;URI:http://fuzz.test/intermediate.der
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout root.key -out root.pem \
        -subj "/CN=Fuzz Root/O=certd" -days 7300 2>/dev/null
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout int.key -out int.csr \
        -subj "/CN=Fuzz Intermediate/O=certd" 2>/dev/null
    openssl x509 -req -in int.csr -CA root.pem -CAkey root.key -set_serial 2 -days 3650 \
        -extfile ext.cnf -extensions fuzz_ca -out int.pem 2>/dev/null
    openssl req -new -newkey rsa:2048 -nodes -keyout leaf.key -out leaf.csr \
        -subj "/CN=www.fuzz.test/O=Fuzz Ltd/C=DE/ST=Berlin" 2>/dev/null
    openssl x509 -req -in leaf.csr -CA int.pem -CAkey int.key -set_serial 3 -days 365 \
        -extfile ext.cnf -extensions fuzz_leaf -out leaf.pem 2>/dev/null
    cat leaf.pem int.pem root.pem >chain.pem
    # A self-signed P-384 server certificate with its key; a SHA-1 one with a weak key. (The
    # fuzzer's clock says 2030: the leaf is expired there, the root not.)
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-384 -nodes -keyout ec.key -out ec.pem \
        -subj "/CN=ec.fuzz.test" -addext "subjectAltName=DNS:ec.fuzz.test" -days 90 2>/dev/null
    openssl req -x509 -newkey rsa:1024 -nodes -keyout weak.key -out weak.pem -sha1 -subj "/CN=old.fuzz.test" \
        -days 1 2>/dev/null
    # A revocation list from the intermediate.
    mkdir -p ca && : >ca/index.txt && echo 01 >ca/crlnumber
    cat >ca.cnf <<EOF
[ca]
default_ca = fuzz
[fuzz]
database = $work/ca/index.txt
crlnumber = $work/ca/crlnumber
default_md = sha256
default_crl_days = 30
EOF
    openssl ca -config ca.cnf -gencrl -cert int.pem -keyfile int.key -out crl.pem 2>/dev/null
}

make_import() {
    mkdir -p "$corpus/import"
    make_pki
    local f
    # Certificates.
    import_seed cert.pem 0 leaf.pem
    openssl x509 -in leaf.pem -outform DER -out leaf.der
    import_seed cert.der 0 leaf.der
    import_seed chain.pem 0 chain.pem
    openssl x509 -in leaf.pem -trustout -addtrust serverAuth -out trusted.pem
    import_seed trusted-certificate.pem 0 trusted.pem
    import_seed weak-sha1.pem 0 weak.pem
    # Certificate and key together; CRLF, a BOM and text around the blocks.
    cat leaf.key leaf.pem int.pem >bundle.pem
    import_seed bundle.pem 0 bundle.pem
    { printf '\xEF\xBB\xBFsubject=www.fuzz.test\r\n'; sed 's/$/\r/' bundle.pem; printf 'trailing text\r\n'; } >crlf.pem
    import_seed bundle-bom-crlf.pem 0 crlf.pem
    cat ec.pem ec.key >ec-bundle.pem
    import_seed ec-bundle.pem 0 ec-bundle.pem
    # Plain keys: PKCS#8, traditional RSA and EC (with EC PARAMETERS), explicit curve parameters.
    import_seed key-pkcs8.pem 0 leaf.key
    openssl pkey -in leaf.key -outform DER -out leaf.key.der
    import_seed key-pkcs8.der 0 leaf.key.der
    openssl pkey -in leaf.key -traditional -out rsa.pem
    import_seed key-rsa.pem 0 rsa.pem
    openssl rsa -in leaf.key -traditional -outform DER -out rsa.der 2>/dev/null
    import_seed key-rsa.der 0 rsa.der
    openssl ecparam -name prime256v1 -genkey -out ecparam.pem
    import_seed key-ec-with-parameters.pem 0 ecparam.pem
    openssl ec -in ecparam.pem -outform DER -out ec.der 2>/dev/null
    import_seed key-ec.der 0 ec.der
    openssl ec -in ecparam.pem -param_enc explicit -out ec-explicit.pem 2>/dev/null
    import_seed key-ec-explicit.pem 0 ec-explicit.pem
    # Encrypted PKCS#8: PBES2 (AES-256, PBKDF2), scrypt, PBES1 (3DES); right and wrong passphrase.
    openssl pkcs8 -topk8 -in leaf.key -v2 aes-256-cbc -passout pass:$pass -out p8-aes.pem
    import_seed key-pkcs8-aes.pem 1 p8-aes.pem
    import_seed key-pkcs8-aes-no-passphrase.pem 0 p8-aes.pem
    openssl pkcs8 -topk8 -in ec.key -v2 aes-128-cbc -passout pass:$pass -outform DER -out p8-aes.der
    import_seed key-pkcs8-aes.der 1 p8-aes.der
    import_seed key-pkcs8-aes-wrong.der 2 p8-aes.der
    openssl pkcs8 -topk8 -in ec.key -scrypt -scrypt_N 1024 -scrypt_r 8 -scrypt_p 1 -passout pass:$pass \
        -out p8-scrypt.pem
    import_seed key-pkcs8-scrypt.pem 1 p8-scrypt.pem
    openssl pkcs8 -topk8 -in ecparam.pem -v1 PBE-SHA1-3DES -passout pass:$pass -out p8-pbes1.pem
    import_seed key-pkcs8-pbes1.pem 1 p8-pbes1.pem
    # Legacy PEM encryption (Proc-Type/DEK-Info): AES, 3DES, single DES (legacy provider).
    openssl rsa -in leaf.key -traditional -aes128 -passout pass:$pass -out rsa-aes.pem 2>/dev/null
    import_seed key-rsa-dek-aes.pem 1 rsa-aes.pem
    import_seed key-rsa-dek-aes-no-passphrase.pem 0 rsa-aes.pem
    openssl ec -in ecparam.pem -des3 -passout pass:$pass -out ec-des3.pem 2>/dev/null
    import_seed key-ec-dek-des3.pem 1 ec-des3.pem
    openssl ec -in ecparam.pem -des -passout pass:$pass -provider legacy -provider default \
        -out ec-des.pem 2>/dev/null
    import_seed key-ec-dek-des.pem 1 ec-des.pem
    # PKCS#12: today's default (AES-256, PBKDF2, SHA-256 MAC), legacy (RC2-40, 3DES, SHA-1 MAC),
    # no MAC, no encryption, the empty passphrase, certificates only.
    openssl pkcs12 -export -inkey leaf.key -in leaf.pem -certfile int.pem -name fuzz -passout pass:$pass -out p12.p12
    import_seed pkcs12.p12 1 p12.p12
    import_seed pkcs12-no-passphrase.p12 0 p12.p12
    import_seed pkcs12-wrong.p12 2 p12.p12
    openssl pkcs12 -export -legacy -inkey ec.key -in ec.pem -passout pass:$pass -out legacy.p12
    import_seed pkcs12-legacy.p12 1 legacy.p12
    openssl pkcs12 -export -inkey ec.key -in ec.pem -nomac -passout pass:$pass -out nomac.p12
    import_seed pkcs12-no-mac.p12 1 nomac.p12
    openssl pkcs12 -export -inkey ec.key -in ec.pem -keypbe NONE -certpbe NONE -nomac -passout pass: \
        -out plain.p12
    import_seed pkcs12-unencrypted.p12 0 plain.p12
    openssl pkcs12 -export -inkey ecparam.pem -nocerts -passout pass: -out empty-pass.p12
    import_seed pkcs12-empty-passphrase.p12 0 empty-pass.p12
    openssl pkcs12 -export -nokeys -in chain.pem -passout pass:$pass -out certs.p12
    import_seed pkcs12-certificates-only.p12 1 certs.p12
    # PKCS#7: a chain (PEM, DER), with a CRL.
    openssl crl2pkcs7 -nocrl -certfile chain.pem -out p7.pem
    import_seed pkcs7.pem 0 p7.pem
    openssl crl2pkcs7 -nocrl -certfile chain.pem -outform DER -out p7.der
    import_seed pkcs7.der 0 p7.der
    openssl crl2pkcs7 -in crl.pem -certfile int.pem -out p7-crl.pem
    import_seed pkcs7-with-crl.pem 0 p7-crl.pem
    # An Ed25519 PKCS#8 key, and an Ed448 self-signed certificate with its key: imported
    # (issue 11; EdDSA keys used to be refused as Unsupported).
    openssl genpkey -algorithm ed25519 -out ed25519.pem
    import_seed key-ed25519.pem 0 ed25519.pem
    openssl genpkey -algorithm ed448 -out ed448.key
    openssl req -x509 -key ed448.key -out ed448.pem -days 3650 -subj "/CN=ed448.fuzz.test" \
        -addext "subjectAltName=DNS:ed448.fuzz.test" 2>/dev/null
    cat ed448.pem ed448.key >ed448-bundle.pem
    import_seed ed448-bundle.pem 0 ed448-bundle.pem
    # What certd does not import: CRL, request, public key, DSA, RSA-PSS, OpenSSH key,
    # an unknown block beside a certificate.
    import_seed crl.pem 0 crl.pem
    openssl crl -in crl.pem -outform DER -out crl.der
    import_seed crl.der 0 crl.der
    import_seed request.pem 0 leaf.csr
    openssl req -in leaf.csr -outform DER -out leaf.csr.der
    import_seed request.der 0 leaf.csr.der
    openssl pkey -in leaf.key -pubout -out pub.pem
    import_seed public-key.pem 0 pub.pem
    openssl pkey -in ec.key -pubout -outform DER -out pub.der
    import_seed public-key.der 0 pub.der
    openssl genpkey -genparam -algorithm DSA -pkeyopt dsa_paramgen_bits:1024 -out dsa-param.pem 2>/dev/null
    openssl genpkey -paramfile dsa-param.pem -out dsa.pem
    openssl pkey -in dsa.pem -traditional -out dsa-trad.pem
    import_seed key-dsa.pem 0 dsa-trad.pem
    openssl genpkey -algorithm RSA-PSS -pkeyopt rsa_keygen_bits:1024 -out pss.pem 2>/dev/null
    import_seed key-rsa-pss.pem 0 pss.pem
    ssh-keygen -q -t ed25519 -N '' -C fuzz -f ssh.key
    import_seed key-openssh.pem 0 ssh.key
    { printf -- '-----BEGIN FUZZ THING-----\nAAAA\n-----END FUZZ THING-----\n'; cat leaf.pem; } >unknown.pem
    import_seed unknown-block.pem 0 unknown.pem
    # Broken files: blank, no END line, bad base64.
    printf ' \r\n\t\n' >blank
    import_seed blank 0 blank
    head -n 5 leaf.pem >truncated.pem
    import_seed truncated.pem 0 truncated.pem
    { echo '-----BEGIN CERTIFICATE-----'; echo 'MII*not=base64'; echo '-----END CERTIFICATE-----'; } >bad64.pem
    import_seed bad-base64.pem 0 bad64.pem
}

# -------------------------------------------------------------------------------------------
# config: YAML text.

config_seed() { # NAME (text on stdin)
    cat >"$corpus/config/$1"
}

make_config() {
    mkdir -p "$corpus/config"
    cp "$here/../../config/certd.yaml" "$corpus/config/shipped-certd.yaml"
    cp "$here/../../config/demo.yaml" "$corpus/config/shipped-demo.yaml"
    : | config_seed empty.yaml
    printf '# only a comment\n---\n...\n' | config_seed comment-only.yaml
    config_seed everything.yaml <<'EOF'
state_directory: state
addresses: [192.0.2.10, "2001:db8::10", 0:0:0:0:0:ffff:c000:20b]
discovery:
  enabled: true
  interfaces: [eth0, "br-lan"]
port: 8443
freebind: yes
backend: "tcp:[::1]:8080"
proxy_protocol: v2
tls_profile: modern
admin_group: wheel
key_export_group: backup$
factory_certificate:
  friendly_name: Factory
  common_name: appliance.example
  organization: Example
  organizational_unit: Ops
  locality: Berlin
  state: BE
  country: de
  subject_alt_names: [DNS:appliance.example, "IP:192.0.2.10", www.example]
  key_type: ec-p384
  days: 825
expiry_warning_days: [1, 60, 14]
terminator:
  user: certd-tls
  workers: 4
  handshake_timeout_ms: 5000
  idle_timeout_ms: 60000
  max_connections: 2000
  binary: ../libexec/certd-tls
EOF
    printf 'backend: unix:/run/app/http.sock\nproxy_protocol: true\nfreebind: false\n' | config_seed unix-backend.yaml
    printf 'backend: tcp:backend.internal:80\naddresses:\n  - 127.0.0.2\n  - ::1\n' | config_seed dns-backend.yaml
    printf '{port: 443, addresses: [10.0.0.1], terminator: {workers: 0}}\n' | config_seed flow-style.yaml
    config_seed anchors.yaml <<'EOF'
addresses: &addrs [10.0.0.1, 10.0.0.2]
discovery: {enabled: false, interfaces: []}
expiry_warning_days: !!seq [30, 7, 1]
port: !!int "8443"
admin_group: !!str certd-admin
EOF
    printf 'port: 8443\n---\nport: 443\n' | config_seed two-documents.yaml
    printf 'port: 1\n,\n' | config_seed stray-comma.yaml
    printf 'port: 65536\nbackend: tcp:127.0.0.2:443\naddresses: [127.0.0.2]\n' | config_seed bad-values.yaml
    printf 'addresses: [127.0.0.2, 127.000.0.2, ::, 0.0.0.0]\n' | config_seed bad-addresses.yaml
    printf 'factory_certificate:\n  country: XX\n  subject_alt_names: ["IP:300.1.1.1", "DNS:-bad-"]\n  days: -1\n' |
        config_seed bad-factory.yaml
    printf 'unknown_key: 1\nport: [1]\nterminator: 3\n' | config_seed unknown-key.yaml
    printf 'port: 8443\nport: 8443\n' | config_seed duplicate-key.yaml
    printf '\xEF\xBB\xBFport: 8443\r\nstate_directory: "/var/lib/\\u00e9"\r\n' | config_seed bom-crlf.yaml
    printf 'discovery:\n  interfaces: [this-name-is-too-long-for-linux, "a/b", ., eth0, eth0]\n' |
        config_seed bad-interfaces.yaml
    printf 'terminator:\n  user: "-root"\n  workers: 99999999999999999999\n  binary: ""\n' |
        config_seed bad-terminator.yaml
    printf 'backend: "unix:%s"\n' "$(printf 'a%.0s' $(seq 120))" | config_seed long-unix-path.yaml
    printf 'addresses: [[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]\n' | config_seed nested.yaml
    printf 'admin_group: |\n  multi\n  line\nkey_export_group: >-\n  folded\n' | config_seed block-scalars.yaml
}

# -------------------------------------------------------------------------------------------
# proxy-header: byte 0 the families (bits 0-1 client, 2-3 local: 0 IPv4, 1 IPv6, 2 unix, 3 none),
# 16 + 16 address bytes, 2 + 2 port bytes, ALPN and SNI lengths (16-bit big endian), text.

proxy_seed() { # NAME FAMILIES CLIENT(32 hex) LOCAL(32 hex) PORTS(8 hex) ALPNLEN SNILEN TEXT
    python3 - "$corpus/proxy-header/$1" "$2" "$3" "$4" "$5" "$6" "$7" "$8" <<'EOF'
import sys
out, families, client, local, ports, alpn, sni, text = sys.argv[1:]
data = bytes([int(families)]) + bytes.fromhex(client) + bytes.fromhex(local) + bytes.fromhex(ports)
data += int(alpn).to_bytes(2, "big") + int(sni).to_bytes(2, "big") + text.encode()
open(out, "wb").write(data)
EOF
}

make_proxy_header() {
    mkdir -p "$corpus/proxy-header"
    local v4a=7f000001000000000000000000000000 v4b=7f000002000000000000000000000000
    local v6a=20010db8000000000000000000000001 v6b=00000000000000000000000000000001
    proxy_seed ipv4-alpn-sni 0 $v4a $v4b d43101bb 8 6 "http/1.1a.test"
    proxy_seed ipv4-no-tlvs 0 $v4a $v4b 000101bb 0 0 ""
    proxy_seed ipv6-alpn-sni 5 $v6a $v6b c35001bb 8 16 "http/1.1www.example.test"
    proxy_seed ipv6-sni-only 5 $v6a $v6b c35020fb 0 253 "abcdefghijklmnopqrstuvwxyz.example"
    proxy_seed mixed-families 4 $v4a $v6b 1234abcd 8 6 "http/1.1a.test"
    proxy_seed unix 10 $v4a $v4b 00000000 2 2 "h2xy"
    proxy_seed no-addresses 15 $v4a $v4b 00000000 8 6 "http/1.1a.test"
    proxy_seed ipv4-max-tlv 0 $v4a $v4b ffffffff 65520 12 "z"
    proxy_seed ipv6-two-large-tlvs 5 $v6a $v6b 00500050 40000 40000 "ab"
}

# -------------------------------------------------------------------------------------------
# client-hello: what real clients send first, captured by capture_client_hello.py.

capture() { # NAME [--upstream HOST:PORT] -- CLIENT COMMAND WITH {PORT}...
    local name=$1 upstream=()
    shift
    if [ "$1" = --upstream ]; then
        upstream=(--upstream "$2")
        shift 2
    fi
    shift # --
    python3 "$here/capture_client_hello.py" "$work/ch.bin" "${upstream[@]}" >port.txt &
    local helper=$! port=
    for _ in $(seq 50); do
        port=$(cat port.txt 2>/dev/null || true)
        [ -n "$port" ] && break
        sleep 0.1
    done
    local args=("${@//\{PORT\}/$port}")
    timeout 10 "${args[@]}" </dev/null >/dev/null 2>&1 || true
    wait "$helper"
    rm -f port.txt
    if [ -s "$work/ch.bin" ]; then
        mv "$work/ch.bin" "$corpus/client-hello/$name"
    else
        echo "make_corpus: no bytes captured for $name" >&2
        return 1
    fi
}

make_client_hello() {
    mkdir -p "$corpus/client-hello"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout srv.key -out srv.pem \
        -subj "/CN=fuzz.test" -days 30 2>/dev/null
    local sc=(openssl s_client -connect 127.0.0.1:{PORT})
    capture openssl-default -- "${sc[@]}" -servername fuzz.test
    capture openssl-tls12-sni -- "${sc[@]}" -tls1_2 -servername www.fuzz.test
    capture openssl-tls13-alpn -- "${sc[@]}" -tls1_3 -servername fuzz.test -alpn h2,http/1.1
    capture openssl-no-sni -- "${sc[@]}" -noservername
    capture openssl-tls12-all-ciphers -- "${sc[@]}" -tls1_2 -cipher 'ALL:@SECLEVEL=0' -servername fuzz.test \
        -alpn http/1.1,spdy/3,h2
    capture openssl-tls13-all-suites -- "${sc[@]}" -tls1_3 -ciphersuites \
        TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_CCM_SHA256:TLS_AES_128_CCM_8_SHA256
    capture openssl-p384-sigalgs -- "${sc[@]}" -groups P-384:P-521 -sigalgs ECDSA+SHA384:RSA-PSS+SHA256:ed25519 \
        -servername fuzz.test
    capture openssl-tls11 -- "${sc[@]}" -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0' -servername fuzz.test
    capture openssl-status-request -- "${sc[@]}" -status -servername fuzz.test -no_ticket
    capture curl -- curl -sk --max-time 5 --resolve fuzz.test:{PORT}:127.0.0.1 https://fuzz.test:{PORT}/
    capture curl-http1.1 -- curl -sk --http1.1 --tlsv1.2 --tls-max 1.2 --max-time 5 \
        --resolve fuzz.test:{PORT}:127.0.0.1 https://fuzz.test:{PORT}/
    capture gnutls -- gnutls-cli --insecure --sni-hostname=fuzz.test --alpn=http/1.1 -p {PORT} 127.0.0.1

    # Against a real server: a HelloRetryRequest (the first key share is for a group certd-tls
    # does not take), and sessions to resume (TLS 1.3 PSK with early data; TLS 1.2 ticket).
    # s_server reads what to send from stdin and stops at its end: a FIFO held open keeps it up.
    local port=44$((RANDOM % 900 + 100))
    mkfifo server.stdin
    openssl s_server -accept "127.0.0.1:$port" -cert srv.pem -key srv.key -early_data \
        -groups X25519:P-256:P-384 -naccept 10 <server.stdin >/dev/null 2>&1 &
    local server=$!
    exec 3>server.stdin
    sleep 1
    capture openssl-hello-retry --upstream "127.0.0.1:$port" -- "${sc[@]}" -tls1_3 -groups P-521:X25519 \
        -servername fuzz.test
    local version
    for version in 1_3 1_2; do # a second to read the session tickets
        (echo hello; sleep 1) | timeout 10 openssl s_client -connect "127.0.0.1:$port" -tls$version \
            -sess_out "session$version.pem" -servername fuzz.test >/dev/null 2>&1 || true
    done
    printf 'GET / HTTP/1.1\r\nHost: fuzz.test\r\n\r\n' >early.txt
    capture openssl-tls13-psk-early-data -- "${sc[@]}" -tls1_3 -sess_in session1_3.pem -early_data early.txt \
        -servername fuzz.test
    capture openssl-tls12-ticket -- "${sc[@]}" -tls1_2 -sess_in session1_2.pem -servername fuzz.test
    kill "$server" 2>/dev/null || true
    exec 3>&-
}

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(import config proxy-header client-hello)
for target in "${targets[@]}"; do
    case $target in
    import) make_import ;;
    config) make_config ;;
    proxy-header) make_proxy_header ;;
    client-hello) make_client_hello ;;
    *)
        echo "make_corpus: unknown target $target" >&2
        exit 2
        ;;
    esac
done
du -sh "$corpus"
