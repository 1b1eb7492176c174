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
// Objects appear and go with the durable state: a removal is announced (InterfacesRemoved) at
// its group's settle, and until then the object reads as it was (Manager::shown…()). The
// object is freed only after that settle's message: its own pending replies (a Delete's) go
// out in the settle, while its vtable, which their reply signature points into, is alive.
// An address that vanished (netlink) has nothing to read as it was: it ends the group at once.

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
    // The next settle() sends the terminator a snapshot even if the Manager recorded nothing
    // (its settings changed: a reload).
    void requestSync() { synced_ = false; }
    // Hands on what changed since the last call: terminator (acknowledged), then subscribers.
    // The first call always brings the terminator in line. Not reentrant: news that arrives
    // while it runs is handed on by the same call.
    void settle();
    // Calls `waiter` after the next settle (in the order they were added), which runs once no bus
    // message is waiting, or now when kMaxGroup waiters are queued or an address vanished.
    void whenSettled(Waiter waiter);
    // settle(), unless waiters are queued (their settle is due and takes this along) and no
    // address vanished.
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
