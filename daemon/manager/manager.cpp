#include "manager/manager.hpp"

#include "error.hpp"
#include "pki/key.hpp"
#include "text.hpp"

#include <algorithm>
#include <chrono>

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
    parsed.info = pki::describeCertificate(cert.get());
    parsed.id = parsed.info.fingerprintSha256.substr(0, pki::kIdLength);
    parsed.kind = pki::classify(cert.get());
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

Manager::Manager(Store& store, ManagerOptions options) : store_(store), options_(std::move(options))
{
    for (const auto& text : options_.configuredAddresses) {
        const auto canonical = canonicalIp(text, Brackets::Accept);
        if (!canonical)
            throw Error(ErrorCode::InvalidArgument, "addresses: '" + text + "' is not an IP address");
        addresses_[*canonical] =
            AddressEntry{*canonical, AddressOrigin::Configured, tls::ListenerState::Listening, {}};
    }
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
    for (const auto& [id, stored] : st.certificates)
        addCertificateEntry(parseCertificate(pki::certificateFromDer(store_.certificateDer(id))));
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

CertificateEntry& Manager::addCertificateEntry(ParsedCertificate parsed)
{
    CertificateEntry entry;
    entry.id = parsed.id;
    entry.info = std::move(parsed.info);
    entry.kind = parsed.kind;
    bySubjectHash_.emplace(X509_subject_name_hash(parsed.cert.get()), parsed.id);
    entry.cert = std::move(parsed.cert);
    // A new certificate may be the missing issuer of others: look again for those.
    std::erase_if(issuerOf_, [](const auto& item) { return item.second.empty(); });
    return certificates_[entry.id] = std::move(entry);
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

std::string Manager::findIssuer(const CertificateEntry& entry) const
{
    if (entry.info.selfSigned)
        return {};
    std::string best;
    const auto [first, last] = bySubjectHash_.equal_range(X509_issuer_name_hash(entry.cert.get()));
    for (auto it = first; it != last; ++it) {
        if (it->second == entry.id)
            continue;
        const auto& candidate = certificates_.at(it->second);
        if (!pki::issuedBy(entry.cert.get(), candidate.cert.get()))
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
            const CertificateEntry* current = &entry;
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
        pki::ChainResult result;
        result.complete = complete;
        for (const auto& issuer : chain)
            result.issuers.push_back(certificates_.at(issuer).cert.get());
        auto warnings =
            pki::certificateWarnings(entry.cert.get(), entry.info, result,
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
}

void Manager::refreshWarnings()
{
    Changes changes;
    recomputeDerived(changes, true);
    record(changes);
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
    return it == certs.end() ? certificateId : it->second.friendlyName;
}

ChainMode Manager::chainMode(const std::string& certificateId) const
{
    const auto& certs = store_.state().certificates;
    const auto it = certs.find(certificateId);
    return it == certs.end() ? ChainMode::Automatic : it->second.chainMode;
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
            const auto it = certificates_.find(id);
            const auto [first, last] =
                bySubjectHash_.equal_range(X509_subject_name_hash(it->second.cert.get()));
            for (auto h = first; h != last; ++h)
                if (h->second == id) {
                    bySubjectHash_.erase(h);
                    break;
                }
            certificates_.erase(it);
            const std::string& removed =
                id; // (a structured binding: lambdas capture it by name only from C++20's clang 16)
            std::erase_if(issuerOf_,
                          [&](const auto& item) { return item.first == removed || item.second == removed; });
            changes.certificatesRemoved.insert(id);
        }
    for (const auto& [id, stored] : before.keys)
        if (!after.keys.count(id)) {
            keyBySpki_.erase(keys_.at(id).spkiSha256);
            keys_.erase(id);
            changes.keysRemoved.insert(id);
        } else if (stored != after.keys.at(id)) {
            changes.keysChanged.insert(id);
        }
    for (const auto& [id, stored] : before.requests) {
        if (!after.requests.count(id)) {
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
