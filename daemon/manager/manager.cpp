#include "manager/manager.hpp"

#include "error.hpp"
#include "pki/key.hpp"
#include "text.hpp"

#include <algorithm>
#include <chrono>
#include <set>

namespace certd {
namespace {

constexpr std::size_t kMaxChainDepth = 10;

template <typename Map>
const typename Map::mapped_type& findOrThrow(const Map& map, const std::string& id, const char* what)
{
    const auto it = map.find(id);
    if (it == map.end())
        throw Error(ErrorCode::NotFound, std::string("no ") + what + " '" + id + "'");
    return it->second;
}

} // namespace

ParsedCertificate parseCertificate(pki::X509Ptr cert)
{
    ParsedCertificate parsed;
    pki::CertificateFacts facts = pki::describeFacts(cert.get());
    parsed.id = facts.info.fingerprintSha256.substr(0, pki::kIdLength);
    parsed.info = std::move(facts.info);
    parsed.kind = facts.kind;
    parsed.traits = facts.traits;
    parsed.cert = std::move(cert);
    return parsed;
}

ParsedKey parseKey(pki::EvpPkeyPtr key)
{
    ParsedKey parsed;
    parsed.spkiSha256 = pki::spkiSha256Hex(key.get());
    parsed.id = parsed.spkiSha256.substr(0, pki::kIdLength);
    parsed.algorithm = pki::keyAlgorithm(key.get());
    parsed.bits = static_cast<unsigned>(pki::keyBits(key.get()));
    parsed.key = std::move(key);
    return parsed;
}

std::string_view addressOriginName(AddressOrigin origin)
{
    return origin == AddressOrigin::Discovered ? "discovered" : "configured";
}

std::string_view severityName(Severity severity)
{
    switch (severity) {
    case Severity::Error:
        return "error";
    case Severity::Warning:
        return "warning";
    case Severity::Info:
        break;
    }
    return "info";
}

Manager::Manager(Store& store, ManagerOptions options)
    : store_(store), options_(std::move(options)), cache_(store.directory())
{
    setConfiguredAddresses(options_.configuredAddresses);
    pending_ = {}; // nothing is published yet: the bus builds its objects from the model
    loadFromStore();
}

std::uint64_t Manager::now() const
{
    if (options_.clock)
        return options_.clock();
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                          std::chrono::system_clock::now().time_since_epoch())
                                          .count());
}

Changes Manager::takeChanges()
{
    // The settle that takes these retracts what was removed (after a flush: durable).
    if (!hasStaged())
        parked_ = {};
    return std::exchange(pending_, Changes{});
}

void Manager::loadFromStore()
{
    const StoreState& st = store_.state();
    bool uncached = false;
    for (const auto& [id, stored] : st.keys) {
        // The description cached at creation or import spares parsing every private key.
        if (!stored.algorithm.empty() && stored.spkiSha256.starts_with(id)) {
            keyBySpki_[stored.spkiSha256] = id;
            keys_[id] = KeyEntry{id, stored.algorithm, stored.bits, stored.spkiSha256};
            continue;
        }
        addKeyEntry(parseKey(pki::privateKeyFromPkcs8Der(store_.keyPkcs8(id))));
        uncached = true;
    }
    // A certificate's facts come from the description cache when it holds the SHA-256 of the
    // stored DER (so the record describes exactly these bytes), else from parsing it.
    cache_.load();
    std::size_t hits = 0;
    for (const auto& [id, stored] : st.certificates) {
        const Bytes der = store_.certificateDer(id);
        auto record = cache_.find(certificateFingerprint(der));
        if (!record) {
            addCertificateEntry(parseCertificate(pki::certificateFromDer(der)));
            continue;
        }
        std::string parsedId = record->facts.info.fingerprintSha256.substr(0, pki::kIdLength);
        addCertificateEntry(parsedId, std::move(record->facts), record->issuerVerified, true);
        ++hits;
    }
    cache_.release();
    // Compacted when damaged, or when it holds more records of certificates no longer stored
    // (or superseded) than of stored ones.
    rewriteCache_ = cache_.damaged() || cache_.loadedRecords() - hits > hits;
    for (const auto& [id, stored] : st.requests)
        addRequestEntry(id, store_.requestPem(id));
    Changes ignored;
    recomputeDerived(ignored, true);
    if (uncached)
        cacheKeyDescriptions();
}

