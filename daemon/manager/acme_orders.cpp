// The Manager's part of ACME: what is stored of each order. The protocol runs in acme::Service.

#include "manager/manager.hpp"

#include "error.hpp"

#include <openssl/rand.h>

namespace certd {
namespace {

std::string randomOrderId()
{
    unsigned char bytes[16];
    if (RAND_bytes(bytes, sizeof bytes) != 1)
        throwOpenSsl(ErrorCode::Internal, "cannot make an ACME order id");
    return toHex({bytes, sizeof bytes});
}

std::set<std::string> keysOf(const StoredAcmeOrder& order)
{
    std::set<std::string> keys;
    for (const std::string* key : {&order.accountKeyId, &order.keyId, &order.fixedKeyId})
        if (!key->empty())
            keys.insert(*key);
    return keys;
}

} // namespace

const StoredAcmeOrder& Manager::acmeOrder(const std::string& id) const
{
    const auto it = acmeOrders().find(id);
    if (it == acmeOrders().end())
        throw Error(ErrorCode::NotFound, "no ACME order " + id);
    return it->second;
}

std::string Manager::createAcmeOrder(const StoredAcmeOrder& order, const std::vector<ParsedKey>& newKeys)
{
    std::string id = randomOrderId();
    Changes changes;
    auto tx = store_.begin();
    for (const auto& key : newKeys)
        stageKey(tx, key, changes);
    tx.state().acmeOrders[id] = order;
    tx.state().acmeOrders[id].createdUSec = now();
    commit(std::move(tx));
    for (const auto& key : newKeys)
        if (changes.keysAdded.count(key.id))
            addKeyEntry(key);
    changes.acmeOrdersAdded.insert(id);
    record(changes);
    return id;
}

void Manager::updateAcmeOrder(const std::string& id, const StoredAcmeOrder& order,
                              const std::vector<ParsedKey>& newKeys)
{
    const StoredAcmeOrder old = acmeOrder(id);
    if (old == order && newKeys.empty())
        return;
    const StoreState before = store_.state();
    Changes changes;
    auto tx = store_.begin();
    for (const auto& key : newKeys)
        stageKey(tx, key, changes);
    tx.state().acmeOrders[id] = order;
    // The URL is the account's: the other orders of the account follow a new registration.
    if (!order.accountKeyId.empty() && order.accountUrl != old.accountUrl)
        for (auto& [otherId, other] : tx.state().acmeOrders)
            if (otherId != id && other.accountKeyId == order.accountKeyId &&
                other.accountUrl != order.accountUrl) {
                other.accountUrl = order.accountUrl;
                changes.acmeOrdersChanged.insert(otherId);
            }
    std::set<std::string> released;
    for (const auto& key : keysOf(old))
        if (!keysOf(order).count(key) && certificatesOfKey(key).empty())
            released.insert(key);
    dropUnusedKeys(tx.state(), released);
    commit(std::move(tx));
    for (const auto& key : newKeys)
        if (changes.keysAdded.count(key.id))
            addKeyEntry(key);
    forgetRemoved(before, changes);
    changes.acmeOrdersChanged.insert(id);
    record(changes);
}

std::map<std::string, std::vector<std::string>> Manager::acmeAccounts() const
{
    std::map<std::string, std::vector<std::string>> accounts;
    for (const auto& [id, order] : acmeOrders())
        if (!order.accountKeyId.empty() && !order.accountUrl.empty())
            accounts[order.accountKeyId].push_back(id);
    return accounts;
}

void Manager::deleteAcmeOrder(const std::string& id)
{
    const StoredAcmeOrder order = acmeOrder(id);
    const StoreState before = store_.state();
    auto tx = store_.begin();
    tx.state().acmeOrders.erase(id);
    std::set<std::string> released;
    for (const auto& key : keysOf(order))
        if (certificatesOfKey(key).empty())
            released.insert(key);
    dropUnusedKeys(tx.state(), released);
    commit(std::move(tx));
    Changes changes;
    forgetRemoved(before, changes);
    changes.acmeOrdersRemoved.insert(id);
    record(changes);
}

} // namespace certd
