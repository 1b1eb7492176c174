#!/usr/bin/env bash
# Manual chains and trust bundles (issue 5). SetChain("manual", pem) takes the
# issuers leaf-first, each the issuer of the one before, and Chain/ChainMode show
# exactly that; a PEM whose first certificate did not sign the leaf, or in the
# wrong order, is refused with InvalidCertificate and changes nothing;
# SetChain("automatic", []) goes back to the chain built from the store. A trust
# bundle (certctl export --trust-bundle) holds the issuers up to the root, never
# the key, and openssl verifies the leaf against it. Through certctl and busctl.
. "$(dirname "$0")/lifecycle_lib.sh"
start_bus
start_certd

"$MAKE_TEST_PKI" "$WORK/m1" m1 "" ""
"$MAKE_TEST_PKI" "$WORK/m2" m2 "" ""
for p in m1 m2; do
  d="$WORK/$p"
  cat "$d/intermediate.pem" "$d/root.pem" > "$d/chain.pem"          # right: leaf's issuer first
  cat "$d/root.pem" "$d/intermediate.pem" > "$d/reversed.pem"       # wrong order
  cat "$d/intermediate.pem" "$d/stranger.pem" > "$d/half.pem"        # first link right, second wrong
  cat "$d/intermediate.pem" "$d/root.pem" "$d/leaf.key" > "$d/with-key.pem"
done

# The m1 leaf comes with its key (so "no key in the trust bundle" means something); m2 alone.
cat "$WORK/m1/leaf.pem" "$WORK/m1/leaf.key" > "$WORK/m1/leaf+key.pem"
C import "$WORK/m1/leaf+key.pem" >/dev/null
busctl_import "$WORK/m2/leaf.pem" >/dev/null
leaf=$(cert_path "$WORK/m1/leaf.pem"); int=$(cert_path "$WORK/m1/intermediate.pem"); root=$(cert_path "$WORK/m1/root.pem")
[ "$(cprop "$leaf" HasPrivateKey)" = true ] || fail "m1 leaf was not linked to its key"
[ "$(cprop "$leaf" ChainMode)" = '"automatic"' ] || fail "a new certificate's ChainMode is $(cprop "$leaf" ChainMode)"
[ "$(cprop "$leaf" Chain)" = 0 ] || fail "m1 leaf alone has a chain"

# ---------------------------------------------------------------- refusals (certctl and dbus-send)
# chain_refused ERROR LEAF_NAME LEAF_PATH FILE WHAT
chain_refused() {
  local before
  before=$(snapshot)
  certctl_refused "$1" set-chain "$2" manual --pem "$4"
  expect_unchanged "$before" "certctl set-chain manual ($5)"
  expect_dbus_error "$1" "$3" org.certd1.Certificate.SetChain string:manual "$(dbus_bytes "$4")"
  expect_unchanged "$before" "SetChain over dbus-send ($5)"
  [ "$(cprop "$3" ChainMode)" = '"automatic"' ] || fail "$5: ChainMode changed"
  [ "$(cprop "$3" Chain)" = 0 ] || fail "$5: the chain changed"
}
chain_refused InvalidCertificate m1.example.com "$leaf" "$WORK/m1/reversed.pem" "root first"
grep -q "did not issue" "$WORK/err" || fail "the wrong-order message does not say what is wrong: $(cat "$WORK/err")"
chain_refused InvalidCertificate m1.example.com "$leaf" "$WORK/m1/stranger.pem" "first certificate did not sign the leaf"
chain_refused InvalidCertificate m1.example.com "$leaf" "$WORK/m1/half.pem" "second certificate did not sign the first"
[ "$(busctl --system tree org.certd1 --list | grep -c "$int")" = 0 ] ||
  fail "a refused manual chain left its valid first certificate imported"
chain_refused InvalidArgument m1.example.com "$leaf" "$WORK/m1/with-key.pem" "a PEM holding a key"
pass "SetChain manual: wrong order / wrong issuer -> InvalidCertificate, a key -> InvalidArgument; state unchanged"