void Manager::cacheKeyDescriptions()
{
    auto tx = store_.begin();
    for (auto& [id, stored] : tx.state().keys)
        if (const auto it = keys_.find(id); it != keys_.end() && it->second.spkiSha256.starts_with(id)) {
            stored.algorithm = it->second.algorithm;
            stored.bits = it->second.bits;
            stored.spkiSha256 = it->second.spkiSha256;
        }
    try {
        store_.commit(std::move(tx));
    } catch (const Error&) {
        // Only a cache (a read-only store, a full disk): the next start parses the keys again.
        store_.discardStaged();
    }
}

void Manager::commit(Store::Transaction&& tx)
{
    if (options_.groupCommit)
        store_.stage(std::move(tx));
    else
        store_.commit(std::move(tx));
}

void Manager::flush()
{
    if (!hasStaged())
        return;
    try {
        store_.flush();
    } catch (const Error&) {
        // The store dropped what was staged: the model follows it back to the durable state,
        // and the description cache gets nothing of what was undone.
        cache_.discardQueued();
        revertToDurable();
        throw;
    }
    writeDescriptionCache();
}

void Manager::revertToDurable()
{
    // Rare (a failed write), so every object that stays is refreshed rather than compared.
    const StoreState& durable = store_.state();
    Changes changes;
    for (const auto& item : certificates_)
        (durable.certificates.count(item.first) ? changes.certificatesChanged : changes.certificatesRemoved)
            .insert(item.first);
    for (const auto& id : changes.certificatesRemoved)
        forgetCertificate(id);
    std::erase_if(keys_, [&](const auto& item) {
        if (durable.keys.count(item.first)) {
            changes.keysChanged.insert(item.first);
            return false;
        }
        changes.keysRemoved.insert(item.first);
        keyBySpki_.erase(item.second.spkiSha256);
        return true;
    });
    std::erase_if(requests_, [&](const auto& item) {
        if (durable.requests.count(item.first)) {
            changes.requestsChanged.insert(item.first);
            return false;
        }
        changes.requestsRemoved.insert(item.first);
        return true;
    });
    // What the undone transactions removed comes back, as it was (no store read: the disk may
    // be what failed).
    for (auto& [id, entry] : parked_.certificates)
        if (durable.certificates.count(id) && !certificates_.count(id)) {
            changes.certificatesAdded.insert(id);
            bySubjectHash_.emplace(entry.traits.subjectHash, id);
            certificates_[id] = std::move(entry);
        }
    for (auto& [id, entry] : parked_.keys)
        if (durable.keys.count(id) && !keys_.count(id)) {
            changes.keysAdded.insert(id);
            keyBySpki_[entry.spkiSha256] = id;
            keys_[id] = std::move(entry);
        }
    for (auto& [id, entry] : parked_.requests)
        if (durable.requests.count(id) && !requests_.count(id)) {
            changes.requestsAdded.insert(id);
            requests_[id] = std::move(entry);
        }
    parked_ = {};
    issuerOf_.clear();
    for (const auto& item : addresses_)
        changes.addressesChanged.insert(item.first);
    changes.factoryChanged = true;
    recomputeDerived(changes, true);
    record(changes);
    // What the undone transactions added was never published: nothing is to announce of it.
    const auto dropVanished = [](std::set<std::string>& added, const auto& model) {
        std::erase_if(added, [&](const std::string& id) { return !model.count(id); });
    };
    dropVanished(pending_.certificatesAdded, certificates_);
    dropVanished(pending_.keysAdded, keys_);
    dropVanished(pending_.requestsAdded, requests_);
}

CertificateEntry Manager::forgetCertificate(const std::string& id)
{
    auto node = certificates_.extract(id);
    const auto [first, last] = bySubjectHash_.equal_range(node.mapped().traits.subjectHash);
    for (auto h = first; h != last; ++h)
        if (h->second == id) {
            bySubjectHash_.erase(h);
            break;
        }
    std::erase_if(issuerOf_, [&](const auto& item) { return item.first == id || item.second == id; });
    return std::move(node.mapped());
}

