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

// The names state.yaml and the D-Bus API use: "automatic"/"manual", "pending"/"completed".
std::string_view chainModeName(ChainMode mode);
std::optional<ChainMode> parseChainMode(std::string_view name);
std::string_view requestStateName(RequestState state);
std::optional<RequestState> parseRequestState(std::string_view name);

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

struct StoreState {
    std::map<std::string, StoredCertificate> certificates; // by certificate id
    std::map<std::string, StoredKey> keys;                 // by key id
    std::map<std::string, StoredRequest> requests;         // by request id
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
    std::vector<std::string> removedCertificates, removedKeys, removedRequests, removedBindings;
    std::optional<std::string> factoryCertificate; // set when it changed
    bool empty() const
    {
        return certificates.empty() && keys.empty() && requests.empty() && bindings.empty() &&
               removedCertificates.empty() && removedKeys.empty() && removedRequests.empty() &&
               removedBindings.empty() && !factoryCertificate;
    }
    bool operator==(const StateDelta&) const = default;
};

// The delta that turns `before` into `after` (one ordered walk of each map).
StateDelta diffStates(const StoreState& before, const StoreState& after);
// Applies a delta; removals of absent entries are no-ops, so replaying is idempotent.
void applyDelta(StoreState& state, const StateDelta& delta);

} // namespace certd
