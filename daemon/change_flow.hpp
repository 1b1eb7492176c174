#pragma once

// The one path from a commit to the world. After every change, what the Manager recorded goes
// first to the terminator (which acknowledges it: then the next handshake gets the new
// certificate), then to every subscriber (the bus publishes objects and signals, the expiry
// watch re-arms). Bus mutations settle before they reply; everything else (netlink, timers,
// the terminator's own news) is settled after each event the loop dispatches.

#include "manager/manager.hpp"

#include <functional>
#include <vector>

namespace certd {

namespace terminator {
class Link;
}

class ChangeFlow {
public:
    using Subscriber = std::function<void(const Changes&)>;

    ChangeFlow(Manager& manager, terminator::Link& terminator);
    ChangeFlow(const ChangeFlow&) = delete;
    ChangeFlow& operator=(const ChangeFlow&) = delete;

    void subscribe(Subscriber subscriber);
    // The next settle() also rotates session ticket keys and drops session caches (a
    // compromise-driven swap).
    void requestFlush() { flush_ = true; }
    // Hands on what changed since the last call: terminator (acknowledged), then subscribers.
    // The first call always brings the terminator in line. Not reentrant: news that arrives
    // while it runs is handed on by the same call.
    void settle();

private:
    Manager& manager_;
    terminator::Link& terminator_;
    std::vector<Subscriber> subscribers_;
    bool flush_ = false;
    bool synced_ = false; // the terminator has had the state once
    bool settling_ = false;
};

} // namespace certd