CertificateEntry& Manager::addCertificateEntry(ParsedCertificate parsed)
{
    return addCertificateEntry(parsed.id, {std::move(parsed.info), parsed.kind, parsed.traits});
}

CertificateEntry& Manager::addCertificateEntry(const std::string& id, pki::CertificateFacts facts,
                                               const std::array<std::uint8_t, 32>& issuerVerified,
                                               bool cached)
{
    CertificateEntry entry;
    entry.id = id;
    entry.info = std::move(facts.info);
    entry.kind = facts.kind;
    entry.traits = facts.traits;
    entry.issuerVerified = issuerVerified;
    bySubjectHash_.emplace(entry.traits.subjectHash, id);
    // A new certificate may be the missing issuer of others: look again for those.
    std::erase_if(issuerOf_, [](const auto& item) { return item.second.empty(); });
    CertificateEntry& added = certificates_[id] = std::move(entry);
    if (!cached)
        cacheDescription(added);
    return added;
}

namespace {

DescriptionCache::Fingerprint fingerprintOf(const CertificateEntry& entry)
{
    DescriptionCache::Fingerprint out{};
    const std::string& hex = entry.info.fingerprintSha256;
    const auto digit = [](char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; };
    for (std::size_t i = 0; i < out.size() && 2 * i + 1 < hex.size(); ++i)
        out[i] = static_cast<std::uint8_t>(digit(hex[2 * i]) << 4 | digit(hex[2 * i + 1]));
    return out;
}

DescriptionCache::Record recordOf(const CertificateEntry& entry)
{
    return {{entry.info, entry.kind, entry.traits}, entry.issuerVerified};
}

} // namespace

void Manager::cacheDescription(const CertificateEntry& entry)
{
    if (entry.info.fingerprintSha256.size() == 2 * DescriptionCache::Fingerprint().size())
        cache_.add(fingerprintOf(entry), recordOf(entry));
}

void Manager::writeDescriptionCache()
{
    // Not before the store has made the certificates durable: a failed flush changes no file.
    if (hasStaged())
        return;
    if (!rewriteCache_) {
        cache_.write();
        return;
    }
    cache_.discardQueued(); // all of it is in what follows
    std::map<DescriptionCache::Fingerprint, DescriptionCache::Record> records;
    for (const auto& [id, entry] : certificates_)
        records.emplace(fingerprintOf(entry), recordOf(entry));
    cache_.rewrite(records);
    rewriteCache_ = false;
}

pki::X509Ptr Manager::loadCertificate(const std::string& id) const
{
    return pki::certificateFromDer(store_.certificateDer(id));
}

void Manager::addKeyEntry(const ParsedKey& parsed)
{
    keyBySpki_[parsed.spkiSha256] = parsed.id;
    keys_[parsed.id] = KeyEntry{parsed.id, parsed.algorithm, parsed.bits, parsed.spkiSha256};
}

void Manager::addRequestEntry(const std::string& id, std::string pem)
{
    const auto req = pki::requestFromPem(pem);
    requests_[id] = RequestEntry{id, pki::describeRequest(req.get()), std::move(pem)};
}

std::string Manager::findIssuer(CertificateEntry& entry)
{
    if (entry.info.selfSigned)
        return {};
    static constexpr std::array<std::uint8_t, 32> kUnknown{};
    pki::X509Ptr cert; // parsed only when no candidate has the identity verified before
    std::string best;
    const auto [first, last] = bySubjectHash_.equal_range(entry.traits.issuerHash);
    for (auto it = first; it != last; ++it) {
        if (it->second == entry.id)
            continue;
        const auto& candidate = certificates_.at(it->second);
        // issuedBy() reads of the candidate only what its identity digests: the same answer.
        bool issued =
            entry.issuerVerified != kUnknown && candidate.traits.issuerIdentity == entry.issuerVerified;
        // issuedBy()'s cheap rejection, from the key identifiers' hashes (equal ones are checked).
        if (!issued && entry.traits.hasAuthorityKeyId && candidate.traits.hasSubjectKeyId &&
            entry.traits.authorityKeyIdHash != candidate.traits.subjectKeyIdHash)
            continue;
        if (!issued) {
            if (!cert)
                cert = loadCertificate(entry.id);
            issued = pki::issuedBy(cert.get(), loadCertificate(candidate.id).get());
            if (issued && entry.issuerVerified == kUnknown) {
                entry.issuerVerified = candidate.traits.issuerIdentity;
                cacheDescription(entry);
            }
        }
        if (!issued)
            continue;
        // Prefer an issuer that is valid now (a renewed CA beside its expired predecessor).
        const auto t = now();
        if (candidate.info.notBeforeUSec <= t && t <= candidate.info.notAfterUSec)
            return it->second;
        if (best.empty())
            best = it->second;
    }
    return best;
}

