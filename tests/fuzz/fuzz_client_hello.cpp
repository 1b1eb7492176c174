// fuzz-client-hello: bytes from a TLS client into certd-tls's handshake, as Worker::accept and
// Worker::pump drive it: an SSL from the listener's real front context (tls::buildFrontContext),
// accept state, read-ahead, the listener as app data and its session id context; then
// SSL_do_handshake until it wants more than the input holds or fails. The client-hello callback
// switches each SSL to the certificate context (tls::buildCertificateContext, built once from an
// in-process self-signed ECDSA certificate), and session tickets go through TicketKeys.
// Memory BIOs stand in for the socket.
//
// Input: the client's bytes (a ClientHello record, maybe more records after it).
//
// Findings: a crash, a sanitizer report or a leak; a handshake message sent before the
// client-hello callback put the listener's certificate in place.

#include "fuzz.hpp"

#include "pki/certificate.hpp"
#include "pki/key.hpp"
#include "pki/spec.hpp"
#include "tls/context.hpp"

#include <openssl/err.h>

#include <climits>

using namespace certd;

namespace {

// A listener as the worker sees one (tls::Listener without the socket): the certificate it
// serves now and the ticket keys.
class FuzzListener final : public tls::ConnectionSource {
public:
    FuzzListener() : front_(tls::buildFrontContext(tls::TlsProfile::Intermediate))
    {
        pki::CertificateSpec spec;
        spec.friendlyName = "fuzz";
        spec.subject.commonName = "fuzz.test";
        spec.keyType = pki::KeyType::EcP256; // ECDSA: cheap signatures keep executions fast
        spec.days = 30;
        (void)pki::validateSpec(spec);
        const pki::EvpPkeyPtr key = pki::generateKey(*spec.keyType);
        const pki::X509Ptr cert = pki::createSelfSigned(spec, key.get());
        tls::CertificateMaterial material;
        material.id = "fuzz";
        material.chainPem = pki::certificatePem(cert.get());
        material.keyPkcs8 = pki::privateKeyToPkcs8Der(key.get());
        certificate_ = tls::buildCertificateContext(material, tls::TlsProfile::Intermediate);
    }
    std::shared_ptr<const tls::CertificateContext> certificate() const override { return certificate_; }
    tls::TicketKeys& ticketKeys() const override { return keys_; }
    SSL_CTX* front() const { return front_.get(); }

private:
    pki::SslCtxPtr front_;
    std::shared_ptr<const tls::CertificateContext> certificate_;
    mutable tls::TicketKeys keys_;
};

// SSL_MAX_SID_CTX_LENGTH bytes, as tls::Listener derives from its name.
constexpr unsigned char kSessionContext[SSL_MAX_SID_CTX_LENGTH] = "certd-tls listener fuzz";

constexpr int kMaxRounds = 16; // SSL_do_handshake calls per input; each must make progress

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    static FuzzListener listener;
    if (size == 0 || size > static_cast<std::size_t>(INT_MAX))
        return 0;

    const pki::SslPtr ssl(SSL_new(listener.front()));
    fuzz::require(ssl != nullptr, "SSL_new failed");
    BIO* in = BIO_new_mem_buf(data, static_cast<int>(size));
    BIO* out = BIO_new(BIO_s_mem());
    fuzz::require(in != nullptr && out != nullptr, "BIO_new failed");
    BIO_set_mem_eof_return(in, -1); // the end of the input is "no more yet", as a socket's EAGAIN
    SSL_set_bio(ssl.get(), in, out);
    SSL_set_accept_state(ssl.get());
    SSL_set_read_ahead(ssl.get(), 1);
    SSL_set_app_data(ssl.get(), static_cast<tls::ConnectionSource*>(&listener));
    SSL_set_session_id_context(ssl.get(), kSessionContext, sizeof kSessionContext);

    for (int round = 0; round < kMaxRounds; ++round) {
        ERR_clear_error();
        const int r = SSL_do_handshake(ssl.get());
        if (r == 1) {
            // Only possible if the input finished a handshake; read on, as the worker would.
            unsigned char buffer[4096];
            while (SSL_read(ssl.get(), buffer, sizeof buffer) > 0) {
            }
            break;
        }
        const int e = SSL_get_error(ssl.get(), r);
        if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
            break;
        if (e == SSL_ERROR_WANT_READ && BIO_ctrl_pending(in) == 0 && SSL_has_pending(ssl.get()) == 0)
            break;
    }
    ERR_clear_error();

    // The front context serves no certificate: anything but an alert (record type 21) must come
    // after the callback switched the SSL to the listener's certificate context.
    char* sent = nullptr;
    const long sentLength = BIO_get_mem_data(out, &sent);
    if (sentLength > 0 && static_cast<unsigned char>(sent[0]) != 21)
        fuzz::require(SSL_get_SSL_CTX(ssl.get()) == listener.certificate()->ctx.get(),
                      "a handshake message left before the listener's certificate was in place");
    return 0;
}
