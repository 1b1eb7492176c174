#pragma once

// The client side of RFC 8555 (ACME), blocking: one Client per run of an order, on a worker
// thread, never on the bus thread. libcurl carries the requests, OpenSSL signs them (JWS,
// ES256 with the account key), nlohmann::json reads and writes the bodies.
//
// Failures are Errors: FetchFailed when the server cannot be reached (DNS, connect, TLS
// verification against the order's CA bundle, timeouts), AcmeFailed when it answers with a
// problem document, an HTTP status RFC 8555 does not allow there, a body that is not the
// JSON it must be, or the wrong content type. Every message names the URL and says what.

#include "bytes.hpp"
#include "pki/ossl.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace certd::acme {

// base64url without padding (RFC 7515 §2).
std::string base64Url(ByteView data);
// Throws Error(InvalidArgument) when `text` is not base64url.
Bytes fromBase64Url(const std::string& text);

// An identifier of an order: {"type": "dns"|"ip", "value": ...}.
struct Identifier {
    enum class Type { Dns, Ip };
    Type type = Type::Dns;
    std::string value; // DNS name (lower case, may start with "*.") or canonical IP literal
    bool operator==(const Identifier&) const = default;
};
// "example.com" → dns, "192.0.2.1"/"2001:db8::1" → ip (canonical). Throws InvalidArgument.
Identifier parseIdentifier(const std::string& text);
// The name a CA sends as SNI when it validates `id` with tls-alpn-01: the DNS name, or the
// reverse-mapping name of an IP address (RFC 8738 §6: "1.2.0.192.in-addr.arpa").
std::string validationServerName(const Identifier& id);

// JSON Web Key of a P-256 public key, members in lexicographic order (RFC 7638), and its
// SHA-256 thumbprint, base64url: what key authorizations end with.
std::string jwkOf(EVP_PKEY* key);
std::string jwkThumbprint(EVP_PKEY* key);

// External account binding (RFC 8555 §7.3.4): the key identifier and MAC key the CA gave.
struct ExternalAccountBinding {
    std::string keyId;
    Bytes macKey; // decoded from the CA's base64url
};

struct ServerOptions {
    std::string directoryUrl;
    std::string caBundlePem; // certificates this server's TLS chain must lead to; empty: the system's
    const std::atomic<bool>* cancel = nullptr; // turns true: requests and polls stop (FetchFailed)
    std::chrono::milliseconds requestTimeout{30'000};
    std::chrono::milliseconds pollTimeout{120'000}; // a validation or issuance that takes longer fails
    std::size_t maxBody = std::size_t{1} << 20;
};

struct Challenge {
    std::string type; // "tls-alpn-01", "http-01", "dns-01", ...
    std::string url;
    std::string token;
    std::string status;
    std::string error; // the CA's problem, when invalid
};

struct Authorization {
    std::string url;
    std::string status; // pending, valid, invalid, deactivated, expired, revoked
    Identifier identifier;
    bool wildcard = false;
    std::vector<Challenge> challenges;
    std::string error; // from an invalid challenge
};

struct Order {
    std::string url;
    std::string status; // pending, ready, processing, valid, invalid
    std::vector<std::string> authorizations;
    std::string finalizeUrl;
    std::string certificateUrl;
    std::string error; // the order's problem, when invalid
};

class Client {
public:
    // `accountKey` must be a P-256 key (ES256). `accountUrl` empty: ensureAccount() finds or
    // creates it.
    Client(ServerOptions options, pki::EvpPkeyPtr accountKey, std::string accountUrl);
    ~Client();
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    // Registers the account key (or finds its account: the server answers 200 for a known key)
    // and returns the account URL.
    const std::string& ensureAccount(const std::string& contact, const ExternalAccountBinding* eab);
    const std::string& accountUrl() const { return accountUrl_; }

    Order newOrder(const std::vector<Identifier>& identifiers);
    Order getOrder(const std::string& url);
    Authorization getAuthorization(const std::string& url);
    // Tells the server to validate the challenge now.
    void respond(const std::string& challengeUrl);
    // Polls the authorization until it is no longer pending (Retry-After, at most pollTimeout).
    Authorization waitForAuthorization(const std::string& url);
    // Polls the order while it is pending or processing (or, with `untilReady`, until it leaves
    // pending: ready means every authorization is valid).
    Order waitForOrder(const std::string& url, bool untilReady);
    Order finalize(const std::string& finalizeUrl, ByteView csrDer);
    // The certificate chain, PEM (application/pem-certificate-chain).
    std::string downloadCertificate(const std::string& url);

    // token "." thumbprint of the account key (RFC 8555 §8.1).
    std::string keyAuthorization(const std::string& token) const;

    // Requests sent and badNonce retries, for tests and logs.
    unsigned requests() const { return requests_; }
    unsigned badNonceRetries() const { return badNonceRetries_; }

private:
    struct Response {
        long status = 0;
        std::string body;
        std::string contentType;
        std::string location;
        std::string replayNonce;
        std::optional<std::chrono::seconds> retryAfter;
    };
    void loadDirectory();
    Response http(const std::string& method, const std::string& url, const std::string& body);
    std::string freshNonce();
    // A JWS-signed POST (payload empty: POST-as-GET); retries a badNonce refusal with the new
    // nonce. Throws AcmeFailed for a problem document or a status not in `accepted`.
    Response post(const std::string& url, const std::string& payload, bool withJwk = false,
                  const char* what = "request");
    std::string signJws(const std::string& url, const std::string& payload, bool withJwk);
    void sleepFor(std::chrono::milliseconds delay, const std::string& what);

    ServerOptions options_;
    pki::EvpPkeyPtr accountKey_;
    std::string accountUrl_;
    std::string jwk_, thumbprint_;
    std::map<std::string, std::string> directory_; // newNonce, newAccount, newOrder, ...
    std::string nonce_;
    struct Curl;
    std::unique_ptr<Curl> curl_;
    unsigned requests_ = 0;
    unsigned badNonceRetries_ = 0;
};

// Order and Authorization from their JSON (exposed for the unit tests).
Order parseOrder(const std::string& url, const std::string& json);
Authorization parseAuthorization(const std::string& url, const std::string& json);

} // namespace certd::acme
