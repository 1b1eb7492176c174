#pragma once

// What the TLS context and key forwarding tests share: test certificates and an in-memory
// handshake against a listener's front context, as certd-tls makes them.

#include "tls/context.hpp"

#include <doctest/doctest.h>

#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include <functional>

namespace certd::tls::test {

inline pki::EvpPkeyPtr ecKey()
{
    return pki::EvpPkeyPtr(EVP_EC_gen("P-256"));
}

// A certificate for `key`, named `cn`, signed by (issuerName, issuerKey); self-signed when null.
inline pki::X509Ptr makeCert(const std::string& cn, EVP_PKEY* key, X509* issuer, EVP_PKEY* issuerKey, bool ca)
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

inline std::string pem(X509* cert)
{
    pki::BioPtr bio(BIO_new(BIO_s_mem()));
    PEM_write_bio_X509(bio.get(), cert);
    const auto bytes = pki::bioBytes(bio.get());
    return {bytes.begin(), bytes.end()};
}

inline SecureBytes pkcs8(EVP_PKEY* key)
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
    std::string alpn;  // what the client negotiated
};

// A full handshake in memory between `clientCtx` (set up further per SSL by `configure`) and a
// listener's front context that asks `source` what to serve, as certd-tls does.
inline Handshake handshakeWith(ConnectionSource& source, SSL_CTX* front, SSL_CTX* clientCtx,
                               const std::function<void(SSL*)>& configure,
                               const std::function<void()>& onAsync = {})
{
    pki::SslPtr server(SSL_new(front));
    pki::SslPtr client(SSL_new(clientCtx));
    REQUIRE(server);
    REQUIRE(client);
    SSL_set_app_data(server.get(), &source);
    SSL_set_accept_state(server.get());
    SSL_set_connect_state(client.get());
    configure(client.get());
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
        if (s != 1 && se == SSL_ERROR_WANT_ASYNC && onAsync) {
            onAsync(); // the server's handshake is parked on a signature: complete it, then go on
            continue;
        }
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
    result.alpn = negotiatedAlpn(client.get());
    return result;
}

// A client offering only `sigalgs` (up to `maxVersion`, trusting `trust`, expecting
// leaf.example) against a listener serving `served`.
inline Handshake handshake(const std::shared_ptr<const CertificateContext>& served, const char* sigalgs,
                           int maxVersion, X509* trust, TlsProfile profile = TlsProfile::Intermediate,
                           const std::function<void()>& onAsync = {})
{
    OneCertificate source(served);
    const auto front = buildFrontContext(profile);
    pki::SslCtxPtr clientCtx(SSL_CTX_new(TLS_client_method()));
    REQUIRE(clientCtx);
    REQUIRE(SSL_CTX_set1_sigalgs_list(clientCtx.get(), sigalgs) == 1);
    REQUIRE(SSL_CTX_set_max_proto_version(clientCtx.get(), maxVersion) == 1);
    REQUIRE(X509_STORE_add_cert(SSL_CTX_get_cert_store(clientCtx.get()), trust) == 1);
    SSL_CTX_set_verify(clientCtx.get(), SSL_VERIFY_PEER, nullptr);
    return handshakeWith(
        source, front.get(), clientCtx.get(),
        [](SSL* client) { REQUIRE(SSL_set1_host(client, "leaf.example") == 1); }, onAsync);
}

} // namespace certd::tls::test
