#pragma once

// Keeps certd-tls serving what the Manager says: after every change, the full
// desired state (each address's certificate chain and key, TLS policy,
// backend) goes to the Supervisor, which returns once the terminator has
// acknowledged it. Knows nothing of D-Bus.

#include "config.hpp"
#include "manager.hpp"
#include "terminator/supervisor.hpp"

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace certd::terminator {

class Link {
public:
    Link(Manager& manager, const Config& config, Supervisor& supervisor);

    // Sends the desired state when it differs from the last one sent (or `flush`), waits
    // for the acknowledgement, and records each address's state. Returns the addresses
    // whose state changed.
    Changes sync(bool flush = false);
    // After the terminator restarted: the statuses it reported.
    Changes refreshStatuses();

private:
    tls::DesiredState desired(bool flush) const;
    Changes record(const std::vector<tls::ListenerStatus>& statuses);

    Manager& manager_;
    const Config& config_;
    Supervisor& supervisor_;
    // What was last sent: listeners and (certificate id, chain PEM); keys follow from the ids.
    std::optional<std::pair<std::vector<tls::ListenerSpec>, std::vector<std::pair<std::string, std::string>>>>
        sent_;
};

// Where certd-tls is: the configured path, else beside this executable, else the
// install location (libexecdir).
std::filesystem::path terminatorBinary(const Config& config);

} // namespace certd::terminator
