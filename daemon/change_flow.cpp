#include "change_flow.hpp"

#include "terminator/link.hpp"

#include <utility>

namespace certd {

ChangeFlow::ChangeFlow(Manager& manager, terminator::Link& terminator)
    : manager_(manager), terminator_(terminator)
{
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
}

} // namespace certd
