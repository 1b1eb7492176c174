#!/usr/bin/env bash
# Deletion rules (issue 5): the factory default certificate cannot be deleted; a
# certificate that serves an address cannot be deleted (InUse) until its
# addresses move; deleting a certificate keeps its key while another certificate
# or a request uses it and deletes it otherwise; deleting a key in use is refused
# (InUse). Every refusal leaves the state directory byte for byte as it was.
# Through certctl and dbus-send/busctl.
. "$(dirname "$0")/lifecycle_lib.sh"
start_bus
start_certd

factory=$(prop /org/certd1 org.certd1.Manager FactoryCertificate | tr -d '"')
[[ "$factory" == /org/certd1/certificate/* ]] || fail "no factory certificate: '$factory'"
key_of() { cprop "$1" Key | tr -d '"'; }
key_file() { echo "$WORK/state/keys/${1##*/}.key"; }
exists() { busctl --system tree org.certd1 --list | grep -qx "$1"; }
created() { sed -n 's/.*(\(\/org\/certd1\/[a-z]*\/[0-9a-f]*\)).*/\1/p'; } # "Created … (PATH)"

# refused ERROR WHAT CERTCTL_TARGET DBUS_PATH DBUS_METHOD: both clients refused, state unchanged.
refused() {
  local before
  before=$(snapshot)
  certctl_refused "$1" delete "$3"
  expect_unchanged "$before" "certctl delete ($2)"
  expect_dbus_error "$1" "$4" "$5"
  expect_unchanged "$before" "dbus-send Delete ($2)"
  exists "$4" || fail "$2: the object is gone after a refusal"
}

# ---------------------------------------------------------------- the factory certificate
refused InUse "factory certificate" "$factory" "$factory" org.certd1.Certificate.Delete
[ "$(cprop "$factory" IsFactoryDefault)" = true ] || fail "factory certificate lost its flag"
pass "the factory default certificate cannot be deleted (InUse), state unchanged"

# ---------------------------------------------------------------- a certificate serving addresses
web=$(C create-self-signed --name web --key-type ec-p256 --cn web.example.com | created)
[[ "$web" == /org/certd1/certificate/* ]] || fail "create-self-signed did not report a path"
webkey=$(key_of "$web")
C assign 127.0.0.2 web >/dev/null
C assign 127.0.0.3 web >/dev/null
[ "$(cprop "$web" Addresses)" = '2 "127.0.0.2" "127.0.0.3"' ] || fail "web Addresses: $(cprop "$web" Addresses)"
refused InUse "certificate serving two addresses" web "$web" org.certd1.Certificate.Delete
grep -q "127.0.0.[23]" "$WORK/err" || fail "the InUse message does not name the address: $(cat "$WORK/err")"
C assign 127.0.0.2 "$factory" >/dev/null
[ "$(cprop "$web" Addresses)" = '1 "127.0.0.3"' ] || fail "web Addresses after moving one: $(cprop "$web" Addresses)"
refused InUse "certificate still serving one address" web "$web" org.certd1.Certificate.Delete
C assign 127.0.0.3 "$factory" >/dev/null
[ "$(cprop "$web" Addresses)" = 0 ] || fail "web still has addresses"
C delete web >/dev/null || fail "certctl delete of a certificate whose addresses moved: $(cat "$WORK/err")"
exists "$web" && fail "deleted certificate still on the bus"
# Its key had no other user: it went with it.
exists "$webkey" && fail "the key of a deleted certificate (no other user) is still on the bus"
[ ! -e "$(key_file "$webkey")" ] || fail "the key file of a deleted certificate is still on disk"
[ "$(cprop "$factory" Addresses)" = '2 "127.0.0.2" "127.0.0.3"' ] || fail "factory does not serve the freed addresses"
pass "a certificate serving addresses: InUse until they move, then deleted with its unused key"

# ---------------------------------------------------------------- a key shared by two certificates
a1=$(C create-self-signed --name a1 --key-type ec-p256 --cn a1.example.com | created)
k=$(key_of "$a1")
[[ "$k" == /org/certd1/key/* ]] || fail "a1 has no key"
a2=$(C create-self-signed --name a2 --key "$k" --cn a2.example.com | created)
[ "$(key_of "$a2")" = "$k" ] || fail "a2 does not use a1's key"
[ "$(prop "$k" org.certd1.Key Certificates)" = "2 \"$a1\" \"$a2\"" ] ||
  [ "$(prop "$k" org.certd1.Key Certificates)" = "2 \"$a2\" \"$a1\"" ] || fail "Key.Certificates: $(prop "$k" org.certd1.Key Certificates)"
refused InUse "key used by two certificates" "$k" "$k" org.certd1.Key.Delete
# Delete one certificate (busctl): the key stays for the other.
busctl --system call org.certd1 "$a1" org.certd1.Certificate Delete || fail "busctl Delete a1"
exists "$a1" && fail "a1 still on the bus"
exists "$k" || fail "the key went with a1 although a2 still uses it"
[ -e "$(key_file "$k")" ] || fail "the key file went with a1 although a2 still uses it"
[ "$(prop "$k" org.certd1.Key Certificates)" = "1 \"$a2\"" ] || fail "Key.Certificates after a1: $(prop "$k" org.certd1.Key Certificates)"
[ "$(cprop "$a2" HasPrivateKey)" = true ] || fail "a2 lost its private key"
refused InUse "key used by one certificate" "$k" "$k" org.certd1.Key.Delete
# The last user goes (certctl): the key goes with it.
C delete a2 >/dev/null || fail "certctl delete a2"
exists "$k" && fail "the key outlived its last certificate"
[ ! -e "$(key_file "$k")" ] || fail "the key file outlived its last certificate"
pass "a key shared by two certificates stays until the last goes; deleting it in use is InUse"

# ---------------------------------------------------------------- a key shared by a certificate and a request
req=$(C create-request --name r1 --key-type ec-p256 --cn r1.example.com -o "$WORK/r1.csr" | created)
[[ "$req" == /org/certd1/request/* ]] || fail "create-request did not report a path"
rk=$(prop "$req" org.certd1.Request Key | tr -d '"')
c1=$(C create-self-signed --name c1 --key "$rk" --cn c1.example.com | created)
refused InUse "key used by a certificate and a request" "$rk" "$rk" org.certd1.Key.Delete
C delete c1 >/dev/null || fail "certctl delete c1"
exists "$rk" || fail "the key went with c1 although request r1 still uses it"
[ -e "$(key_file "$rk")" ] || fail "the key file went with c1 although request r1 still uses it"
[ "$(prop "$rk" org.certd1.Key Requests)" = "1 \"$req\"" ] || fail "Key.Requests: $(prop "$rk" org.certd1.Key Requests)"
refused InUse "key used by a request" "$rk" "$rk" org.certd1.Key.Delete
busctl --system call org.certd1 "$req" org.certd1.Request Delete || fail "busctl Request.Delete"
exists "$req" && fail "request still on the bus"
exists "$rk" && fail "the key outlived its last request"
[ ! -e "$(key_file "$rk")" ] || fail "the key file outlived its last request"
pass "a key shared by a certificate and a request stays until both go"

# ---------------------------------------------------------------- an unused key is deletable
# Import a key alone (no certificate, no request): Key.Delete works on it.
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$WORK/lone.key" 2>/dev/null
out=$(busctl_import "$WORK/lone.key")
lk=$(echo "$out" | grep -o '/org/certd1/key/[0-9a-f]*' | head -1)
if [ -n "$lk" ]; then
  [ "$(prop "$lk" org.certd1.Key Certificates)" = 0 ] || fail "lone key has certificates"
  busctl --system call org.certd1 "$lk" org.certd1.Key Delete || fail "Key.Delete of an unused key"
  exists "$lk" && fail "an unused key survived Key.Delete"
  pass "an unused key is deleted"
else
  echo "note: a key without a certificate was not stored by Import ($out); skipped the unused-key case"
fi
echo "lifecycle delete: all checks passed"
