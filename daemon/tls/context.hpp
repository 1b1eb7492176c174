#pragma once

// TLS contexts, split as Envoy splits them: CertificateMaterial is the immutable
// config value; CertificateContext is the validated runtime object built from it
// (off the hot path) and then only read; the FrontContext of a listener holds the
// policy, the session cache and the ticket keys, and every SSL is created from it
// so that resumption survives certificate swaps.

#include "pki/ossl.hpp"
#include "tls/desired_state.hpp"

#include <array>
#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace certd::tls {

// An immutable SSL_CTX serving one certificate with its chain. Never modified once built.
struct CertificateContext {
    std::string id;
    std::string leafSha256; // hex fingerprint of the leaf, for logs
    pki::SslCtxPtr ctx;
};

// A tls-alpn-01 challenge certificate (RFC 8737): built as any certificate context, but its
// ALPN callback selects "acme-tls/1" and nothing else.
std::shared_ptr<const CertificateContext> buildChallengeContext(const CertificateMaterial& material,
                                                                TlsProfile profile);

// Parses and validates the material: the chain parses (leaf first, each certificate issued by
// the next), the key parses and matches the leaf. Throws Error(InvalidCertificate), Error(Malformed)
// or Error(KeyMismatch), the message naming the certificate id. The profile's TLS 1.2 cipher
// list goes in too: after SSL_set_SSL_CTX an SSL takes its cipher list from this context.
std::shared_ptr<const CertificateContext>
buildCertificateContext(const CertificateMaterial& material, TlsProfile profile = TlsProfile::Intermediate);

// Session-ticket encryption keys, rotated by the terminator (never by certd): the current key
// seals new tickets, the previous ones still open old tickets, so resumption survives rotation.
class TicketKeys {
public:
    static constexpr std::size_t kKept = 3; // current + 2 previous
    TicketKeys();
    // A new current key; the oldest falls off.
    void rotate();
    // Only a new key: every ticket issued so far stops working (key compromise).
    void reset();

    // For SSL_CTX_set_tlsext_ticket_key_evp_cb.
    int callback(unsigned char* name, unsigned char* iv, EVP_CIPHER_CTX* cipher, EVP_MAC_CTX* mac,
                 int encrypt);

private:
    struct Key {
        std::array<unsigned char, 16> name;
        std::array<unsigned char, 32> aes;
        std::array<unsigned char, 32> hmac;
    };
    struct KeySet {
        std::vector<Key> keys; // [0] is current
        ~KeySet();
    };
    static Key freshKey();
    std::atomic<std::shared_ptr<const KeySet>> keys_;
    std::mutex rotateMutex_;
};

// What an SSL made from a front context finds in its app data (SSL_set_app_data): the
// listener it was accepted on, which must outlive the SSL.
class ConnectionSource {
public:
    virtual ~ConnectionSource() = default;
    // The certificate new handshakes get now; null when there is none to serve.
    virtual std::shared_ptr<const CertificateContext> certificate() const = 0;
    virtual TicketKeys& ticketKeys() const = 0;
    // The ACME tls-alpn-01 challenge certificate for a ClientHello that offers "acme-tls/1" with
    // this SNI (lower case; empty: none sent), or null: the connection is served as any other.
    virtual std::shared_ptr<const CertificateContext> challengeFor(std::string_view serverName) const
    {
        (void)serverName;
        return nullptr;
    }
};

// A listener's stable front SSL_CTX for the profile: protocol versions, ciphers, groups, a server
// session cache, session tickets, and a client-hello callback that switches each SSL to its
// ConnectionSource's current certificate context. It serves no certificate itself.
// `asyncSigning`: handshakes run in ASYNC jobs (SSL_MODE_ASYNC), which forwarded keys need to
// park a handshake on its signature; without forwarded keys the jobs would only cost time.
pki::SslCtxPtr buildFrontContext(TlsProfile profile, bool asyncSigning = true);

// Applies what the profile says about ciphers and groups to a context (front or certificate).
void applyProfile(SSL_CTX* ctx, TlsProfile profile);

// The negotiated ALPN protocol ("http/1.1") or empty.
std::string negotiatedAlpn(const SSL* ssl);

} // namespace certd::tls