void Manager::recomputeDerived(Changes& changes, bool allWarnings)
{
    const StoreState& st = store_.state();
    certificatesByKey_.clear();
    for (auto& [id, entry] : certificates_) {
        const auto keyIt = keyBySpki_.find(entry.info.spkiSha256);
        const std::string keyId = keyIt == keyBySpki_.end() ? std::string() : keyIt->second;

        std::vector<std::string> chain;
        const auto storedIt = st.certificates.find(id);
        if (storedIt != st.certificates.end() && storedIt->second.chainMode == ChainMode::Manual) {
            for (const auto& issuer : storedIt->second.manualChain)
                if (certificates_.count(issuer))
                    chain.push_back(issuer);
        } else {
            CertificateEntry* current = &entry;
            while (chain.size() < kMaxChainDepth) {
                auto cached = issuerOf_.find(current->id);
                if (cached == issuerOf_.end())
                    cached = issuerOf_.emplace(current->id, findIssuer(*current)).first;
                const std::string issuer = cached->second;
                if (issuer.empty() || issuer == id ||
                    std::find(chain.begin(), chain.end(), issuer) != chain.end())
                    break;
                chain.push_back(issuer);
                current = &certificates_.at(issuer);
            }
        }
        const CertificateEntry& top = chain.empty() ? entry : certificates_.at(chain.back());
        const bool complete = top.info.selfSigned;

        if (!keyId.empty())
            certificatesByKey_[keyId].push_back(id);
        // Warnings cost a parse of the certificate and its chain: redo them only when
        // their inputs changed (or the clock moved on, for refreshWarnings()).
        const bool fresh = changes.certificatesAdded.count(id) || changes.certificatesChanged.count(id);
        if (!allWarnings && !fresh && keyId == entry.keyId && chain == entry.chain &&
            complete == entry.chainComplete)
            continue;
        std::vector<pki::DescribedCertificate> issuers;
        for (const auto& issuer : chain) {
            const CertificateEntry& described = certificates_.at(issuer);
            issuers.push_back({&described.info, &described.traits});
        }
        auto warnings =
            pki::certificateWarnings({&entry.info, &entry.traits}, entry.kind, issuers, complete,
                                     pki::WarningContext{!keyId.empty(), now(), options_.expiringWithinDays});

        if (keyId != entry.keyId || chain != entry.chain || complete != entry.chainComplete ||
            warnings != entry.warnings) {
            if (!changes.certificatesAdded.count(id))
                changes.certificatesChanged.insert(id);
            if (keyId != entry.keyId) {
                for (const auto& k : {keyId, entry.keyId})
                    if (!k.empty() && keys_.count(k) && !changes.keysAdded.count(k))
                        changes.keysChanged.insert(k);
            }
        }
        entry.keyId = keyId;
        entry.chain = std::move(chain);
        entry.chainComplete = complete;
        entry.warnings = std::move(warnings);
    }
    writeDescriptionCache();
}

void Manager::refreshWarnings()
{
    Changes changes;
    recomputeDerived(changes, true);
    record(changes);
}

void Manager::setExpiringWithinDays(unsigned days)
{
    if (days == options_.expiringWithinDays)
        return;
    options_.expiringWithinDays = days;
    refreshWarnings();
}

const CertificateEntry& Manager::certificate(const std::string& id) const
{
    return findOrThrow(certificates_, id, "certificate");
}

const KeyEntry& Manager::key(const std::string& id) const
{
    return findOrThrow(keys_, id, "key");
}

