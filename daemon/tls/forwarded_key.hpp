#pragma once

// Keys whose private half certd-tls never holds. An OpenSSL 3 provider ("certd-forward") offers
// RSA, EC, Ed25519 and Ed448 key management and signatures: a key object carries the public key
// (from the certificate) and the id the key holder knows it by, and every signature made with it
// is asked of the calling thread's SignGate (a worker, which sends it over its signing channel and
// parks the handshake). The public-key side (sizes, groups, comparisons) is the default
// provider's, which the provider asks about the public half. OpenSSL's TLS code picks the
// provider's signature for these keys by itself: it cannot export them to another provider.

#include "bytes.hpp"
#include "pki/ossl.hpp"
#include "tls/sign_wire.hpp"

#include <optional>
#include <string>

namespace certd::tls {

// Where a forwarded key's signatures go: the worker that drives the handshake.
class SignGate {
public:
    virtual ~SignGate() = default;
    // Called from inside a handshake (its ASYNC job, SSL_MODE_ASYNC). Sends the request and
    // pauses the job until the reply, a failure or the deadline; nullopt when it failed.
    virtual std::optional<Bytes> sign(sign::Request request) = 0;
};

// The calling thread's gate; a worker sets itself before each handshake step, nullptr after.
void setThreadSignGate(SignGate* gate);

// Loads the provider (and the default provider, which loading one stops being automatic) into
// the default library context, and makes ordinary fetches prefer the default provider. Once per
// process, before any other OpenSSL use; later calls do nothing.
void registerForwardingProvider();

// A key that signs through the gate under `keyId` (the certificate id), with the public key of
// `certificate`. Throws Error(InvalidCertificate) for a key type TLS cannot forward.
pki::EvpPkeyPtr forwardedKey(X509* certificate, const std::string& keyId);

} // namespace certd::tls
