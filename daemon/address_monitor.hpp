#pragma once

// Follows the host's IP addresses through rtnetlink (RTM_NEWADDR / RTM_DELADDR).

#include "unique_fd.hpp"

#include <functional>
#include <string>
#include <vector>

namespace certd {

class AddressMonitor {
public:
    using Callback = std::function<void(const std::string& address, bool present)>;

    // `interfaces`: only these (empty: every interface but loopback). Link-local IPv6 is skipped.
    AddressMonitor(std::vector<std::string> interfaces, Callback callback);

    int fd() const { return fd_.get(); }
    // Asks the kernel for every current address; the answers arrive through process().
    void requestDump();
    // Reads what is pending on fd() and reports each change.
    void process();

private:
    void handleMessage(const void* message, std::size_t length);

    UniqueFd fd_;
    std::vector<std::string> interfaces_;
    Callback callback_;
};

} // namespace certd