# ---------------------------------------------------------------- manual chain through certctl
C set-chain m1.example.com manual --pem "$WORK/m1/chain.pem" >/dev/null || fail "certctl set-chain manual: $(cat "$WORK/err")"
[ "$(cprop "$leaf" ChainMode)" = '"manual"' ] || fail "ChainMode after set-chain manual: $(cprop "$leaf" ChainMode)"
[ "$(cprop "$leaf" Chain)" = "2 \"$int\" \"$root\"" ] || fail "manual Chain: $(cprop "$leaf" Chain)"
cprop "$leaf" Warnings | grep -q '"chain-incomplete"' && fail "a manual chain up to the root still warns chain-incomplete"
[ "$(cprop "$int" Kind)" = '"intermediate"' ] && [ "$(cprop "$root" Kind)" = '"root"' ] ||
  fail "the manual chain's certificates were not imported"
# A certificate in a manual chain cannot be deleted (docs/api.md, Delete).
before=$(snapshot)
expect_dbus_error InUse "$int" org.certd1.Certificate.Delete
expect_unchanged "$before" "deleting a certificate of a manual chain"
pass "certctl set-chain manual: Chain and ChainMode show it, issuers imported, chain members protected"

# A shorter manual chain is served as given, even though the store could complete it.
cp "$WORK/m1/intermediate.pem" "$WORK/m1/int-only.pem"
C set-chain m1.example.com manual --pem "$WORK/m1/int-only.pem" >/dev/null
[ "$(cprop "$leaf" Chain)" = "1 \"$int\"" ] || fail "manual chain [intermediate]: Chain is $(cprop "$leaf" Chain)"
cprop "$leaf" Warnings | grep -q '"chain-incomplete"' || fail "a manual chain short of the root lacks chain-incomplete"
C set-chain m1.example.com automatic >/dev/null
[ "$(cprop "$leaf" ChainMode)" = '"automatic"' ] || fail "ChainMode after set-chain automatic"
[ "$(cprop "$leaf" Chain)" = "2 \"$int\" \"$root\"" ] || fail "automatic Chain: $(cprop "$leaf" Chain)"
cprop "$leaf" Warnings | grep -q '"chain-incomplete"' && fail "automatic chain from the store still incomplete"
pass "a manual chain is served exactly as given; set-chain automatic goes back to the store's chain"

# ---------------------------------------------------------------- manual chain through busctl
bleaf=$(cert_path "$WORK/m2/leaf.pem"); bint=$(cert_path "$WORK/m2/intermediate.pem"); broot=$(cert_path "$WORK/m2/root.pem")
before=$(snapshot)
msg=$(busctl --system call org.certd1 "$bleaf" org.certd1.Certificate SetChain say manual $(bytes_of "$WORK/m2/reversed.pem") 2>&1) &&
  fail "busctl SetChain with the root first was accepted"
grep -q "did not issue" <<<"$msg" || fail "busctl SetChain refusal unclear: $msg"
expect_unchanged "$before" "busctl SetChain (root first)"
busctl --system call org.certd1 "$bleaf" org.certd1.Certificate SetChain say manual $(bytes_of "$WORK/m2/chain.pem") ||
  fail "busctl SetChain manual"
[ "$(cprop "$bleaf" ChainMode)" = '"manual"' ] || fail "busctl: ChainMode is $(cprop "$bleaf" ChainMode)"
[ "$(cprop "$bleaf" Chain)" = "2 \"$bint\" \"$broot\"" ] || fail "busctl: manual Chain is $(cprop "$bleaf" Chain)"
# Back to automatic: intermediate and root are stored now, so the store's chain is the same two.
busctl --system call org.certd1 "$bleaf" org.certd1.Certificate SetChain say automatic 0 || fail "busctl SetChain automatic"
[ "$(cprop "$bleaf" ChainMode)" = '"automatic"' ] || fail "busctl: ChainMode after automatic"
[ "$(cprop "$bleaf" Chain)" = "2 \"$bint\" \"$broot\"" ] || fail "busctl: automatic Chain is $(cprop "$bleaf" Chain)"
expect_dbus_error InvalidArgument "$bleaf" org.certd1.Certificate.SetChain string:sideways "$(dbus_bytes "$WORK/m2/chain.pem")"
pass "busctl SetChain manual/automatic"

