#include "tls/context.hpp"

#include "tls/forwarded_key.hpp"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include <cctype>
#include <cstring>

namespace certd::tls {
namespace {

// Mozilla "intermediate" (v5.7) without the DHE suites: ECDHE with AEAD only. The ECDHE-ECDSA
// suites also serve Ed25519/Ed448 certificates over TLS 1.2 (RFC 8422) to clients that offer
// those signature algorithms; OpenSSL's default signature algorithm lists include both, so an
// EdDSA certificate needs nothing more here (a client that offers neither gets a handshake failure).
constexpr const char* kTls12Ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                                      "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
                                      "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
constexpr const char* kTls13Suites =
    "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";
constexpr const char* kGroups = "X25519:P-256:P-384";
constexpr long kSessionTimeoutSeconds = 2L * 3600;

std::string subjectLine(X509* cert)
{
    char buf[256];
    X509_NAME_oneline(X509_get_subject_name(cert), buf, sizeof buf);
    return buf;
}

// The backend speaks HTTP/1.1 (it may not speak h2), so that is all we agree to; a client
// that offers no ALPN or only other protocols still gets a handshake, without ALPN.
int selectAlpn(SSL* /*ssl*/, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
               unsigned int inlen, void* /*arg*/)
{
    static const unsigned char kOurs[] = "\x08http/1.1";
    unsigned char* selected = nullptr;
    if (SSL_select_next_proto(&selected, outlen, kOurs, sizeof kOurs - 1, in, inlen) !=
        OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_NOACK;
    *out = selected;
    return SSL_TLSEXT_ERR_OK;
}

constexpr std::string_view kAcmeTls1 = "acme-tls/1";

// RFC 8737 §3: the challenge connection negotiates "acme-tls/1" and nothing else.
int selectAcmeAlpn(SSL* /*ssl*/, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                   unsigned int inlen, void* /*arg*/)
{
    static const unsigned char kOurs[] = "\x0a"
                                         "acme-tls/1";
    unsigned char* selected = nullptr;
    if (SSL_select_next_proto(&selected, outlen, kOurs, sizeof kOurs - 1, in, inlen) !=
        OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    *out = selected;
    return SSL_TLSEXT_ERR_OK;
}

// Whether the ClientHello's ALPN list (RFC 7301 §3.1: a 2-byte length, then 1-byte-length names)
// is exactly "acme-tls/1", as RFC 8737 §3 has an ACME server offer it: a client that offers it
// among others (no CA does) gets an ordinary handshake.
bool offersOnlyAcmeTls1(SSL* ssl)
{
    const unsigned char* data = nullptr;
    std::size_t length = 0;
    if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_application_layer_protocol_negotiation, &data, &length) !=
            1 ||
        length != 3 + kAcmeTls1.size())
        return false;
    const std::size_t listLength = (std::size_t{data[0]} << 8) | data[1];
    return listLength == length - 2 && data[2] == kAcmeTls1.size() &&
           std::string_view(reinterpret_cast<const char*>(data + 3), kAcmeTls1.size()) == kAcmeTls1;
}

// The host_name of the ClientHello's SNI (RFC 6066 §3), lower case; empty when absent or
// malformed. SSL_get_servername is not set yet when the client-hello callback runs.
std::string clientHelloServerName(SSL* ssl)
{
    const unsigned char* data = nullptr;
    std::size_t length = 0;
    if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &data, &length) != 1 || length < 5)
        return {};
    const std::size_t listLength = (std::size_t{data[0]} << 8) | data[1];
    if (listLength != length - 2 || data[2] != TLSEXT_NAMETYPE_host_name)
        return {};
    const std::size_t nameLength = (std::size_t{data[3]} << 8) | data[4];
    if (nameLength == 0 || 5 + nameLength > length)
        return {};
    std::string name(reinterpret_cast<const char*>(data + 5), nameLength);
    for (char& c : name)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return name;
}

int onClientHello(SSL* ssl, int* alert, void* /*arg*/)
{
    // Only the front context has this callback: once switched, a second ClientHello (after a
    // HelloRetryRequest) does not come here again, so a handshake never changes certificate.
    const auto* source = static_cast<const ConnectionSource*>(SSL_get_app_data(ssl));
    // An ACME CA validating an identifier: only a ClientHello that offers just acme-tls/1 and matches
    // a challenge gets the challenge certificate (and closes after the handshake, worker.cpp).
    if (source != nullptr && offersOnlyAcmeTls1(ssl)) {
        if (const auto challenge = source->challengeFor(clientHelloServerName(ssl))) {
            if (SSL_set_SSL_CTX(ssl, challenge->ctx.get()) == nullptr) {
                *alert = SSL_AD_INTERNAL_ERROR;
                return SSL_CLIENT_HELLO_ERROR;
            }
            // The connection ends with its handshake and a CA never resumes: no session ticket.
            SSL_set_num_tickets(ssl, 0);
            return SSL_CLIENT_HELLO_SUCCESS;
        }
    }
    const auto cert = source ? source->certificate() : nullptr;
    // SSL_set_SSL_CTX takes its own reference: the context lives as long as this SSL needs it,
    // even if a swap drops the listener's pointer a microsecond later.
    if (!cert || SSL_set_SSL_CTX(ssl, cert->ctx.get()) == nullptr) {
        *alert = SSL_AD_INTERNAL_ERROR;
        return SSL_CLIENT_HELLO_ERROR;
    }
    return SSL_CLIENT_HELLO_SUCCESS;
}

