#pragma once

// Watches certificate lifetimes with one timer (no polling): when a configured
// threshold (e.g. 30, 7, 1 days before NotAfter) is crossed it reports the
// certificate once per threshold, and it tells when time-dependent warnings
// (not yet valid, expiring soon, expired) must be re-evaluated.

#include "manager.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace certd {

class ExpiryWatch {
public:
    using OnExpiring =
        std::function<void(const std::string& certificateId, std::uint64_t notAfterUSec, unsigned days)>;

    // Thresholds in days; `expiringWithinDays` is the Manager's expiring-soon warning.
    ExpiryWatch(const Manager& manager, std::vector<unsigned> thresholdDays, unsigned expiringWithinDays,
                OnExpiring onExpiring);

    // Reports every threshold crossed by `now` not reported before, and returns the
    // next instant (µs since the epoch) at which a threshold or a warning changes.
    std::optional<std::uint64_t> evaluate(std::uint64_t nowUSec);

private:
    const Manager& manager_;
    std::vector<unsigned> thresholdDays_;
    unsigned expiringWithinDays_;
    OnExpiring onExpiring_;
    std::set<std::pair<std::string, unsigned>> reported_;
};

} // namespace certd
