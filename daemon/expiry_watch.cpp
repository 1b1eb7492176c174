#include "expiry_watch.hpp"

#include <algorithm>
#include <chrono>
#include <utility>

namespace certd {
namespace {
constexpr std::uint64_t kUSecPerDay = 86400ULL * 1000000ULL;

std::uint64_t daysBefore(std::uint64_t t, unsigned days)
{
    const std::uint64_t span = days * kUSecPerDay;
    return t > span ? t - span : 0;
}
} // namespace

ExpiryWatch::ExpiryWatch(EventLoop& loop, Manager& manager, std::vector<unsigned> thresholdDays,
                         unsigned expiringWithinDays, OnExpiring onExpiring)
    : loop_(loop), manager_(manager), thresholdDays_(std::move(thresholdDays)),
      expiringWithinDays_(expiringWithinDays), onExpiring_(std::move(onExpiring)),
      // Time moved on: warnings first (the ChangeFlow publishes them), then thresholds.
      timer_(loop, [this] {
          manager_.refreshWarnings();
          rearm();
      })
{
    changed({});
}

void ExpiryWatch::setThresholds(std::vector<unsigned> thresholdDays, unsigned expiringWithinDays)
{
    thresholdDays_ = std::move(thresholdDays);
    expiringWithinDays_ = expiringWithinDays;
    changed({});
}

void ExpiryWatch::changed(const Changes& /*changes*/)
{
    if (std::exchange(rearmPending_, true))
        return;
    loop_.defer([this] {
        rearmPending_ = false;
        rearm();
    });
}

void ExpiryWatch::rearm()
{
    const auto now = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                                    std::chrono::system_clock::now().time_since_epoch())
                                                    .count());
    if (const auto next = evaluate(now))
        timer_.arm(*next);
    else
        timer_.disarm();
}

std::optional<std::uint64_t> ExpiryWatch::evaluate(std::uint64_t now)
{
    std::optional<std::uint64_t> next;
    auto consider = [&](std::uint64_t t) {
        if (t > now && (!next || t < *next))
            next = t;
    };
    std::erase_if(reported_, [&](const auto& r) { return !manager_.certificates().count(r.first); });
    for (const auto& [id, entry] : manager_.certificates()) {
        const auto notAfter = entry.info.notAfterUSec;
        // The moments a warning of any certificate changes.
        consider(entry.info.notBeforeUSec);
        consider(notAfter + 1);
        consider(daysBefore(notAfter, expiringWithinDays_));
        // Only certificates this appliance can serve (it holds their key) and that are
        // already valid are announced.
        if (entry.keyId.empty() || entry.info.notBeforeUSec > now)
            continue;
        for (const unsigned days : thresholdDays_) {
            const auto at = daysBefore(notAfter, days);
            if (at > now) {
                consider(at);
                continue;
            }
            if (reported_.insert({id, days}).second)
                onExpiring_(id, notAfter, days);
        }
    }
    return next;
}

} // namespace certd