int onTicketKey(SSL* ssl, unsigned char* name, unsigned char* iv, EVP_CIPHER_CTX* cipher, EVP_MAC_CTX* mac,
                int encrypt)
{
    const auto* source = static_cast<const ConnectionSource*>(SSL_get_app_data(ssl));
    if (source == nullptr)
        return -1;
    return source->ticketKeys().callback(name, iv, cipher, mac, encrypt);
}

} // namespace

void applyProfile(SSL_CTX* ctx, TlsProfile profile)
{
    const int minVersion = profile == TlsProfile::Modern ? TLS1_3_VERSION : TLS1_2_VERSION;
    if (SSL_CTX_set_min_proto_version(ctx, minVersion) != 1 ||
        SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1 ||
        SSL_CTX_set_cipher_list(ctx, kTls12Ciphers) != 1 ||
        SSL_CTX_set_ciphersuites(ctx, kTls13Suites) != 1 || SSL_CTX_set1_groups_list(ctx, kGroups) != 1)
        throwOpenSsl(ErrorCode::Internal, "TLS policy");
}

std::shared_ptr<const CertificateContext> buildCertificateContext(const CertificateMaterial& material,
                                                                  TlsProfile profile)
{
    const std::string who = "certificate " + material.id;
    ERR_clear_error();

    std::vector<pki::X509Ptr> chain;
    const auto bio = pki::memoryBio(asBytes(material.chainPem));
    while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr))
        chain.emplace_back(cert);
    const unsigned long last = ERR_peek_last_error();
    ERR_clear_error();
    if (chain.empty())
        throw Error(ErrorCode::Malformed, who + ": the chain holds no PEM certificate");
    if (ERR_GET_REASON(last) != PEM_R_NO_START_LINE && last != 0)
        throw Error(ErrorCode::Malformed, who + ": chain element " + std::to_string(chain.size() + 1) +
                                              " is not a readable certificate");
    for (std::size_t i = 0; i + 1 < chain.size(); ++i) {
        if (X509_check_issued(chain[i + 1].get(), chain[i].get()) != X509_V_OK)
            throw Error(ErrorCode::InvalidCertificate, who + ": chain element " + std::to_string(i + 2) +
                                                           " (" + subjectLine(chain[i + 1].get()) +
                                                           ") did not issue " + subjectLine(chain[i].get()));
    }

    // No key in the material: certd holds it and signs for this process (forwarded_key.hpp).
    pki::EvpPkeyPtr key;
    if (material.keyPkcs8.empty()) {
        key = forwardedKey(chain.front().get(), material.id);
    } else {
        const unsigned char* p = material.keyPkcs8.data();
        key.reset(d2i_AutoPrivateKey(nullptr, &p, static_cast<long>(material.keyPkcs8.size())));
        if (!key) {
            ERR_clear_error();
            throw Error(ErrorCode::Malformed, who + ": the private key is not PKCS#8 DER");
        }
    }
    if (X509_check_private_key(chain.front().get(), key.get()) != 1) {
        ERR_clear_error();
        throw Error(ErrorCode::KeyMismatch, who + ": the private key does not belong to the certificate");
    }

    auto context = std::make_shared<CertificateContext>();
    context->id = material.id;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdLength = 0;
    X509_digest(chain.front().get(), EVP_sha256(), md, &mdLength);
    context->leafSha256 = toHex({md, mdLength});
    context->ctx.reset(SSL_CTX_new(TLS_server_method()));
    SSL_CTX* ctx = context->ctx.get();
    if (ctx == nullptr)
        throwOpenSsl(ErrorCode::Internal, who);
    // The leaf's key must satisfy OpenSSL's security level (e.g. RSA >= 2048): a weak key is
    // refused here, named, rather than failing every handshake later.
    if (SSL_CTX_use_certificate(ctx, chain.front().get()) != 1)
        throwOpenSsl(ErrorCode::InvalidCertificate, who + ": unusable leaf");
    for (std::size_t i = 1; i < chain.size(); ++i)
        if (SSL_CTX_add1_chain_cert(ctx, chain[i].get()) != 1)
            throwOpenSsl(ErrorCode::InvalidCertificate,
                         who + ": unusable chain element " + std::to_string(i + 1));
    if (SSL_CTX_use_PrivateKey(ctx, key.get()) != 1 || SSL_CTX_check_private_key(ctx) != 1)
        throwOpenSsl(ErrorCode::KeyMismatch, who + ": the private key does not belong to the certificate");
    applyProfile(ctx, profile);
    SSL_CTX_set_alpn_select_cb(ctx, selectAlpn, nullptr);
    return context;
}

