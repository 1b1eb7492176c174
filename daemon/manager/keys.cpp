// Manager: private keys — which key a creation uses, staging it in the store, deleting it.

#include "manager/manager.hpp"

#include "error.hpp"

#include <algorithm>

namespace certd {
namespace {

std::string nameEntry(X509_NAME* name, int nid)
{
    const int index = X509_NAME_get_index_by_NID(name, nid, -1);
    if (index < 0)
        return {};
    unsigned char* utf8 = nullptr;
    const int len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, index)));
    if (len < 0)
        return {};
    std::string out(reinterpret_cast<char*>(utf8), static_cast<std::size_t>(len));
    OPENSSL_free(utf8);
    return out;
}

// The subject and SANs of an existing certificate, for a re-key (copy_from).
void copySubject(X509* cert, const pki::CertificateInfo& info, pki::CertificateSpec& spec)
{
    X509_NAME* name = X509_get_subject_name(cert);
    spec.subject.country = nameEntry(name, NID_countryName);
    spec.subject.state = nameEntry(name, NID_stateOrProvinceName);
    spec.subject.locality = nameEntry(name, NID_localityName);
    spec.subject.organization = nameEntry(name, NID_organizationName);
    spec.subject.organizationalUnit = nameEntry(name, NID_organizationalUnitName);
    spec.subject.commonName = nameEntry(name, NID_commonName);
    spec.subjectAltNames.clear();
    for (const auto& [type, value] : info.subjectAlternativeNames) {
        if (type == "DNS")
            spec.subjectAltNames.push_back({pki::SubjectAltName::Type::Dns, value});
        else if (type == "IP")
            spec.subjectAltNames.push_back({pki::SubjectAltName::Type::Ip, value});
    }
}

} // namespace

Manager::PendingCreate Manager::prepareCreate(CreateSpec cs, bool selfSigned) const
{
    PendingCreate pending;
    pending.selfSigned = selfSigned;
    if (cs.copyFrom) {
        const auto& source = certificate(*cs.copyFrom);
        copySubject(loadCertificate(source.id).get(), source.info, cs.spec);
        if (cs.spec.friendlyName.empty())
            cs.spec.friendlyName = friendlyName(source.id) + " (re-key)";
    }
    pending.created.warnings = pki::validateSpec(cs.spec);
    if (!cs.keyId && !cs.spec.keyType)
        throw Error(ErrorCode::InvalidArgument, "key_type: give key_type (e.g. rsa2048), key or copy_from");
    if (cs.keyId)
        pending.existingKey = loadPrivateKey(*cs.keyId);
    pending.spec = std::move(cs);
    return pending;
}

void Manager::buildCreate(PendingCreate& pending)
{
    auto key =
        pending.existingKey ? std::move(pending.existingKey) : pki::generateKey(*pending.spec.spec.keyType);
    if (auto limited = pki::limitedClientsWarning(key.get()))
        pending.created.warnings.push_back(std::move(*limited));
    pending.key = parseKey(std::move(key));
    if (pending.selfSigned)
        pending.certificate =
            parseCertificate(pki::createSelfSigned(pending.spec.spec, pending.key.key.get()));
    else
        pending.requestPem =
            pki::requestPem(pki::createRequest(pending.spec.spec, pending.key.key.get()).get());
}

Manager::Created Manager::commitCreate(PendingCreate pending)
{
    // The key named by `key` may have been deleted while this one was being made: the
    // deletion came first, so this call finds no key (as it would have, run after it).
    if (pending.spec.keyId && !keys_.count(*pending.spec.keyId))
        throw Error(ErrorCode::NotFound, "key '" + *pending.spec.keyId + "' was deleted while the " +
                                             (pending.selfSigned ? "certificate" : "request") +
                                             " was being made; nothing was created");
    return pending.selfSigned ? commitSelfSigned(pending) : commitRequest(pending);
}

void Manager::stageKey(Store::Transaction& tx, const ParsedKey& key, Changes& changes) const
{
    if (tx.state().keys.count(key.id)) {
        changes.keysChanged.insert(key.id); // its Certificates / Requests grow
        return;
    }
    tx.putKey(key.id, pki::privateKeyToPkcs8Der(key.key.get()));
    tx.state().keys[key.id] = StoredKey{now(), key.algorithm, key.bits, key.spkiSha256};
    changes.keysAdded.insert(key.id);
}

pki::EvpPkeyPtr Manager::loadPrivateKey(const std::string& keyId) const
{
    key(keyId); // NotFound for unknown ids
    return pki::privateKeyFromPkcs8Der(store_.keyPkcs8(keyId));
}

void Manager::dropUnusedKeys(StoreState& state, const std::set<std::string>& candidates)
{
    for (const auto& keyId : candidates) {
        const bool usedByRequest = std::any_of(state.requests.begin(), state.requests.end(),
                                               [&](const auto& r) { return r.second.keyId == keyId; });
        const bool usedByOrder =
            std::any_of(state.acmeOrders.begin(), state.acmeOrders.end(), [&](const auto& o) {
                return o.second.keyId == keyId || o.second.accountKeyId == keyId ||
                       o.second.fixedKeyId == keyId;
            });
        if (!usedByRequest && !usedByOrder)
            state.keys.erase(keyId);
    }
}

void Manager::deleteKey(const std::string& id)
{
    key(id);
    const auto certs = certificatesOfKey(id);
    const auto reqs = requestsOfKey(id);
    if (!certs.empty() || !reqs.empty())
        throw Error(ErrorCode::InUse, "key is used by " + std::to_string(certs.size()) +
                                          " certificate(s) and " + std::to_string(reqs.size()) +
                                          " request(s); delete those first");
    for (const auto& [orderId, order] : acmeOrders())
        if (order.keyId == id || order.accountKeyId == id || order.fixedKeyId == id)
            throw Error(ErrorCode::InUse, "key is used by ACME order " + orderId + "; delete that first");
    const StoreState before = store_.state();
    auto tx = store_.begin();
    tx.state().keys.erase(id);
    commit(std::move(tx));
    Changes changes;
    forgetRemoved(before, changes);
    record(changes);
}

} // namespace certd
