// Manager: certificate signing requests.

#include "manager/manager.hpp"

#include "error.hpp"
#include "pki/ossl.hpp"

#include <openssl/rand.h>

namespace certd {
namespace {

std::string randomRequestId()
{
    std::uint8_t bytes[8];
    if (RAND_bytes(bytes, sizeof(bytes)) != 1)
        throwOpenSsl(ErrorCode::Internal, "cannot draw a request id");
    return toHex(bytes);
}

} // namespace

Manager::Created Manager::createRequest(CreateSpec cs)
{
    PendingCreate pending = prepareCreate(std::move(cs), false);
    buildCreate(pending);
    return commitCreate(std::move(pending));
}

Manager::Created Manager::commitRequest(PendingCreate& pending)
{
    const CreateSpec& cs = pending.spec;
    const ParsedKey& key = pending.key;
    std::string pem = std::move(pending.requestPem);
    Created created = std::move(pending.created);
    const std::string id = randomRequestId();

    Changes changes;
    auto tx = store_.begin();
    stageKey(tx, key, changes);
    tx.putRequest(id, pem);
    tx.state().requests[id] =
        StoredRequest{cs.spec.friendlyName.empty() ? cs.spec.subject.commonName : cs.spec.friendlyName,
                      key.id,
                      RequestState::Pending,
                      {},
                      now()};
    commit(std::move(tx));

    if (changes.keysAdded.count(key.id))
        addKeyEntry(key);
    addRequestEntry(id, std::move(pem));
    changes.requestsAdded.insert(id);
    record(changes);
    created.id = id;
    return created;
}

void Manager::deleteRequest(const std::string& id)
{
    request(id);
    const StoreState before = store_.state();
    auto tx = store_.begin();
    const std::string keyId = tx.state().requests.at(id).keyId;
    tx.state().requests.erase(id);
    if (certificatesOfKey(keyId).empty())
        dropUnusedKeys(tx.state(), {keyId});
    commit(std::move(tx));
    Changes changes;
    forgetRemoved(before, changes);
    record(changes);
}

} // namespace certd