const RequestEntry& Manager::request(const std::string& id) const
{
    return findOrThrow(requests_, id, "request");
}

const StoredRequest& Manager::storedRequest(const std::string& id) const
{
    return findOrThrow(store_.state().requests, id, "request");
}

namespace {

// The live entry, else the parked one, else NotFound.
template <typename Live, typename Parked>
const auto& liveOrParked(const Live& live, const Parked& parked, const std::string& id, const char* what)
{
    const auto it = live.find(id);
    if (it != live.end())
        return it->second;
    return findOrThrow(parked, id, what);
}

} // namespace

const CertificateEntry& Manager::shownCertificate(const std::string& id) const
{
    return liveOrParked(certificates_, parked_.certificates, id, "certificate");
}

const KeyEntry& Manager::shownKey(const std::string& id) const
{
    return liveOrParked(keys_, parked_.keys, id, "key");
}

const RequestEntry& Manager::shownRequest(const std::string& id) const
{
    return liveOrParked(requests_, parked_.requests, id, "request");
}

const StoredRequest& Manager::shownStoredRequest(const std::string& id) const
{
    return liveOrParked(store_.state().requests, parked_.storedRequests, id, "request");
}

std::vector<std::string> Manager::certificatesOfKey(const std::string& keyId) const
{
    const auto it = certificatesByKey_.find(keyId);
    return it == certificatesByKey_.end() ? std::vector<std::string>{} : it->second;
}

std::vector<std::string> Manager::requestsOfKey(const std::string& keyId) const
{
    std::vector<std::string> out;
    for (const auto& [id, stored] : store_.state().requests)
        if (stored.keyId == keyId)
            out.push_back(id);
    return out;
}

std::string Manager::friendlyName(const std::string& certificateId) const
{
    const auto& certs = store_.state().certificates;
    const auto it = certs.find(certificateId);
    if (it != certs.end())
        return it->second.friendlyName;
    const auto parked = parked_.storedCertificates.find(certificateId);
    return parked == parked_.storedCertificates.end() ? certificateId : parked->second.friendlyName;
}

ChainMode Manager::chainMode(const std::string& certificateId) const
{
    const auto& certs = store_.state().certificates;
    const auto it = certs.find(certificateId);
    if (it != certs.end())
        return it->second.chainMode;
    const auto parked = parked_.storedCertificates.find(certificateId);
    return parked == parked_.storedCertificates.end() ? ChainMode::Automatic : parked->second.chainMode;
}

std::string Manager::rootOf(const std::string& id) const
{
    const auto& entry = certificate(id);
    return entry.chain.empty() ? id : entry.chain.back();
}

void Manager::forgetRemoved(const StoreState& before, Changes& changes)
{
    const StoreState& after = store_.state();
    for (const auto& [id, stored] : before.certificates)
        if (!after.certificates.count(id)) {
            parked_.certificates[id] = forgetCertificate(id);
            parked_.storedCertificates[id] = stored;
            changes.certificatesRemoved.insert(id);
        }
    for (const auto& [id, stored] : before.keys)
        if (!after.keys.count(id)) {
            keyBySpki_.erase(keys_.at(id).spkiSha256);
            parked_.keys[id] = std::move(keys_.at(id));
            keys_.erase(id);
            changes.keysRemoved.insert(id);
        } else if (stored != after.keys.at(id)) {
            changes.keysChanged.insert(id);
        }
    for (const auto& [id, stored] : before.requests) {
        if (!after.requests.count(id)) {
            parked_.requests[id] = std::move(requests_.at(id));
            parked_.storedRequests[id] = stored;
            requests_.erase(id);
            changes.requestsRemoved.insert(id);
            if (keys_.count(stored.keyId))
                changes.keysChanged.insert(stored.keyId);
        } else if (stored != after.requests.at(id)) {
            changes.requestsChanged.insert(id);
        }
    }
}

void Manager::setTerminatorStatus(TerminatorState state, const std::string& error)
{
    if (state == terminatorState_ && error == terminatorError_)
        return;
    terminatorState_ = state;
    terminatorError_ = error;
    pending_.terminatorChanged = true;
}

} // namespace certd