std::shared_ptr<const CertificateContext> buildChallengeContext(const CertificateMaterial& material,
                                                                TlsProfile profile)
{
    auto context = buildCertificateContext(material, profile);
    SSL_CTX_set_alpn_select_cb(context->ctx.get(), selectAcmeAlpn, nullptr);
    return context;
}

pki::SslCtxPtr buildFrontContext(TlsProfile profile, bool asyncSigning)
{
    pki::SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()));
    if (!ctx)
        throwOpenSsl(ErrorCode::Internal, "front TLS context");
    applyProfile(ctx.get(), profile);
    SSL_CTX_set_options(ctx.get(),
                        SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_IGNORE_UNEXPECTED_EOF);
    // Partial writes: SSL_write hands back what fit, so one slow client never pins a whole buffer.
    // Release buffers: an idle connection holds no record buffers (memory per idle connection).
    SSL_CTX_set_mode(ctx.get(), SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                                    SSL_MODE_RELEASE_BUFFERS);
    // Async: a handshake whose signature certd makes (forwarded key) pauses in an ASYNC job and
    // SSL_do_handshake says SSL_ERROR_WANT_ASYNC; the worker resumes it when the reply is in.
    // Workers clear the mode once a handshake is done: data transfer runs without the job switch.
    if (asyncSigning)
        SSL_CTX_set_mode(ctx.get(), SSL_MODE_ASYNC);
    SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_SERVER);
    SSL_CTX_sess_set_cache_size(ctx.get(), 20'000);
    SSL_CTX_set_timeout(ctx.get(), kSessionTimeoutSeconds);
    SSL_CTX_set_client_hello_cb(ctx.get(), onClientHello, nullptr);
    SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx.get(), onTicketKey);
    SSL_CTX_set_alpn_select_cb(ctx.get(), selectAlpn, nullptr);
    return ctx;
}

std::string negotiatedAlpn(const SSL* ssl)
{
    const unsigned char* data = nullptr;
    unsigned int length = 0;
    SSL_get0_alpn_selected(ssl, &data, &length);
    return data ? std::string(reinterpret_cast<const char*>(data), length) : std::string();
}

TicketKeys::KeySet::~KeySet()
{
    for (auto& k : keys)
        OPENSSL_cleanse(&k, sizeof k);
}

TicketKeys::Key TicketKeys::freshKey()
{
    Key k;
    if (RAND_bytes(k.name.data(), sizeof k.name) != 1 || RAND_priv_bytes(k.aes.data(), sizeof k.aes) != 1 ||
        RAND_priv_bytes(k.hmac.data(), sizeof k.hmac) != 1)
        throwOpenSsl(ErrorCode::Internal, "ticket key");
    return k;
}

TicketKeys::TicketKeys()
{
    reset();
}

void TicketKeys::rotate()
{
    const std::lock_guard lock(rotateMutex_);
    auto next = std::make_shared<KeySet>();
    next->keys.push_back(freshKey());
    const auto current = keys_.load();
    for (std::size_t i = 0; current && i < current->keys.size() && next->keys.size() < kKept; ++i)
        next->keys.push_back(current->keys[i]);
    keys_.store(std::move(next));
}

void TicketKeys::reset()
{
    const std::lock_guard lock(rotateMutex_);
    auto next = std::make_shared<KeySet>();
    next->keys.push_back(freshKey());
    keys_.store(std::move(next));
}

int TicketKeys::callback(unsigned char* name, unsigned char* iv, EVP_CIPHER_CTX* cipher, EVP_MAC_CTX* mac,
                         int encrypt)
{
    const auto set = keys_.load();
    const Key* key = nullptr;
    int result = 1;
    if (encrypt) {
        key = &set->keys.front();
        std::memcpy(name, key->name.data(), key->name.size());
        if (RAND_bytes(iv, EVP_CIPHER_get_iv_length(EVP_aes_256_cbc())) != 1)
            return -1;
    } else {
        for (std::size_t i = 0; i < set->keys.size() && key == nullptr; ++i)
            if (std::memcmp(name, set->keys[i].name.data(), set->keys[i].name.size()) == 0) {
                key = &set->keys[i];
                result = i == 0 ? 1 : 2; // 2: still valid, but issue a ticket under the current key
            }
        if (key == nullptr)
            return 0; // unknown (rotated out or flushed): full handshake
    }
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, const_cast<unsigned char*>(key->hmac.data()),
                                          key->hmac.size()),
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>("SHA256"), 0),
        OSSL_PARAM_construct_end(),
    };
    if (EVP_MAC_CTX_set_params(mac, params) != 1)
        return -1;
    const int ok = encrypt ? EVP_EncryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, key->aes.data(), iv)
                           : EVP_DecryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, key->aes.data(), iv);
    return ok == 1 ? result : -1;
}

} // namespace certd::tls
