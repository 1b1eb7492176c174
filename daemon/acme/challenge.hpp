#pragma once

// What certd publishes to prove control of an identifier (RFC 8555 §8): the tls-alpn-01
// certificate (RFC 8737), the http-01 body, the dns-01 TXT value.

#include "acme/protocol.hpp"
#include "tls/desired_state.hpp"

#include <string>

namespace certd::acme {

// A self-signed certificate for `id` alone (dNSName or iPAddress SAN) with the critical
// id-pe-acmeIdentifier extension holding SHA-256(keyAuthorization), and its own throwaway
// P-256 key: certd-tls serves it to "acme-tls/1" connections that match (tls::AcmeChallenge).
tls::AcmeChallenge tlsAlpnChallenge(const Identifier& id, const std::string& keyAuthorization,
                                    const std::string& listenerAddress);
tls::AcmeChallenge httpChallenge(const std::string& token, const std::string& keyAuthorization);
// base64url(SHA-256(keyAuthorization)): the TXT record at _acme-challenge.<name>.
std::string dnsTxtValue(const std::string& keyAuthorization);

} // namespace certd::acme
