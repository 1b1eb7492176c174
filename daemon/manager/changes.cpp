#include "manager/changes.hpp"

#include <utility>

namespace certd {

void Changes::merge(const Changes& o)
{
    for (auto [mine, theirs] : {std::pair{&certificatesAdded, &o.certificatesAdded},
                                {&certificatesRemoved, &o.certificatesRemoved},
                                {&certificatesChanged, &o.certificatesChanged},
                                {&keysAdded, &o.keysAdded},
                                {&keysRemoved, &o.keysRemoved},
                                {&keysChanged, &o.keysChanged},
                                {&requestsAdded, &o.requestsAdded},
                                {&requestsRemoved, &o.requestsRemoved},
                                {&requestsChanged, &o.requestsChanged},
                                {&addressesAdded, &o.addressesAdded},
                                {&addressesRemoved, &o.addressesRemoved},
                                {&addressesChanged, &o.addressesChanged},
                                {&acmeOrdersAdded, &o.acmeOrdersAdded},
                                {&acmeOrdersRemoved, &o.acmeOrdersRemoved},
                                {&acmeOrdersChanged, &o.acmeOrdersChanged}})
        mine->insert(theirs->begin(), theirs->end());
    factoryChanged = factoryChanged || o.factoryChanged;
    terminatorChanged = terminatorChanged || o.terminatorChanged;
}

bool Changes::empty() const
{
    return certificatesAdded.empty() && certificatesRemoved.empty() && certificatesChanged.empty() &&
           keysAdded.empty() && keysRemoved.empty() && keysChanged.empty() && requestsAdded.empty() &&
           requestsRemoved.empty() && requestsChanged.empty() && addressesAdded.empty() &&
           addressesRemoved.empty() && addressesChanged.empty() && acmeOrdersAdded.empty() &&
           acmeOrdersRemoved.empty() && acmeOrdersChanged.empty() && !factoryChanged && !terminatorChanged;
}

} // namespace certd
