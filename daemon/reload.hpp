#pragma once

// Live configuration reload (SIGHUP, Manager.Reload): reads the configuration file again,
// validates all of it first (a bad file changes nothing), then applies the difference in one
// step on the event loop thread: the configured addresses to the Manager, the terminator's
// settings to the Link (the next settle sends a snapshot), the rest to whoever subscribed
// (the bus: port, authorisation, message size). Keys certd reads only at start-up keep their
// running values and are named in one warning. systemd hears RELOADING=1 before and READY=1
// after, once the terminator acknowledged the new state (or the file was refused).
// Knows nothing of D-Bus.

#include "change_flow.hpp"
#include "config.hpp"
#include "manager/manager.hpp"

#include <filesystem>
#include <functional>
#include <vector>

namespace certd {

namespace terminator {
class Link;
}

class Reloader {
public:
    using Subscriber = std::function<void(const Config&)>;

    Reloader(std::filesystem::path path, Config running, Manager& manager, terminator::Link& terminator,
             ChangeFlow& flow);

    // What certd runs with now (restart-only keys as at start-up).
    const Config& config() const { return config_; }
    // Gets each configuration a reload applies, after the Manager and the Link have it.
    void subscribe(Subscriber subscriber);
    // Reads, validates and applies the file. A bad file throws Error(InvalidArgument)
    // "FILE:LINE: KEY: reason" and changes nothing; either way the outcome is logged. The
    // terminator gets the new state at the flow's next settle: a waiter added after this call
    // (ChangeFlow::whenSettled) hears back once it is acknowledged.
    void reload();

private:
    std::filesystem::path path_;
    Config config_;
    Manager& manager_;
    terminator::Link& terminator_;
    ChangeFlow& flow_;
    std::vector<Subscriber> subscribers_;
};

} // namespace certd