# ---------------------------------------------------------------- trust bundle
C export m1.example.com --trust-bundle -o "$WORK/bundle.pem" >/dev/null || fail "certctl export --trust-bundle"
grep -q "PRIVATE KEY" "$WORK/bundle.pem" && fail "the trust bundle holds a private key"
[ "$(grep -c -- '-----BEGIN ' "$WORK/bundle.pem")" = "$(grep -c -- '-----BEGIN CERTIFICATE-----' "$WORK/bundle.pem")" ] ||
  fail "the trust bundle holds something other than certificates"
fps=$(openssl crl2pkcs7 -nocrl -certfile "$WORK/bundle.pem" | openssl pkcs7 -print_certs |
  awk '/BEGIN CERT/{f=1;b=""} f{b=b $0 "\n"} /END CERT/{f=0; printf "%s", b | "openssl x509 -noout -fingerprint -sha256"; close("openssl x509 -noout -fingerprint -sha256")}')
fp() { openssl x509 -in "$1" -noout -fingerprint -sha256; }
grep -qxF "$(fp "$WORK/m1/intermediate.pem")" <<<"$fps" || fail "trust bundle lacks the intermediate"
grep -qxF "$(fp "$WORK/m1/root.pem")" <<<"$fps" || fail "trust bundle lacks the root"
n=$(cert_count "$WORK/bundle.pem")
# certctl documents the bundle as "the certificate and its issuers": leaf, intermediate, root.
[ "$n" = 3 ] || fail "trust bundle holds $n certificates, expected 3 (leaf, intermediate, root)"
[ "$(echo "$fps" | tail -1)" = "$(fp "$WORK/m1/root.pem")" ] || fail "the trust bundle does not end with the root"
openssl verify -CAfile "$WORK/bundle.pem" "$WORK/m1/leaf.pem" >/dev/null || fail "openssl verify of the leaf against the bundle"
# And the bundle is what makes it verify: against the intermediate alone it does not.
openssl verify -CAfile "$WORK/m1/intermediate.pem" "$WORK/m1/leaf.pem" >/dev/null 2>&1 &&
  fail "test setup: the leaf verifies without the root, so the check above proves nothing"
set +e; C export m1.example.com --trust-bundle --key -o "$WORK/nope.pem" 2>/dev/null; rc=$?; set -e
[ $rc = 2 ] || fail "export --trust-bundle --key is not a usage error (exit $rc)"
[ ! -e "$WORK/nope.pem" ] || fail "a refused trust-bundle export wrote a file"
pass "certctl export --trust-bundle: chain and root in PEM, no key, openssl verifies the leaf against it"

# The busctl equivalent: Export with include_chain, format pem.
busctl --system call org.certd1 "$bleaf" org.certd1.Certificate Export 'a{sv}' 2 format s pem include_chain b true |
  perl -ane 'print pack("C*", @F[2..$#F])' > "$WORK/bbundle.pem"
[ "$(cert_count "$WORK/bbundle.pem")" = 3 ] || fail "busctl Export with chain holds $(cert_count "$WORK/bbundle.pem") certificates"
grep -q "PRIVATE KEY" "$WORK/bbundle.pem" && fail "busctl chain export holds a key"
openssl verify -CAfile "$WORK/bbundle.pem" "$WORK/m2/leaf.pem" >/dev/null || fail "openssl verify against the busctl bundle"
pass "busctl Export include_chain pem: chain and root, verifies"
echo "lifecycle chain: all checks passed"
