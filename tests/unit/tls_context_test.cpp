#include "tls/context.hpp"

#include <doctest/doctest.h>

#include <openssl/ec.h>
#include <openssl/pem.h>

using namespace certd;
using namespace certd::tls;

namespace {

pki::EvpPkeyPtr ecKey()
{
    return pki::EvpPkeyPtr(EVP_EC_gen("P-256"));
}

// A certificate for `key`, named `cn`, signed by (issuerName, issuerKey); self-signed when null.
pki::X509Ptr makeCert(const std::string& cn, EVP_PKEY* key, X509* issuer, EVP_PKEY* issuerKey, bool ca)
{
    pki::X509Ptr cert(X509_new());
    X509_set_version(cert.get(), 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert.get()),
                     static_cast<long>(std::hash<std::string>{}(cn)&0xFFFFFF));
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), 86400);
    X509_NAME* name = X509_get_subject_name(cert.get());
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(cn.c_str()),
                               -1, -1, 0);
    X509_set_issuer_name(cert.get(), issuer ? X509_get_subject_name(issuer) : name);
    X509_set_pubkey(cert.get(), key);
    if (ca) {
        X509V3_CTX ctx;
        X509V3_set_ctx(&ctx, issuer ? issuer : cert.get(), cert.get(), nullptr, nullptr, 0);
        pki::X509ExtensionPtr bc(
            X509V3_EXT_conf_nid(nullptr, &ctx, NID_basic_constraints, "critical,CA:TRUE"));
        X509_add_ext(cert.get(), bc.get(), -1);
    }
    X509_sign(cert.get(), issuerKey ? issuerKey : key, EVP_sha256());
    return cert;
}

std::string pem(X509* cert)
{
    pki::BioPtr bio(BIO_new(BIO_s_mem()));
    PEM_write_bio_X509(bio.get(), cert);
    const auto bytes = pki::bioBytes(bio.get());
    return {bytes.begin(), bytes.end()};
}

SecureBytes pkcs8(EVP_PKEY* key)
{
    pki::Pkcs8InfoPtr p8(EVP_PKEY2PKCS8(key));
    unsigned char* der = nullptr;
    const int n = i2d_PKCS8_PRIV_KEY_INFO(p8.get(), &der);
    SecureBytes out(der, der + n);
    OPENSSL_clear_free(der, static_cast<std::size_t>(n));
    return out;
}

struct Chain {
    pki::EvpPkeyPtr rootKey = ecKey(), leafKey = ecKey();
    pki::X509Ptr root = makeCert("Test Root", rootKey.get(), nullptr, nullptr, true);
    pki::X509Ptr leaf = makeCert("leaf.example", leafKey.get(), root.get(), rootKey.get(), false);
};

ErrorCode codeOf(const CertificateMaterial& m)
{
    try {
        buildCertificateContext(m);
    } catch (const Error& e) {
        CHECK(std::string(e.what()).find("certificate " + m.id) != std::string::npos); // names the entry
        return e.code();
    }
    FAIL("accepted");
    return ErrorCode::Internal;
}

} // namespace

TEST_CASE("a certificate context holds the leaf and the whole chain")
{
    Chain c;
    const auto ctx =
        buildCertificateContext({"good", pem(c.leaf.get()) + pem(c.root.get()), pkcs8(c.leafKey.get())});
    REQUIRE(ctx);
    CHECK(ctx->id == "good");
    CHECK(X509_cmp(SSL_CTX_get0_certificate(ctx->ctx.get()), c.leaf.get()) == 0);
    STACK_OF(X509)* chain = nullptr;
    SSL_CTX_get0_chain_certs(ctx->ctx.get(), &chain);
    REQUIRE(chain != nullptr);
    CHECK(sk_X509_num(chain) == 1);
    CHECK(ctx->leafSha256.size() == 64);
}

TEST_CASE("a key that does not belong to the certificate is refused as KeyMismatch")
{
    Chain c;
    const auto other = ecKey();
    CHECK(codeOf({"mismatch", pem(c.leaf.get()), pkcs8(other.get())}) == ErrorCode::KeyMismatch);
}

TEST_CASE("a chain out of order is refused as InvalidCertificate")
{
    Chain c;
    const auto stranger = ecKey();
    const auto unrelated = makeCert("Unrelated CA", stranger.get(), nullptr, nullptr, true);
    CHECK(codeOf({"order", pem(c.leaf.get()) + pem(unrelated.get()), pkcs8(c.leafKey.get())}) ==
          ErrorCode::InvalidCertificate);
}

TEST_CASE("garbage instead of a chain or a key is refused as Malformed")
{
    Chain c;
    CHECK(codeOf({"nochain", "not a certificate", pkcs8(c.leafKey.get())}) == ErrorCode::Malformed);
    CHECK(codeOf({"nokey", pem(c.leaf.get()), SecureBytes{1, 2, 3}}) == ErrorCode::Malformed);
}

TEST_CASE("the intermediate profile allows TLS 1.2 and 1.3, modern only 1.3")
{
    const auto intermediate = buildFrontContext(TlsProfile::Intermediate);
    CHECK(SSL_CTX_get_min_proto_version(intermediate.get()) == TLS1_2_VERSION);
    const auto modern = buildFrontContext(TlsProfile::Modern);
    CHECK(SSL_CTX_get_min_proto_version(modern.get()) == TLS1_3_VERSION);
    // Only ECDHE AEAD suites for TLS 1.2.
    STACK_OF(SSL_CIPHER)* ciphers = SSL_CTX_get_ciphers(intermediate.get());
    for (int i = 0; i < sk_SSL_CIPHER_num(ciphers); ++i) {
        const SSL_CIPHER* c = sk_SSL_CIPHER_value(ciphers, i);
        if (SSL_CIPHER_get_kx_nid(c) == NID_kx_any)
            continue; // a TLS 1.3 suite: key exchange is always (EC)DHE there
        CHECK(SSL_CIPHER_get_kx_nid(c) == NID_kx_ecdhe);
        CHECK(SSL_CIPHER_is_aead(c));
    }
}

TEST_CASE("ticket keys: a rotated-out key stops opening tickets, a previous one still does")
{
    TicketKeys keys;
    unsigned char name[16], iv[EVP_MAX_IV_LENGTH];
    pki::OsslPtr<EVP_CIPHER_CTX, EVP_CIPHER_CTX_free> cipher(EVP_CIPHER_CTX_new());
    pki::OsslPtr<EVP_MAC, EVP_MAC_free> mac(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
    pki::OsslPtr<EVP_MAC_CTX, EVP_MAC_CTX_free> hmac(EVP_MAC_CTX_new(mac.get()));
    REQUIRE(keys.callback(name, iv, cipher.get(), hmac.get(), 1) == 1);
    keys.rotate();
    CHECK(keys.callback(name, iv, cipher.get(), hmac.get(), 0) == 2); // valid, renew
    keys.rotate();
    CHECK(keys.callback(name, iv, cipher.get(), hmac.get(), 0) == 2);
    keys.rotate();
    CHECK(keys.callback(name, iv, cipher.get(), hmac.get(), 0) == 0); // gone after kKept rotations
    REQUIRE(keys.callback(name, iv, cipher.get(), hmac.get(), 1) == 1);
    keys.reset();
    CHECK(keys.callback(name, iv, cipher.get(), hmac.get(), 0) == 0); // flushed
}
