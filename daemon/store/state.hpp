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

inline constexpr int kSchemaVersion = 1;

struct StoredCertificate {
    std::string friendlyName;
    ChainMode chainMode = ChainMode::Automatic;
    std::vector<std::string> manualChain; // certificate ids, issuer first, when manual
    std::uint64_t addedUSec = 0;
    bool operator==(const StoredCertificate&) const = default;
};

struct StoredKey {
    std::uint64_t addedUSec = 0;
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

} // namespace certd
