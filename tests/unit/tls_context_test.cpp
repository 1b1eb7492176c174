#include "tls/context.hpp"
#include "tls_test_support.hpp"

#include <doctest/doctest.h>

#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>

using namespace certd;
using namespace certd::tls;
using namespace certd::tls::test;

namespace {

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

TEST_CASE("an Ed25519 or Ed448 certificate is served to clients that offer it, over TLS 1.3 and 1.2")
{
    for (const char* algorithm : {"ED25519", "ED448"}) {
        CAPTURE(algorithm);
        const std::string sigalg = algorithm == std::string("ED25519") ? "ed25519" : "ed448";
        const pki::EvpPkeyPtr rootKey(EVP_PKEY_Q_keygen(nullptr, nullptr, algorithm));
        const pki::EvpPkeyPtr leafKey(EVP_PKEY_Q_keygen(nullptr, nullptr, algorithm));
        REQUIRE(rootKey);
        REQUIRE(leafKey);
        const auto root = makeCert("Ed Root", rootKey.get(), nullptr, nullptr, true);
        const auto leaf = makeCert("leaf.example", leafKey.get(), root.get(), rootKey.get(), false);
        const auto served =
            buildCertificateContext({"ed", pem(leaf.get()) + pem(root.get()), pkcs8(leafKey.get())});
        REQUIRE(served);

        const auto tls13 = handshake(served, sigalg.c_str(), TLS1_3_VERSION, root.get());
        REQUIRE_MESSAGE(tls13.done, tls13.error);
        CHECK(tls13.version == "TLSv1.3");
        REQUIRE(tls13.peer);
        CHECK(X509_cmp(tls13.peer.get(), leaf.get()) == 0);
        CHECK(tls13.verifyResult == X509_V_OK);

        // RFC 8422: TLS 1.2 carries EdDSA certificates in the ECDHE-ECDSA suites.
        const auto tls12 = handshake(served, sigalg.c_str(), TLS1_2_VERSION, root.get());
        REQUIRE_MESSAGE(tls12.done, tls12.error);
        CHECK(tls12.version == "TLSv1.2");
        CHECK(tls12.cipher.rfind("ECDHE-ECDSA-", 0) == 0);
        REQUIRE(tls12.peer);
        CHECK(X509_cmp(tls12.peer.get(), leaf.get()) == 0);
        CHECK(tls12.verifyResult == X509_V_OK);

        // The modern profile (TLS 1.3 only) serves it too.
        const auto modern = handshake(served, sigalg.c_str(), TLS1_3_VERSION, root.get(), TlsProfile::Modern);
        CHECK_MESSAGE(modern.done, modern.error);

        // A client that offers neither EdDSA algorithm gets a handshake failure, on both versions.
        for (const int version : {TLS1_3_VERSION, TLS1_2_VERSION}) {
            const auto refused =
                handshake(served, "ECDSA+SHA256:RSA-PSS+SHA256:RSA+SHA256", version, root.get());
            CHECK_FALSE(refused.done);
            CAPTURE(refused.error);
            CHECK(refused.error.find("client: ") != std::string::npos);
            CHECK(refused.error.substr(refused.error.find("client: ")).find("alert handshake failure") !=
                  std::string::npos);
        }
    }
}
