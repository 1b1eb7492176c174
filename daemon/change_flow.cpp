#include "change_flow.hpp"

#include "log.hpp"
#include "terminator/link.hpp"

#include <utility>

namespace certd {

ChangeFlow::ChangeFlow(Manager& manager, terminator::Link& terminator, EventLoop& loop)
    : manager_(manager), terminator_(terminator), idle_(loop, [this] { settle(); })
{
}

void ChangeFlow::whenSettled(Waiter waiter)
{
    waiters_.push_back(std::move(waiter));
    if (waiters_.size() >= kMaxGroup || !manager_.pendingChanges().addressesRemoved.empty())
        settle();
    else
        idle_.schedule();
}

void ChangeFlow::settleUnlessGrouping()
{
    if (waiters_.empty() || !manager_.pendingChanges().addressesRemoved.empty())
        settle();
}

void ChangeFlow::subscribe(Subscriber subscriber)
{
    subscribers_.push_back(std::move(subscriber));
}

void ChangeFlow::settle()
{
    if (settling_)
        return;
    settling_ = true;
    struct Reset {
        bool& flag;
        ~Reset() { flag = false; }
    } reset{settling_};
    std::exception_ptr failure;
    if (manager_.hasStaged()) {
        try {
            manager_.flush();
        } catch (const std::exception& e) {
            // The Manager went back to the durable state and recorded what that undid.
            log::error(std::string("store: a write failed; the changes staged since the last flush are "
                                   "undone and their calls answered with the error: ") +
                       e.what());
            failure = std::current_exception();
        }
    }
    // A subscriber or the terminator may record more (an address status, the terminator's
    // state): go round until nothing is left, a few rounds at most.
    for (int round = 0; round < 4 && (!synced_ || flush_ || manager_.hasChanges()); ++round) {
        Changes changes = manager_.takeChanges();
        terminator_.sync(std::exchange(flush_, false)); // records each address's state
        synced_ = true;
        changes.merge(manager_.takeChanges());
        for (const auto& subscriber : subscribers_)
            subscriber(changes);
    }
    // Replies last: when a caller hears back, the change is durable and served.
    for (auto& waiter : std::exchange(waiters_, {})) {
        try {
            waiter(failure);
        } catch (const std::exception& e) {
            log::error(std::string("cannot reply: ") + e.what());
        }
    }
}

} // namespace certd
