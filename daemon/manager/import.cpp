// Manager: importing files (every certificate and key in them) and fetching missing issuers.

#include "manager/manager.hpp"

#include "error.hpp"
#include "fetch.hpp"

#include <algorithm>
#include <chrono>

namespace certd {

void Manager::refuseForeignKeys(const std::vector<ParsedCertificate>& certificates,
                                const std::vector<ParsedKey>& keys) const
{
    if (keys.empty() || certificates.empty())
        return; // a key alone may complete a certificate imported earlier or later
    for (const auto& key : keys) {
        const auto sameKey = [&](const auto& c) { return c.info.spkiSha256 == key.spkiSha256; };
        const bool inFile = std::any_of(certificates.begin(), certificates.end(), sameKey);
        const bool stored = std::any_of(certificates_.begin(), certificates_.end(),
                                        [&](const auto& c) { return sameKey(c.second); }) ||
                            !requestsOfKey(key.id).empty();
        if (inFile || stored)
            continue;
        std::string names;
        for (const auto& c : certificates)
            names += (names.empty() ? "'" : ", '") + c.info.issuedTo + "'";
        throw Error(
            ErrorCode::KeyMismatch,
            "the private key " + key.id.substr(0, 12) + "… (" + pki::publicKeyDescription(key.key.get()) +
                ") in this file belongs to none of its certificates (" + names +
                ") nor to any certificate or request stored here; nothing was imported. Was the wrong "
                "key file combined with the certificate?");
    }
}

Manager::Imported Manager::importData(ByteView data, const Secret& passphrase,
                                      const std::string& friendlyName)
{
    return commitImport(parseImportData(data, passphrase), friendlyName);
}

Manager::ParsedImport Manager::parseImportData(ByteView data, const Secret& passphrase)
{
    auto bundle = pki::parseImport(data, passphrase);
    // Each object parsed once: ids, SPKI hashes, descriptions and kinds from here on.
    ParsedImport parsed;
    for (auto& key : bundle.keys)
        parsed.keys.push_back(parseKey(std::move(key)));
    for (auto& cert : bundle.certificates)
        parsed.certificates.push_back(parseCertificate(std::move(cert)));
    parsed.warnings = std::move(bundle.warnings);
    return parsed;
}

Manager::Imported Manager::commitImport(ParsedImport parsed, const std::string& friendlyName)
{
    std::vector<ParsedKey>& keys = parsed.keys;
    std::vector<ParsedCertificate>& certs = parsed.certificates;
    refuseForeignKeys(certs, keys);

    const StoreState before = store_.state();
    Imported result;
    result.warnings = std::move(parsed.warnings);
    Changes changes;

    auto tx = store_.begin();
    StoreState& st = tx.state();
    std::map<std::string, std::string> spkiToKey = keyBySpki_; // including the keys in this file
    std::vector<const ParsedKey*> newKeys;
    for (const auto& key : keys) {
        result.keys.push_back(key.id);
        spkiToKey[key.spkiSha256] = key.id;
        if (st.keys.count(key.id))
            continue;
        tx.putKey(key.id, pki::privateKeyToPkcs8Der(key.key.get()));
        st.keys[key.id] = StoredKey{now(), key.algorithm, key.bits, key.spkiSha256};
        newKeys.push_back(&key);
    }

    // The friendly name goes to the file's end-entity certificate (the first non-CA one).
    std::string namedId;
    for (const auto& cert : certs)
        if (namedId.empty() && cert.kind == pki::CertificateKind::Server)
            namedId = cert.id;
    if (namedId.empty() && !certs.empty())
        namedId = certs.front().id;

    std::set<std::string> keysLinked;
    std::vector<ParsedCertificate*> newCerts;
    for (auto& cert : certs) {
        result.certificates.push_back(cert.id);
        const auto keyIt = spkiToKey.find(cert.info.spkiSha256);
        // The request this certificate completes: the operator named it to find the certificate.
        const StoredRequest* completed = nullptr;
        if (keyIt != spkiToKey.end()) {
            keysLinked.insert(keyIt->second);
            // The signed certificate for a pending request with this key completes it (every such
            // request; the newest one names the certificate).
            if (cert.kind == pki::CertificateKind::Server)
                for (auto& [requestId, request] : st.requests)
                    if (request.keyId == keyIt->second && request.state == RequestState::Pending) {
                        request.state = RequestState::Completed;
                        request.certificateId = cert.id;
                        result.requests.push_back(requestId);
                        if (!completed || request.createdUSec > completed->createdUSec)
                            completed = &request;
                    }
        }
        if (st.certificates.count(cert.id)) {
            if (cert.id == namedId && !friendlyName.empty())
                st.certificates[cert.id].friendlyName = friendlyName;
            continue;
        }
        tx.putCertificate(cert.id, pki::certificateDer(cert.cert.get()));
        std::string name = cert.info.issuedTo;
        if (cert.id == namedId && !friendlyName.empty())
            name = friendlyName;
        else if (completed && !completed->friendlyName.empty())
            name = completed->friendlyName;
        st.certificates[cert.id] = StoredCertificate{name, ChainMode::Automatic, {}, now()};
        newCerts.push_back(&cert);
    }
    for (const ParsedKey* key : newKeys) {
        const bool usedByRequest = std::any_of(st.requests.begin(), st.requests.end(),
                                               [&](const auto& r) { return r.second.keyId == key->id; });
        const bool usedByStored = std::any_of(certificates_.begin(), certificates_.end(), [&](const auto& c) {
            return c.second.info.spkiSha256 == key->spkiSha256;
        });
        if (!keysLinked.count(key->id) && !usedByRequest && !usedByStored)
            result.warnings.push_back(
                {"key-unmatched", "the imported key " + key->id.substr(0, 12) +
                                      "… matches no certificate or request yet; import its "
                                      "certificate to use it"});
    }
    commit(std::move(tx));

    for (const ParsedKey* key : newKeys) {
        addKeyEntry(*key);
        changes.keysAdded.insert(key->id);
    }
    for (ParsedCertificate* cert : newCerts) {
        changes.certificatesAdded.insert(cert->id);
        addCertificateEntry(std::move(*cert));
    }
    for (const auto& id : result.requests)
        changes.requestsChanged.insert(id);
    if (!friendlyName.empty() && !namedId.empty() && !changes.certificatesAdded.count(namedId))
        changes.certificatesChanged.insert(namedId);
    recomputeDerived(changes);
    markBindingChanges(before, changes);
    record(changes);
    return result;
}

std::vector<std::string> Manager::fetchIssuers(const std::string& id)
{
    PendingFetch pending = prepareFetch(id);
    buildFetch(pending);
    return commitFetch(std::move(pending));
}

Manager::PendingFetch Manager::prepareFetch(const std::string& id) const
{
    PendingFetch pending;
    pending.id = id;
    const auto& entry = certificate(id);
    if (entry.chainComplete) {
        pending.nothingToDo = true;
        return pending;
    }
    const CertificateEntry& start = entry.chain.empty() ? entry : certificate(entry.chain.back());
    // A copy: the download runs on another thread while this entry may be read or deleted.
    pending.top = loadCertificate(start.id);
    pending.urls = start.info.authorityInfoAccess;
    pending.topSubject = start.info.subject;
    pending.fetch = options_.fetch;
    return pending;
}

void Manager::buildFetch(PendingFetch& pending)
{
    if (pending.nothingToDo)
        return;
    constexpr std::size_t kMaxFetchHops = 5;
    // Every hop shares one budget, so a call ends well inside the 25 s D-Bus default.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    X509* top = pending.top.get();
    std::vector<std::string> urls = pending.urls;
    std::string topSubject = pending.topSubject;
    // Download every hop first and import them together: a failure on a later hop
    // leaves nothing behind.
    std::vector<pki::X509Ptr> downloaded;
    for (std::size_t hop = 0; hop < kMaxFetchHops; ++hop) {
        std::string url;
        for (const auto& u : urls)
            if (u.rfind("http://", 0) == 0 || u.rfind("https://", 0) == 0) {
                url = u;
                break;
            }
        if (url.empty()) {
            if (hop == 0)
                throw Error(ErrorCode::NotFound,
                            "'" + topSubject +
                                "' names no issuer URL (Authority Info Access); import the "
                                "issuer by hand");
            break;
        }
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0)
            throw Error(ErrorCode::FetchFailed,
                        "fetching issuers took too long; stopped before '" + url + "'");
        FetchLimits limits;
        limits.cancel = pending.cancel;
        limits.timeoutMs = std::min<long>(limits.timeoutMs, static_cast<long>(left.count()));
        const Bytes data = pending.fetch ? pending.fetch(url) : fetchUrl(url, limits);
        pki::ImportedBundle bundle;
        try {
            bundle = pki::parseImport(data, Secret());
        } catch (const Error& e) {
            throw Error(ErrorCode::InvalidCertificate,
                        "issuer from '" + url + "' is not a certificate: " + e.what());
        }
        if (!bundle.keys.empty() || bundle.certificates.empty())
            throw Error(ErrorCode::InvalidCertificate, "issuer from '" + url + "' holds no certificate");
        X509* issuer = nullptr;
        for (const auto& c : bundle.certificates)
            if (pki::issuedBy(top, c.get()))
                issuer = c.get();
        if (issuer == nullptr)
            throw Error(ErrorCode::InvalidCertificate,
                        "the certificate from '" + url + "' did not issue '" + topSubject + "'");
        const auto info = pki::describeCertificate(issuer);
        for (auto& c : bundle.certificates)
            downloaded.push_back(std::move(c));
        if (info.selfSigned)
            break;
        top = issuer;
        topSubject = info.subject;
        urls = info.authorityInfoAccess;
    }
    for (const auto& c : downloaded)
        pending.pem += pki::certificatePem(c.get());
}

std::vector<std::string> Manager::commitFetch(PendingFetch pending)
{
    // The call takes effect here: if the certificate was deleted meanwhile, the deletion came
    // first, and FetchIssuer on a deleted certificate is NotFound (nothing imported).
    if (!certificates_.count(pending.id))
        throw Error(ErrorCode::NotFound,
                    "certificate '" + pending.id + "' was deleted while its issuers were being downloaded");
    if (pending.nothingToDo)
        return {};
    return importData(asBytes(pending.pem), Secret(), {}).certificates;
}

} // namespace certd
