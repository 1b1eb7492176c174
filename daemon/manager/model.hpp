#pragma once

// The operator's nouns as the Manager holds them in memory: certificates, keys, requests
// and addresses, each parsed once with what certd computes of it, and the values the
// Manager's calls take and give.

#include "bytes.hpp"
#include "pki/certificate.hpp"
#include "pki/chain.hpp"
#include "pki/export.hpp"
#include "pki/key.hpp"
#include "secure_memory.hpp"
#include "tls/desired_state.hpp"

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace certd {

// A certificate parsed once: the id and the facts every caller needs.
struct ParsedCertificate {
    pki::X509Ptr cert;
    std::string id; // certificateId(): a prefix of the SHA-256 fingerprint
    pki::CertificateInfo info;
    pki::CertificateKind kind = pki::CertificateKind::Server;
    pki::CertificateTraits traits;
};
ParsedCertificate parseCertificate(pki::X509Ptr cert);

// A private key parsed once: what links it to certificates and requests, and what the bus shows.
struct ParsedKey {
    pki::EvpPkeyPtr key;
    std::string id;         // keyId(): a prefix of spkiSha256
    std::string spkiSha256; // of the SubjectPublicKeyInfo
    std::string algorithm;  // "RSA", "EC", "Ed25519" or "Ed448"
    unsigned bits = 0;
};
ParsedKey parseKey(pki::EvpPkeyPtr key);

// No parsed certificate: what needs one reads its DER from the store (Manager::loadCertificate).
struct CertificateEntry {
    std::string id;
    pki::CertificateInfo info;
    pki::CertificateKind kind = pki::CertificateKind::Server;
    pki::CertificateTraits traits; // what chains and warnings need
    // The issuerIdentity of a certificate that issuedBy() found issued this one (all zero:
    // none known yet): a candidate with that identity is its issuer without a signature check.
    std::array<std::uint8_t, 32> issuerVerified{};
    std::string keyId;              // empty: no private key on this appliance
    std::vector<std::string> chain; // issuer certificate ids, leaf's issuer first
    bool chainComplete = false;
    std::vector<pki::Warning> warnings;
};

struct KeyEntry {
    std::string id;
    std::string algorithm;
    unsigned bits = 0;
    std::string spkiSha256;
};

struct RequestEntry {
    std::string id;
    pki::RequestInfo info;
    std::string pem;
};

// Where an appliance address comes from: the configuration, or netlink discovery.
enum class AddressOrigin { Configured, Discovered };
std::string_view addressOriginName(AddressOrigin origin); // "configured" / "discovered"

struct AddressEntry {
    std::string address; // canonical text, no brackets
    AddressOrigin origin = AddressOrigin::Configured;
    tls::ListenerState state = tls::ListenerState::Listening; // as the terminator reports it
    std::string error;
};

// What CreateSelfSigned / CreateRequest ask for, after the bus layer parsed a{sv}.
struct CreateSpec {
    pki::CertificateSpec spec;
    std::optional<std::string> keyId;    // use this stored key
    std::optional<std::string> copyFrom; // certificate id: copy subject and SANs, new key
};

struct ExportOptions {
    pki::ExportFormat format = pki::ExportFormat::Auto;
    bool includeCertificate = true;
    bool includePrivateKey = false;
    bool includeChain = false;
    Secret passphrase;
};

// How much a pre-flight finding matters: an error refuses a binding unless forced.
enum class Severity { Error, Warning, Info };
std::string_view severityName(Severity severity); // "error" / "warning" / "info"

struct Finding {
    Severity severity = Severity::Warning;
    std::string code;
    std::string text;
};

struct ManagerOptions {
    pki::CertificateSpec factorySpec; // subject of the factory certificate
    pki::KeyType factoryKeyType = pki::KeyType::Rsa2048;
    unsigned expiringWithinDays = 30; // the "expiring-soon" warning
    std::vector<std::string> configuredAddresses;
    std::function<std::uint64_t()> clock; // microseconds since the epoch; defaults to the real time
    // Downloads an Authority Info Access URL; defaults to fetchUrl() (libcurl, bounded).
    std::function<Bytes(const std::string& url)> fetch;
    // Group commit: a mutation's transaction is staged and made durable by the next flush(),
    // together with whatever else was staged by then (certd's bus calls reply after it).
    // Off: each mutation commits (and fsyncs) before it returns.
    bool groupCommit = false;
};

} // namespace certd
