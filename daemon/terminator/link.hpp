#pragma once

// Keeps certd-tls serving what the Manager says: sync() sends the full desired state (each
// address's certificate chain, TLS policy, backend; the keys go to the Signer) to the Supervisor when it
// differs from what was sent, and returns once the terminator acknowledged it; what the
// terminator reports (per address, and its own state) goes back into the Manager.
// Knows nothing of D-Bus.

#include "config.hpp"
#include "manager/manager.hpp"
#include "terminator/supervisor.hpp"

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace certd::terminator {

class Link {
public:
    // Takes over the supervisor's onStateChanged. With a signer, the keys of the served
    // certificates go to it and the terminator gets none; without, they go in the snapshots.
    Link(Manager& manager, const Config& config, Supervisor& supervisor, Signer* signer = nullptr);

    // The settings the next snapshots carry from now on (a reload): port, TLS profile, backend,
    // PROXY protocol, timeouts, connection limit, worker count. The next sync() sends a snapshot
    // even if no listener or chain changed.
    void setConfig(const Config& config);

    // Sends the desired state when its listeners or chains differ from the last one sent (or
    // `flush`), waits for the acknowledgement, and records each address's state in the Manager.
    void sync(bool flush = false);

    // The ACME challenges certd-tls answers from the next sync() on (acme::Service); empty: none.
    void setChallenges(std::vector<tls::AcmeChallenge> challenges);

private:
    using Listeners = std::vector<tls::ListenerSpec>;
    using Chains = std::vector<std::pair<std::string, std::string>>; // (certificate id, chain PEM)
    void record(const std::vector<tls::ListenerStatus>& statuses);
    void stateChanged();

    Manager& manager_;
    Config config_; // a copy: a reload replaces it (setConfig)
    Supervisor& supervisor_;
    Signer* signer_;
    // What was last sent. Keys follow from the certificate ids: each is read from the store
    // once, when its certificate is first served, and kept (in secure memory) while it is.
    std::optional<std::pair<Listeners, Chains>> sent_;
    std::map<std::string, SecureBytes> keys_; // by certificate id
    std::vector<tls::AcmeChallenge> challenges_;
    bool challengesSent_ = true; // challenges_ is what the terminator has
};

// Where certd-tls is: the configured path, else beside this executable, else the
// install location (libexecdir).
std::filesystem::path terminatorBinary(const Config& config);

} // namespace certd::terminator
