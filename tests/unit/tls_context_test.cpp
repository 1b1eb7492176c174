#include "tls/context.hpp"

#include <doctest/doctest.h>

#include <openssl/ec.h>
#include <openssl/err.h>
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
    EVP_PKEY* signer = issuerKey ? issuerKey : key;
    const bool edDsa = EVP_PKEY_is_a(signer, "ED25519") == 1 || EVP_PKEY_is_a(signer, "ED448") == 1;
    X509_sign(cert.get(), signer, edDsa ? nullptr : EVP_sha256());
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

// What a listener is to the client-hello callback: one certificate, fixed.
class OneCertificate : public ConnectionSource {
public:
    explicit OneCertificate(std::shared_ptr<const CertificateContext> certificate)
        : certificate_(std::move(certificate))
    {
    }
    std::shared_ptr<const CertificateContext> certificate() const override { return certificate_; }
    TicketKeys& ticketKeys() const override { return ticketKeys_; }

private:
    std::shared_ptr<const CertificateContext> certificate_;
    mutable TicketKeys ticketKeys_;
};

struct Handshake {
    bool done = false;
    std::string version; // "TLSv1.3"
    std::string cipher;  // "ECDHE-ECDSA-AES128-GCM-SHA256"
    pki::X509Ptr peer;   // the certificate the client got
    long verifyResult = -1;
    std::string error; // what OpenSSL said when the handshake failed
};

// A full handshake in memory: a client offering only `sigalgs` (up to `maxVersion`, trusting
// `trust`) against a listener's front context that switches to `served`, as certd-tls does.
Handshake handshake(const std::shared_ptr<const CertificateContext>& served, const char* sigalgs,
                    int maxVersion, X509* trust, TlsProfile profile = TlsProfile::Intermediate)
{
    OneCertificate source(served);
    const auto front = buildFrontContext(profile);
    pki::SslCtxPtr clientCtx(SSL_CTX_new(TLS_client_method()));
    REQUIRE(clientCtx);
    REQUIRE(SSL_CTX_set1_sigalgs_list(clientCtx.get(), sigalgs) == 1);
    REQUIRE(SSL_CTX_set_max_proto_version(clientCtx.get(), maxVersion) == 1);
    REQUIRE(X509_STORE_add_cert(SSL_CTX_get_cert_store(clientCtx.get()), trust) == 1);
    SSL_CTX_set_verify(clientCtx.get(), SSL_VERIFY_PEER, nullptr);

    pki::SslPtr server(SSL_new(front.get()));
    pki::SslPtr client(SSL_new(clientCtx.get()));
    REQUIRE(server);
    REQUIRE(client);
    SSL_set_app_data(server.get(), static_cast<ConnectionSource*>(&source));
    SSL_set_accept_state(server.get());
    SSL_set_connect_state(client.get());
    REQUIRE(SSL_set1_host(client.get(), "leaf.example") == 1);
    BIO* clientBio = nullptr;
    BIO* serverBio = nullptr;
    REQUIRE(BIO_new_bio_pair(&clientBio, 0, &serverBio, 0) == 1);
    SSL_set_bio(client.get(), clientBio, clientBio);
    SSL_set_bio(server.get(), serverBio, serverBio);

    Handshake result;
    // Each round moves at least one flight; a handshake needs a handful. Bounded either way.
    for (int round = 0; round < 50; ++round) {
        const int c = SSL_do_handshake(client.get());
        const int s = SSL_do_handshake(server.get());
        if (c == 1 && s == 1) {
            result.done = true;
            break;
        }
        const int ce = SSL_get_error(client.get(), c);
        const int se = SSL_get_error(server.get(), s);
        if ((c != 1 && ce != SSL_ERROR_WANT_READ && ce != SSL_ERROR_WANT_WRITE) ||
            (s != 1 && se != SSL_ERROR_WANT_READ && se != SSL_ERROR_WANT_WRITE)) {
            result.error = "first failure: " + pki::drainOpenSslErrors();
            // Let the client read the server's alert: what a real client would report.
            SSL_do_handshake(client.get());
            result.error += "; client: " + pki::drainOpenSslErrors();
            break;
        }
    }
    ERR_clear_error();
    if (!result.done)
        return result;
    result.version = SSL_get_version(client.get());
    result.cipher = SSL_CIPHER_get_name(SSL_get_current_cipher(client.get()));
    result.verifyResult = SSL_get_verify_result(client.get());
    result.peer.reset(SSL_get1_peer_certificate(client.get()));
    return result;
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
