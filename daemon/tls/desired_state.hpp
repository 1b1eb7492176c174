#pragma once

// The terminator's desired state as certd computes it: one immutable value per
// generation, sent whole over the socketpair (never patched), plus what the
// terminator reports back for each listener.

#include "error.hpp"
#include "secure_memory.hpp"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace certd::tls {

// Mozilla's server-side TLS profiles: intermediate (TLS 1.2 + 1.3) or modern (TLS 1.3 only).
enum class TlsProfile { Intermediate, Modern };

// Whether the terminator prefixes each backend connection with a PROXY protocol header.
enum class ProxyProtocol { Off, V2 };

// Where the terminator forwards the decrypted traffic.
struct Backend {
    enum class Kind { Tcp, Unix };
    Kind kind = Kind::Tcp;
    std::string host = "127.0.0.1"; // Tcp: canonical IP literal or a DNS name (no brackets)
    std::uint16_t port = 8080;      // Tcp
    std::filesystem::path path;     // Unix: absolute socket path
    bool operator==(const Backend&) const = default;
};

// One address × port to serve, bound to one certificate.
struct ListenerSpec {
    std::string address; // canonical IPv4 or IPv6 literal
    std::uint16_t port = 443;
    std::string certificateId;
    bool operator==(const ListenerSpec&) const = default;
};

// A certificate some listener serves. Its private key stays with certd, which signs for the
// terminator under the certificate id (sign_wire.hpp), unless keyPkcs8 carries it: the baseline
// of the key custody benchmark (certd --terminator-holds-keys) and certd-tls's standalone mode.
struct CertificateMaterial {
    std::string id;
    std::string chainPem; // leaf first, then its issuers: all of it is sent to clients
    SecureBytes keyPkcs8; // unencrypted PKCS#8 DER; empty: forwarded signing
};

// An ACME challenge the terminator answers for certd while a CA validates an identifier.
// tls-alpn-01 (RFC 8737, RFC 8738 for IP addresses): a ClientHello that offers only ALPN "acme-tls/1"
// and matches (see below) gets `certificate` and ALPN "acme-tls/1", and the connection is closed
// after the handshake; no other connection ever gets it. http-01 (RFC 8555 §8.3): a plain HTTP
// GET of /.well-known/acme-challenge/<token> on DesiredState::httpChallengePort gets
// `keyAuthorization`.
struct AcmeChallenge {
    enum class Kind { TlsAlpn01, Http01 };
    Kind kind = Kind::TlsAlpn01;
    // tls-alpn-01 matching: `serverName` is the SNI the CA sends (lowercase): the DNS identifier,
    // or for an IP identifier its reverse-mapping name ("2.0.0.127.in-addr.arpa"). `address`, when
    // not empty, limits the challenge to connections accepted on that listener address (an IP
    // identifier's own address); a ClientHello without SNI then matches on the address alone.
    std::string serverName;
    std::string address;
    CertificateMaterial certificate; // tls-alpn-01: self-signed, with its own throwaway key (keyPkcs8)
    std::string token;               // http-01
    std::string keyAuthorization;    // http-01: the response body
};

struct DesiredState {
    std::vector<ListenerSpec> listeners;
    std::vector<CertificateMaterial> certificates; // every certificate some listener uses
    std::vector<AcmeChallenge> challenges;         // usually none
    // http-01 responder: plain HTTP on every listener address at this port; 0: off.
    std::uint16_t httpChallengePort = 0;
    TlsProfile profile = TlsProfile::Intermediate;
    Backend backend;
    ProxyProtocol proxyProtocol = ProxyProtocol::Off;
    bool flush = false; // rotate ticket keys and drop the session cache (key compromise)
    std::chrono::milliseconds handshakeTimeout{10'000};
    std::chrono::milliseconds idleTimeout{300'000};
    unsigned maxConnections = 10'000;
    unsigned workers = 0; // 0: one per CPU the terminator may run on; a change grows or retires workers
};

// What a listener does: serves ("listening"), waits for the terminator ("pending"), or cannot
// serve ("error"). The names are the wire's and the bus's.
enum class ListenerState { Listening, Pending, Error };
std::string_view listenerStateName(ListenerState state);
std::optional<ListenerState> parseListenerState(std::string_view name);

struct ListenerStatus {
    std::string address;
    std::uint16_t port = 0;
    ListenerState state = ListenerState::Pending;
    std::string error;                  // empty when all is well; else what went wrong, for the operator
    std::optional<ErrorCode> errorCode; // e.g. KeyMismatch when the desired certificate was rejected
    std::string servingCertificateId;   // what handshakes get now; may differ from the desired one
};

} // namespace certd::tls
