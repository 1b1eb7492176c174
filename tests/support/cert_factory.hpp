#pragma once

// In-process certificates for unit tests: roots, intermediates and leaves with
// every property the warning and chain rules look at.

#include "pki/key.hpp"

#include <string>
#include <vector>

namespace certd::test {

struct IssueOptions {
    std::string commonName = "test";
    std::vector<std::string> dnsNames; // SAN DNS entries (none: no SAN extension)
    // CA:TRUE + keyCertSign; else CA:FALSE, digitalSignature (+keyEncipherment for RSA) and serverAuth.
    bool ca = false;
    long notBeforeOffsetSeconds = -86400;      // relative to now
    long notAfterOffsetSeconds = 365L * 86400; // relative to now
    const char* digest = "SHA256";             // e.g. "SHA1"
    bool subjectKeyId = true;
    bool authorityKeyId = true;
    std::vector<std::string> caIssuersUrls; // AIA caIssuers
};

struct TestCert {
    pki::X509Ptr cert;
    pki::EvpPkeyPtr key;
};

// A key of the type, memoised per (type, slot) so suites stay fast; slot keeps keys distinct.
pki::EvpPkeyPtr testKey(pki::KeyType type, int slot = 0);
// An RSA key of any size OpenSSL allows (e.g. 1024 for weak-key tests), memoised per size.
pki::EvpPkeyPtr testRsaKey(int bits);

// A self-signed CA (root) with testKey(type, slot): two roots share a key unless their slots differ.
TestCert makeRoot(const std::string& commonName, pki::KeyType type = pki::KeyType::EcP256, int slot = 0);
// A certificate for `subjectKey` (a fresh EC P-256 key when null) signed by `issuer`
// (with options.digest; an Ed25519/Ed448 issuer ignores it).
TestCert issue(const TestCert& issuer, const IssueOptions& options, pki::EvpPkeyPtr subjectKey = nullptr);
// A self-signed non-CA certificate with the options.
TestCert makeSelfSigned(const IssueOptions& options, pki::EvpPkeyPtr key = nullptr);

// root -> intermediate -> leaf ("leaf.example.com").
struct TestPki {
    TestCert root;
    TestCert intermediate;
    TestCert leaf;
};
// Fresh keys each call, so two TestPkis never share a key.
TestPki makeTestPki();

// PEM text of a certificate, and of a private key (unencrypted PKCS#8), to feed an import.
std::string pem(X509* cert);
std::string keyPem(EVP_PKEY* key);

} // namespace certd::test
