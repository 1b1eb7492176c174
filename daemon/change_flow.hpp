#pragma once

// The one path from a commit to the world. After every change, what the Manager recorded goes
// first to the terminator (which acknowledges it: then the next handshake gets the new
// certificate), then to every subscriber (the bus publishes objects and signals, the expiry
// watch re-arms). Before all that, what the Manager staged is made durable (its flush).
//
// Group commit: a bus mutation stages its transaction and waits (whenSettled) for the next
// settle to reply. That settle runs when the loop has no bus message waiting (an idle-priority
// event), or at once when kMaxGroup replies wait: calls that arrive together share one flush,
// one terminator sync and one round of signals. Everything else (netlink, timers, the
// terminator's own news) is settled after each event the loop dispatches, unless a group is
// forming: then it joins the group's settle.
//
// A removal ends the group at once: the settle retracts the removed object before the loop
// dispatches another message, so no message reaches a bus object whose model entry is gone
// (its getters would fail, and with them a GetManagedObjects). The object itself is freed
// only after the current message: its own pending replies (a Delete's) go out in that settle,
// while its vtable, which their reply signature points into, is still alive.

#include "event_loop.hpp"
#include "manager/manager.hpp"

#include <cstddef>
#include <exception>
#include <functional>
#include <vector>

namespace certd {

namespace terminator {
class Link;
}

class ChangeFlow {
public:
    using Subscriber = std::function<void(const Changes&)>;
    // Gets nullptr once what was staged before it is durable and served, else the error that
    // made the flush fail (the Manager is back to the durable state then).
    using Waiter = std::function<void(std::exception_ptr failure)>;
    // Replies that may wait for one settle; one more settles at once.
    static constexpr std::size_t kMaxGroup = 64;

    ChangeFlow(Manager& manager, terminator::Link& terminator, EventLoop& loop);
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
    // Calls `waiter` after the next settle (in the order they were added), which runs once no bus
    // message is waiting, or now when kMaxGroup waiters are queued or something was removed.
    void whenSettled(Waiter waiter);
    // settle(), unless waiters are queued (their settle is due and takes this along) and
    // nothing was removed.
    void settleUnlessGrouping();

private:
    Manager& manager_;
    terminator::Link& terminator_;
    std::vector<Subscriber> subscribers_;
    std::vector<Waiter> waiters_;
    EventLoop::Idle idle_;
    bool flush_ = false;
    bool synced_ = false; // the terminator has had the state once
    bool settling_ = false;
};

} // namespace certd
