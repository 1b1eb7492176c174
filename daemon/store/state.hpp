#pragma once

// What state.yaml holds (DESIGN §5): everything but the blobs, by id.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace certd {

// How a certificate's chain is found: built from the store, or listed by the operator.
enum class ChainMode { Automatic, Manual };
// A certificate signing request waits for its certificate, or has it.
enum class RequestState { Pending, Completed };
// An ACME order (RFC 8555) as certd runs it: pending (authorizations being validated),
// processing (finalizing, downloading), valid (a certificate is issued; renewals keep it so),
// invalid (the CA refused it: a challenge failed; Renew() starts again), failed (a fault: the
// server unreachable or misbehaving; retried with back-off).
enum class AcmeOrderState { Pending, Processing, Valid, Invalid, Failed };

// The names state.yaml and the D-Bus API use: "automatic"/"manual", "pending"/"completed".
std::string_view chainModeName(ChainMode mode);
std::optional<ChainMode> parseChainMode(std::string_view name);
std::string_view requestStateName(RequestState state);
std::optional<RequestState> parseRequestState(std::string_view name);
std::string_view acmeOrderStateName(AcmeOrderState state);
std::optional<AcmeOrderState> parseAcmeOrderState(std::string_view name);

// 2: state.yaml names the generation of state.journal that continues it (journal_generation).
// A certd that knows only schema 1 would ignore the journal, so it refuses schema 2.
inline constexpr int kSchemaVersion = 2;

struct StoredCertificate {
    std::string friendlyName;
    ChainMode chainMode = ChainMode::Automatic;
    std::vector<std::string> manualChain; // certificate ids, issuer first, when manual
    std::uint64_t addedUSec = 0;
    bool operator==(const StoredCertificate&) const = default;
};

struct StoredKey {
    std::uint64_t addedUSec = 0;
    // What the bus shows of the key, cached so that start-up need not parse every private
    // key (written at creation and import; empty in older files: certd parses and fills them).
    std::string algorithm{}; // "RSA", "EC", "Ed25519", "Ed448"
    unsigned bits = 0;
    std::string spkiSha256{}; // hex SHA-256 of the SubjectPublicKeyInfo; the key id is its prefix
    bool operator==(const StoredKey&) const = default;
};

struct StoredRequest {
    std::string friendlyName;
    std::string keyId;
    RequestState state = RequestState::Pending;
    std::string certificateId; // set when completed
    std::uint64_t createdUSec = 0;
    bool operator==(const StoredRequest&) const = default;
};

// What CreateAcmeOrder asked for, and how far the order got. Keys are ids of stored keys.
struct StoredAcmeOrder {
    std::string friendlyName;
    std::string directoryUrl;
    std::vector<std::string> identifiers; // DNS names and IP literals, as the CA sees them
    std::string challenge;                // "tls-alpn-01", "http-01", "dns-01"
    std::string keyType;                  // each certificate gets a new key of this type...
    std::string fixedKeyId;               // ...or every one uses this key (spec `key`)
    std::string contact;
    std::string caBundle;                // PEM the ACME server's TLS chain must lead to; empty: the system's
    std::vector<std::string> assign;     // addresses the first certificate is bound to
    std::uint64_t renewPercent = 0;      // renew at this percentage of the lifetime (0: 66)
    std::uint64_t renewAfterSeconds = 0; // or this long after issuance (tests, short-lived CAs)
    std::string accountKeyId;
    std::string accountUrl;
    std::string orderUrl; // the CA's order of the attempt in progress; empty between attempts
    std::string keyId;    // the key of the attempt in progress (kept until it has its certificate)
    AcmeOrderState state = AcmeOrderState::Pending;
    std::string errorName; // org.certd1.Error.* of the last failure, empty when none
    std::string error;
    std::string certificateId; // the last certificate issued
    std::uint64_t createdUSec = 0;
    std::uint64_t nextRenewalUSec = 0;
    bool operator==(const StoredAcmeOrder&) const = default;
};

struct StoreState {
    std::map<std::string, StoredCertificate> certificates; // by certificate id
    std::map<std::string, StoredKey> keys;                 // by key id
    std::map<std::string, StoredRequest> requests;         // by request id
    std::map<std::string, StoredAcmeOrder> acmeOrders;     // by order id
    std::map<std::string, std::string> bindings;           // address -> certificate id
    std::string factoryCertificate;                        // certificate id, empty until created
    bool operator==(const StoreState&) const = default;
};

// A change from one state to another: entries set (added or replaced) and removed, per map.
// state.journal records one per flush; applying it to the state it was made from gives the other.
struct StateDelta {
    std::map<std::string, StoredCertificate> certificates;
    std::map<std::string, StoredKey> keys;
    std::map<std::string, StoredRequest> requests;
    std::map<std::string, std::string> bindings;
    std::map<std::string, StoredAcmeOrder> acmeOrders;
    std::vector<std::string> removedCertificates, removedKeys, removedRequests, removedBindings;
    std::vector<std::string> removedAcmeOrders;
    std::optional<std::string> factoryCertificate; // set when it changed
    bool empty() const
    {
        return certificates.empty() && keys.empty() && requests.empty() && bindings.empty() &&
               acmeOrders.empty() && removedCertificates.empty() && removedKeys.empty() &&
               removedRequests.empty() && removedBindings.empty() && removedAcmeOrders.empty() &&
               !factoryCertificate;
    }
    bool operator==(const StateDelta&) const = default;
};

// The delta that turns `before` into `after` (one ordered walk of each map).
StateDelta diffStates(const StoreState& before, const StoreState& after);
// Applies a delta; removals of absent entries are no-ops, so replaying is idempotent.
void applyDelta(StoreState& state, const StateDelta& delta);

} // namespace certd
