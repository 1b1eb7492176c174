#pragma once

// Watches certificate lifetimes with one wall-clock timer (no polling): when a configured
// threshold (e.g. 30, 7, 1 days before NotAfter) is crossed it reports the certificate once
// per threshold, and when time-dependent warnings (not yet valid, expiring soon, expired)
// change it has the Manager re-evaluate them. A subscriber of the ChangeFlow: after every
// change it re-arms for the next instant.

#include "event_loop.hpp"
#include "manager/manager.hpp"

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
    // Arms itself once the loop runs.
    ExpiryWatch(EventLoop& loop, Manager& manager, std::vector<unsigned> thresholdDays,
                unsigned expiringWithinDays, OnExpiring onExpiring);

    // New thresholds (a reload); re-arms. Thresholds already reported stay reported.
    void setThresholds(std::vector<unsigned> thresholdDays, unsigned expiringWithinDays);

    // Something changed: re-arm (once, after the current event).
    void changed(const Changes& changes);

    // Reports every threshold crossed by `now` not reported before, and returns the
    // next instant (µs since the epoch) at which a threshold or a warning changes.
    std::optional<std::uint64_t> evaluate(std::uint64_t nowUSec);

private:
    void rearm();

    EventLoop& loop_;
    Manager& manager_;
    std::vector<unsigned> thresholdDays_;
    unsigned expiringWithinDays_;
    OnExpiring onExpiring_;
    std::set<std::pair<std::string, unsigned>> reported_;
    EventLoop::Timer timer_;
    bool rearmPending_ = false;
};

} // namespace certd
