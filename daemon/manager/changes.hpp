#pragma once

// What mutations touched, from the Manager to the terminator and then to subscribers
// (bus objects and signals, the expiry watch). Ids of certificates, keys, requests;
// canonical addresses.

#include <set>
#include <string>

namespace certd {

struct Changes {
    std::set<std::string> certificatesAdded, certificatesRemoved, certificatesChanged;
    std::set<std::string> keysAdded, keysRemoved, keysChanged;
    std::set<std::string> requestsAdded, requestsRemoved, requestsChanged;
    std::set<std::string> addressesAdded, addressesRemoved, addressesChanged;
    std::set<std::string> acmeOrdersAdded, acmeOrdersRemoved, acmeOrdersChanged;
    bool factoryChanged = false;
    bool terminatorChanged = false; // TerminatorState or TerminatorError
    void merge(const Changes& other);
    bool empty() const;
};

} // namespace certd
