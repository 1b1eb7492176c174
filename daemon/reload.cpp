#include "reload.hpp"

#include "error.hpp"
#include "log.hpp"
#include "terminator/link.hpp"

#include <systemd/sd-daemon.h>

#include <ctime>
#include <string>
#include <utility>

namespace certd {
namespace {

std::string joined(const std::vector<std::string>& names)
{
    std::string out;
    for (const auto& n : names)
        out += (out.empty() ? "" : ", ") + n;
    return out;
}

std::uint64_t monotonicUSec()
{
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000U +
           static_cast<std::uint64_t>(ts.tv_nsec) / 1000U;
}

// systemd (Type=notify) shows "reloading" until READY=1; MONOTONIC_USEC lets it tell this
// reload's READY=1 from an earlier one's (systemd 253 and later).
void notifyReloading()
{
    sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu", static_cast<unsigned long long>(monotonicUSec()));
}

void notifyReady(const std::string& status)
{
    sd_notifyf(0, "READY=1\nSTATUS=%s", status.c_str());
}

} // namespace

Reloader::Reloader(std::filesystem::path path, Config running, Manager& manager, terminator::Link& terminator,
                   ChangeFlow& flow)
    : path_(std::move(path)), config_(std::move(running)), manager_(manager), terminator_(terminator),
      flow_(flow)
{
}

void Reloader::subscribe(Subscriber subscriber)
{
    subscribers_.push_back(std::move(subscriber));
}

void Reloader::reload()
{
    notifyReloading();
    Config next;
    try {
        next = loadConfig(path_);
    } catch (const Error& e) {
        log::error(std::string("reload refused, the running configuration stays: ") + e.what(),
                   {{"CERTD_CONFIG", path_.string()}});
        notifyReady(std::string("Reload refused: ") + e.what());
        throw;
    }
    const ConfigDifference difference = compareConfigs(config_, next);
    // One step, on this thread: nothing is served in between, and the settle below sends the
    // terminator the whole new state at once.
    config_ = reloadedConfig(config_, next);
    manager_.setConfiguredAddresses(config_.addresses);
    manager_.setExpiringWithinDays(expiringSoonDays(config_));
    terminator_.setConfig(config_);
    for (const auto& subscriber : subscribers_)
        subscriber(config_);
    flow_.requestSync();
    if (!difference.restartOnly.empty())
        log::warning(path_.string() + ": " + joined(difference.restartOnly) +
                         " changed; takes effect at the next restart",
                     {{"CERTD_CONFIG", path_.string()}});
    const std::string live = joined(difference.live);
    log::notice("reloading " + path_.string() + ": " +
                    (live.empty() ? "nothing to apply" : "applying " + live),
                {{"CERTD_CONFIG", path_.string()}});
    flow_.whenSettled([path = path_.string(), live](const std::exception_ptr&) {
        log::notice("reloaded " + path + ": " + (live.empty() ? "nothing to apply" : live + " applied"),
                    {{"CERTD_CONFIG", path}});
        notifyReady("Reloaded " + path);
    });
}

} // namespace certd
