#include "manager.hpp"

#include "error.hpp"
#include "fetch.hpp"
#include "pki/import.hpp"
#include "pki/key.hpp"

#include <openssl/rand.h>

#include <arpa/inet.h>

#include <algorithm>
#include <chrono>

namespace certd {
namespace {

constexpr std::size_t kMaxChainDepth = 10;

std::string randomRequestId()
{
    std::uint8_t bytes[8];
    if (RAND_bytes(bytes, sizeof(bytes)) != 1)
        throwOpenSsl(ErrorCode::Internal, "cannot draw a request id");
    return pki::toHex(bytes);
}

std::string lower(std::string s)
{
    std::transform(s.begin(), s.end(), s.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

// RFC 6125 §6.4: a wildcard is the whole leftmost label and matches exactly one label.
bool dnsNameMatches(const std::string& pattern, const std::string& host)
{
    const std::string p = lower(pattern), h = lower(host);
    if (p.rfind("*.", 0) != 0)
        return p == h;
    const auto dot = h.find('.');
    if (dot == std::string::npos || dot == 0)
        return false;
    return h.substr(dot) == p.substr(1);
}

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

std::string severityOf(const std::string& code)
{
    using namespace pki::warning;
    if (code == kExpired || code == kNotYetValid || code == kNoPrivateKey)
        return "error";
    return "warning";
}

} // namespace

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
                                {&addressesChanged, &o.addressesChanged}})
        mine->insert(theirs->begin(), theirs->end());
    factoryChanged = factoryChanged || o.factoryChanged;
}

bool Changes::empty() const
{
    return certificatesAdded.empty() && certificatesRemoved.empty() && certificatesChanged.empty() &&
           keysAdded.empty() && keysRemoved.empty() && keysChanged.empty() && requestsAdded.empty() &&
           requestsRemoved.empty() && requestsChanged.empty() && addressesAdded.empty() &&
           addressesRemoved.empty() && addressesChanged.empty() && !factoryChanged;
}

Manager::Manager(Store& store, ManagerOptions options) : store_(store), options_(std::move(options))
{
    for (const auto& text : options_.configuredAddresses) {
        const auto canonical = canonicalAddress(text);
        if (!canonical)
            throw Error(ErrorCode::InvalidArgument, "addresses: '" + text + "' is not an IP address");
        addresses_[*canonical] = AddressEntry{*canonical, "configured", "listening", {}};
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

std::optional<std::string> Manager::canonicalAddress(const std::string& text)
{
    std::string s = text;
    if (s.size() > 2 && s.front() == '[' && s.back() == ']')
        s = s.substr(1, s.size() - 2);
    unsigned char buf[sizeof(in6_addr)];
    char out[INET6_ADDRSTRLEN];
    if (inet_pton(AF_INET, s.c_str(), buf) == 1)
        return std::string(inet_ntop(AF_INET, buf, out, sizeof(out)));
    if (inet_pton(AF_INET6, s.c_str(), buf) == 1)
        return std::string(inet_ntop(AF_INET6, buf, out, sizeof(out)));
    return std::nullopt;
}

void Manager::loadFromStore()
{
    const StoreState& st = store_.state();
    for (const auto& [id, stored] : st.keys) {
        const auto pkcs8 = store_.keyPkcs8(id);
        addKeyEntry(id, pki::privateKeyFromPkcs8Der(pkcs8).get());
    }
    for (const auto& [id, stored] : st.certificates)
        addCertificateEntry(id, pki::certificateFromDer(store_.certificateDer(id)));
    for (const auto& [id, stored] : st.requests)
        addRequestEntry(id, store_.requestPem(id));
    Changes ignored;
    recomputeDerived(ignored, true);
}

CertificateEntry& Manager::addCertificateEntry(const std::string& id, pki::X509Ptr cert)
{
    CertificateEntry entry;
    entry.id = id;
    entry.info = pki::describeCertificate(cert.get());
    entry.kind = pki::classify(cert.get());
    bySubjectHash_.emplace(X509_subject_name_hash(cert.get()), id);
    entry.cert = std::move(cert);
    // A new certificate may be the missing issuer of others: look again for those.
    std::erase_if(issuerOf_, [](const auto& item) { return item.second.empty(); });
    return certificates_[id] = std::move(entry);
}

void Manager::addKeyEntry(const std::string& id, EVP_PKEY* key)
{
    KeyEntry entry{id, pki::keyAlgorithm(key), static_cast<unsigned>(pki::keyBits(key)),
                   pki::spkiSha256Hex(key)};
    keyBySpki_[entry.spkiSha256] = id;
    keys_[id] = std::move(entry);
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
        if (storedIt != st.certificates.end() && storedIt->second.chainMode == "manual") {
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
            pki::certificateWarnings(entry.cert.get(), result,
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

Changes Manager::refreshWarnings()
{
    Changes changes;
    recomputeDerived(changes, true);
    return changes;
}

namespace {
template <typename Map>
const typename Map::mapped_type& findOrThrow(const Map& map, const std::string& id, const char* what)
{
    const auto it = map.find(id);
    if (it == map.end())
        throw Error(ErrorCode::NotFound, std::string("no ") + what + " '" + id + "'");
    return it->second;
}
} // namespace

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

const AddressEntry& Manager::address(const std::string& text) const
{
    std::string canonical;
    return addresses_.at(requireAddress(text, canonical));
}

const std::string& Manager::requireAddress(const std::string& text, std::string& canonical) const
{
    const auto c = canonicalAddress(text);
    if (!c)
        throw Error(ErrorCode::InvalidArgument, "address: '" + text + "' is not an IP address");
    if (!addresses_.count(*c))
        throw Error(ErrorCode::NotFound,
                    "address " + *c + " is not an appliance address (configure it or let discovery find it)");
    canonical = *c;
    return canonical;
}

void Manager::requirePrivateKey(const CertificateEntry& entry) const
{
    if (entry.keyId.empty())
        throw Error(ErrorCode::NoPrivateKey,
                    "certificate '" + friendlyName(entry.id) +
                        "' has no private key on this appliance; import the key or re-key");
}

std::string Manager::certificateForAddress(const std::string& address) const
{
    const auto& bindings = store_.state().bindings;
    const auto it = bindings.find(address);
    if (it != bindings.end() && certificates_.count(it->second))
        return it->second;
    return store_.state().factoryCertificate;
}

std::vector<std::string> Manager::addressesOf(const std::string& certificateId) const
{
    std::vector<std::string> out;
    for (const auto& [address, entry] : addresses_)
        if (certificateForAddress(address) == certificateId)
            out.push_back(address);
    return out;
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

pki::EvpPkeyPtr Manager::loadPrivateKey(const std::string& keyId) const
{
    key(keyId); // NotFound for unknown ids
    const auto pkcs8 = store_.keyPkcs8(keyId);
    return pki::privateKeyFromPkcs8Der(pkcs8);
}

void Manager::markBindingChanges(const StoreState& before, Changes& changes)
{
    const StoreState& after = store_.state();
    for (const auto& [address, entry] : addresses_) {
        auto served = [&](const StoreState& s) {
            const auto it = s.bindings.find(address);
            return it != s.bindings.end() && certificates_.count(it->second) ? it->second
                                                                             : s.factoryCertificate;
        };
        const std::string was = served(before), is = served(after);
        if (was == is)
            continue;
        changes.addressesChanged.insert(address);
        for (const auto& id : {was, is})
            if (certificates_.count(id) && !changes.certificatesAdded.count(id))
                changes.certificatesChanged.insert(id);
    }
}

pki::EvpPkeyPtr Manager::prepareCreate(CreateSpec& cs, Created& created) const
{
    if (cs.copyFrom) {
        const auto& source = certificate(*cs.copyFrom);
        copySubject(source.cert.get(), source.info, cs.spec);
        if (cs.spec.friendlyName.empty())
            cs.spec.friendlyName = friendlyName(source.id) + " (re-key)";
    }
    created.warnings = pki::validateSpec(cs.spec);
    if (!cs.keyId && !cs.spec.keyType)
        throw Error(ErrorCode::InvalidArgument, "key_type: give key_type (e.g. rsa2048), key or copy_from");
    auto key = cs.keyId ? loadPrivateKey(*cs.keyId) : pki::generateKey(*cs.spec.keyType);
    if (auto limited = pki::limitedClientsWarning(key.get()))
        created.warnings.push_back(std::move(*limited));
    return key;
}

void Manager::stageKey(Store::Transaction& tx, const std::string& keyId, EVP_PKEY* key,
                       Changes& changes) const
{
    if (tx.state().keys.count(keyId)) {
        changes.keysChanged.insert(keyId); // its Certificates / Requests grow
        return;
    }
    tx.putKey(keyId, pki::privateKeyToPkcs8Der(key));
    tx.state().keys[keyId] = StoredKey{now()};
    changes.keysAdded.insert(keyId);
}

Manager::Created Manager::createSelfSigned(CreateSpec cs)
{
    const StoreState before = store_.state();
    Created created;
    const auto key = prepareCreate(cs, created);
    auto cert = pki::createSelfSigned(cs.spec, key.get());
    const std::string id = pki::certificateId(cert.get());
    const std::string keyId = pki::keyId(key.get());

    auto tx = store_.begin();
    stageKey(tx, keyId, key.get(), created.changes);
    tx.putCertificate(id, pki::certificateDer(cert.get()));
    tx.state().certificates[id] =
        StoredCertificate{cs.spec.friendlyName.empty() ? cs.spec.subject.commonName : cs.spec.friendlyName,
                          "automatic",
                          {},
                          now()};
    const bool factory = tx.state().factoryCertificate.empty() ||
                         !tx.state().certificates.count(tx.state().factoryCertificate);
    if (factory)
        tx.state().factoryCertificate = id;
    store_.commit(std::move(tx));

    if (created.changes.keysAdded.count(keyId))
        addKeyEntry(keyId, key.get());
    addCertificateEntry(id, std::move(cert));
    created.changes.certificatesAdded.insert(id);
    created.changes.factoryChanged = factory;
    recomputeDerived(created.changes);
    markBindingChanges(before, created.changes);
    created.id = id;
    return created;
}

Changes Manager::ensureFactoryCertificate()
{
    const auto& st = store_.state();
    if (!st.factoryCertificate.empty() && certificates_.count(st.factoryCertificate))
        return {};
    CreateSpec cs;
    cs.spec = options_.factorySpec;
    cs.spec.keyType = options_.factoryKeyType;
    if (cs.spec.friendlyName.empty())
        cs.spec.friendlyName = "Appliance";
    // A host name without dots ("vm") is not promoted to a SAN by validateSpec; the
    // factory certificate names the appliance, so give clients a SAN to match.
    const auto& cn = cs.spec.subject.commonName;
    if (cs.spec.subjectAltNames.empty() && pki::isValidDnsName(cn, false))
        cs.spec.subjectAltNames.push_back({pki::SubjectAltName::Type::Dns, cn});
    // createSelfSigned makes the first certificate without a valid factory the factory one.
    return createSelfSigned(std::move(cs)).changes;
}

Manager::Created Manager::createRequest(CreateSpec cs)
{
    Created created;
    const auto key = prepareCreate(cs, created);
    auto req = pki::createRequest(cs.spec, key.get());
    std::string pem = pki::requestPem(req.get());
    const std::string id = randomRequestId();
    const std::string keyId = pki::keyId(key.get());

    auto tx = store_.begin();
    stageKey(tx, keyId, key.get(), created.changes);
    tx.putRequest(id, pem);
    tx.state().requests[id] =
        StoredRequest{cs.spec.friendlyName.empty() ? cs.spec.subject.commonName : cs.spec.friendlyName,
                      keyId,
                      "pending",
                      {},
                      now()};
    store_.commit(std::move(tx));

    if (created.changes.keysAdded.count(keyId))
        addKeyEntry(keyId, key.get());
    addRequestEntry(id, std::move(pem));
    created.changes.requestsAdded.insert(id);
    created.id = id;
    return created;
}

Manager::Imported Manager::importData(pki::ByteView data, const pki::Secret& passphrase,
                                      const std::string& friendlyName)
{
    auto bundle = pki::parseImport(data, passphrase);
    const StoreState before = store_.state();
    Imported result;
    result.warnings = bundle.warnings;

    auto tx = store_.begin();
    StoreState& st = tx.state();
    std::map<std::string, std::string> spkiToKey = keyBySpki_; // including the keys in this file
    std::vector<std::pair<std::string, EVP_PKEY*>> newKeys;
    for (const auto& key : bundle.keys) {
        const std::string id = pki::keyId(key.get());
        result.keys.push_back(id);
        spkiToKey[pki::spkiSha256Hex(key.get())] = id;
        if (st.keys.count(id))
            continue;
        tx.putKey(id, pki::privateKeyToPkcs8Der(key.get()));
        st.keys[id] = StoredKey{now()};
        newKeys.emplace_back(id, key.get());
    }

    // The friendly name goes to the file's end-entity certificate (the first non-CA one).
    std::string namedId;
    for (const auto& cert : bundle.certificates)
        if (namedId.empty() && pki::classify(cert.get()) == pki::CertificateKind::Server)
            namedId = pki::certificateId(cert.get());
    if (namedId.empty() && !bundle.certificates.empty())
        namedId = pki::certificateId(bundle.certificates.front().get());

    std::set<std::string> keysLinked;
    std::vector<std::pair<std::string, X509*>> newCerts;
    for (const auto& cert : bundle.certificates) {
        const std::string id = pki::certificateId(cert.get());
        result.certificates.push_back(id);
        const std::string spki = pki::spkiSha256Hex(X509_get0_pubkey(cert.get()));
        const auto keyIt = spkiToKey.find(spki);
        if (keyIt != spkiToKey.end()) {
            keysLinked.insert(keyIt->second);
            // The signed certificate for a pending request with this key completes it.
            if (pki::classify(cert.get()) == pki::CertificateKind::Server)
                for (auto& [requestId, request] : st.requests)
                    if (request.keyId == keyIt->second && request.state == "pending") {
                        request.state = "completed";
                        request.certificateId = id;
                        result.requests.push_back(requestId);
                    }
        }
        if (st.certificates.count(id)) {
            if (id == namedId && !friendlyName.empty())
                st.certificates[id].friendlyName = friendlyName;
            continue;
        }
        tx.putCertificate(id, pki::certificateDer(cert.get()));
        const auto info = pki::describeCertificate(cert.get());
        st.certificates[id] = StoredCertificate{
            id == namedId && !friendlyName.empty() ? friendlyName : info.issuedTo, "automatic", {}, now()};
        newCerts.emplace_back(id, cert.get());
    }
    for (const auto& [id, key] : newKeys) {
        const bool usedByRequest = std::any_of(st.requests.begin(), st.requests.end(),
                                               [&](const auto& r) { return r.second.keyId == id; });
        const std::string spki = pki::spkiSha256Hex(key);
        const bool usedByStored = std::any_of(certificates_.begin(), certificates_.end(), [&](const auto& c) {
            return c.second.info.spkiSha256 == spki;
        });
        if (!keysLinked.count(id) && !usedByRequest && !usedByStored)
            result.warnings.push_back(
                {"key-unmatched", "the imported key " + id.substr(0, 12) +
                                      "… matches no certificate or request yet; import its "
                                      "certificate to use it"});
    }
    store_.commit(std::move(tx));

    for (const auto& [id, key] : newKeys) {
        addKeyEntry(id, key);
        result.changes.keysAdded.insert(id);
    }
    for (const auto& [id, cert] : newCerts) {
        X509_up_ref(cert);
        addCertificateEntry(id, pki::X509Ptr(cert));
        result.changes.certificatesAdded.insert(id);
    }
    for (const auto& id : result.requests)
        result.changes.requestsChanged.insert(id);
    if (!friendlyName.empty() && !namedId.empty() && !result.changes.certificatesAdded.count(namedId))
        result.changes.certificatesChanged.insert(namedId);
    recomputeDerived(result.changes);
    markBindingChanges(before, result.changes);
    return result;
}

Manager::Bound Manager::assign(const std::string& address, const std::string& certificateId, bool force)
{
    std::string canonical;
    requireAddress(address, canonical);
    requirePrivateKey(certificate(certificateId));
    Bound bound;
    bound.warnings = preflight(certificateId, {canonical}, {}, force);
    const StoreState before = store_.state();
    auto tx = store_.begin();
    if (certificateId == before.factoryCertificate)
        tx.state().bindings.erase(canonical);
    else
        tx.state().bindings[canonical] = certificateId;
    if (tx.state() == before)
        return bound;
    store_.commit(std::move(tx));
    markBindingChanges(before, bound.changes);
    return bound;
}

Manager::Bound Manager::setAddresses(const std::string& certificateId,
                                     const std::vector<std::string>& addresses, bool force)
{
    requirePrivateKey(certificate(certificateId));
    std::set<std::string> wanted;
    for (const auto& a : addresses) {
        std::string canonical;
        wanted.insert(requireAddress(a, canonical));
    }
    Bound bound;
    bound.warnings = preflight(certificateId, {wanted.begin(), wanted.end()}, {}, force);
    const StoreState before = store_.state();
    auto tx = store_.begin();
    auto& bindings = tx.state().bindings;
    if (certificateId == before.factoryCertificate) {
        for (const auto& a : addressesOf(certificateId))
            if (!wanted.count(a))
                throw Error(ErrorCode::InvalidArgument,
                            "addresses: the factory certificate serves every unassigned address; assign " +
                                a + " to another certificate instead of removing it here");
        for (const auto& a : wanted)
            bindings.erase(a);
    } else {
        std::erase_if(bindings,
                      [&](const auto& b) { return b.second == certificateId && !wanted.count(b.first); });
        for (const auto& a : wanted)
            bindings[a] = certificateId;
    }
    if (tx.state() == before)
        return bound;
    store_.commit(std::move(tx));
    markBindingChanges(before, bound.changes);
    return bound;
}

Manager::Bound Manager::replaceCertificate(const std::string& oldId, const std::string& newId, bool force)
{
    const auto& oldEntry = certificate(oldId);
    const auto& newEntry = certificate(newId);
    requirePrivateKey(newEntry);
    if (oldId == newId)
        throw Error(ErrorCode::InvalidArgument, "new_certificate: it is the same as old_certificate");
    // A renewal must answer for every name the old certificate answered for.
    std::vector<Finding> extra;
    for (const auto& [type, value] : oldEntry.info.subjectAlternativeNames) {
        const bool covered = std::any_of(
            newEntry.info.subjectAlternativeNames.begin(), newEntry.info.subjectAlternativeNames.end(),
            [&](const auto& san) {
                if (type == "IP")
                    return san.first == "IP" && canonicalAddress(san.second) == canonicalAddress(value);
                return san.first == "DNS" &&
                       (lower(san.second) == lower(value) || dnsNameMatches(san.second, value));
            });
        if (!covered)
            extra.push_back({"error", "san-not-covered",
                             "the new certificate does not cover " + type + ":" + value +
                                 ", which the old one did; clients using that name would fail"});
    }
    Bound bound;
    bound.moved = addressesOf(oldId);
    bound.warnings = preflight(newId, bound.moved, std::move(extra), force);
    const StoreState before = store_.state();
    auto tx = store_.begin();
    for (const auto& a : bound.moved) {
        if (newId == before.factoryCertificate)
            tx.state().bindings.erase(a);
        else
            tx.state().bindings[a] = newId;
    }
    if (tx.state() == before)
        return bound;
    store_.commit(std::move(tx));
    markBindingChanges(before, bound.changes);
    return bound;
}

std::string Manager::rootOf(const std::string& id) const
{
    const auto& entry = certificate(id);
    return entry.chain.empty() ? id : entry.chain.back();
}

std::vector<Finding> Manager::findingsOf(const CertificateEntry& entry) const
{
    std::vector<Finding> findings;
    for (const auto& w : entry.warnings)
        findings.push_back({severityOf(w.code), w.code, w.text});
    return findings;
}

std::vector<Finding> Manager::rootChanges(const std::string& id,
                                          const std::vector<std::string>& addresses) const
{
    std::vector<Finding> findings;
    const std::string root = rootOf(id);
    for (const auto& address : addresses) {
        const std::string serving = certificateForAddress(address);
        if (serving.empty() || serving == id || !certificates_.count(serving) || rootOf(serving) == root)
            continue;
        findings.push_back({"warning", "root-changed",
                            address + " is served under root '" + certificate(rootOf(serving)).info.subject +
                                "'; this certificate chains to '" + certificate(root).info.subject +
                                "': clients that pinned the old root will fail to connect"});
    }
    return findings;
}

std::vector<pki::Warning> Manager::preflight(const std::string& id, const std::vector<std::string>& addresses,
                                             std::vector<Finding> findings, bool force) const
{
    for (auto& f : findingsOf(certificate(id)))
        findings.push_back(std::move(f));
    for (auto& f : rootChanges(id, addresses))
        findings.push_back(std::move(f));
    std::string errors;
    std::vector<pki::Warning> warnings;
    for (const auto& f : findings) {
        if (f.severity == "error" && !force)
            errors += (errors.empty() ? "" : "; ") + f.code + ": " + f.text;
        else
            warnings.push_back({f.code, f.text});
    }
    if (!errors.empty())
        throw Error(ErrorCode::CheckFailed,
                    "pre-flight check failed: " + errors + " (pass force to override)");
    return warnings;
}

Changes Manager::setFriendlyName(const std::string& certificateId, const std::string& name)
{
    certificate(certificateId);
    if (name.empty() || name.size() > 256)
        throw Error(ErrorCode::InvalidArgument, "friendly_name: must be 1 to 256 characters");
    auto tx = store_.begin();
    tx.state().certificates[certificateId].friendlyName = name;
    store_.commit(std::move(tx));
    Changes changes;
    changes.certificatesChanged.insert(certificateId);
    return changes;
}

Changes Manager::setChain(const std::string& certificateId, const std::string& mode, pki::ByteView pem)
{
    const auto& entry = certificate(certificateId);
    const StoreState before = store_.state();
    auto tx = store_.begin();
    auto& stored = tx.state().certificates[certificateId];
    Changes changes;
    if (mode == "automatic") {
        if (!pem.empty())
            throw Error(ErrorCode::InvalidArgument, "pem: must be empty in automatic mode");
        stored.chainMode = "automatic";
        stored.manualChain.clear();
    } else if (mode == "manual") {
        auto bundle = pki::parseImport(pem, pki::Secret());
        if (!bundle.keys.empty())
            throw Error(ErrorCode::InvalidArgument, "pem: a chain holds certificates only, not keys");
        if (bundle.certificates.empty())
            throw Error(ErrorCode::InvalidArgument, "pem: the manual chain is empty");
        X509* previous = entry.cert.get();
        stored.manualChain.clear();
        for (auto& cert : bundle.certificates) {
            if (!pki::issuedBy(previous, cert.get()))
                throw Error(ErrorCode::InvalidCertificate,
                            "pem: '" + pki::describeCertificate(cert.get()).subject + "' did not issue '" +
                                pki::describeCertificate(previous).subject + "'; list issuers leaf-first");
            const std::string id = pki::certificateId(cert.get());
            if (!tx.state().certificates.count(id)) {
                tx.putCertificate(id, pki::certificateDer(cert.get()));
                tx.state().certificates[id] =
                    StoredCertificate{pki::describeCertificate(cert.get()).issuedTo, "automatic", {}, now()};
                changes.certificatesAdded.insert(id);
            }
            stored.manualChain.push_back(id);
            previous = cert.get();
        }
        stored.chainMode = "manual";
        store_.commit(std::move(tx));
        for (auto& cert : bundle.certificates) {
            const std::string id = pki::certificateId(cert.get());
            if (changes.certificatesAdded.count(id) && !certificates_.count(id))
                addCertificateEntry(id, std::move(cert));
        }
        changes.certificatesChanged.insert(certificateId);
        recomputeDerived(changes);
        return changes;
    } else {
        throw Error(ErrorCode::InvalidArgument, "mode: must be 'automatic' or 'manual'");
    }
    if (tx.state() == before)
        return changes;
    store_.commit(std::move(tx));
    changes.certificatesChanged.insert(certificateId);
    recomputeDerived(changes);
    return changes;
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
            std::erase_if(issuerOf_, [&](const auto& item) { return item.first == id || item.second == id; });
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

void Manager::dropUnusedKeys(StoreState& state, const std::set<std::string>& candidates)
{
    for (const auto& keyId : candidates) {
        const bool usedByRequest = std::any_of(state.requests.begin(), state.requests.end(),
                                               [&](const auto& r) { return r.second.keyId == keyId; });
        if (!usedByRequest)
            state.keys.erase(keyId);
    }
}

Changes Manager::deleteCertificate(const std::string& id)
{
    const auto& entry = certificate(id);
    const StoreState before = store_.state();
    if (id == before.factoryCertificate)
        throw Error(ErrorCode::InUse, "the factory default certificate cannot be deleted");
    for (const auto& [address, bound] : before.bindings)
        if (bound == id)
            throw Error(ErrorCode::InUse, "certificate '" + friendlyName(id) + "' serves " + address +
                                              "; assign that address to another certificate first");
    for (const auto& [other, stored] : before.certificates)
        if (std::find(stored.manualChain.begin(), stored.manualChain.end(), id) != stored.manualChain.end())
            throw Error(ErrorCode::InUse,
                        "certificate is in the manual chain of '" + stored.friendlyName + "'");
    auto tx = store_.begin();
    auto& st = tx.state();
    st.certificates.erase(id);
    for (auto& [requestId, request] : st.requests)
        if (request.certificateId == id)
            request.certificateId.clear();
    // The key goes with its last certificate unless a request or another certificate still uses it.
    if (!entry.keyId.empty()) {
        const bool otherCertificate =
            std::any_of(certificates_.begin(), certificates_.end(),
                        [&](const auto& c) { return c.first != id && c.second.keyId == entry.keyId; });
        if (!otherCertificate)
            dropUnusedKeys(st, {entry.keyId});
    }
    store_.commit(std::move(tx));
    Changes changes;
    forgetRemoved(before, changes);
    recomputeDerived(changes);
    return changes;
}

Changes Manager::deleteKey(const std::string& id)
{
    key(id);
    const auto certs = certificatesOfKey(id);
    const auto reqs = requestsOfKey(id);
    if (!certs.empty() || !reqs.empty())
        throw Error(ErrorCode::InUse, "key is used by " + std::to_string(certs.size()) +
                                          " certificate(s) and " + std::to_string(reqs.size()) +
                                          " request(s); delete those first");
    const StoreState before = store_.state();
    auto tx = store_.begin();
    tx.state().keys.erase(id);
    store_.commit(std::move(tx));
    Changes changes;
    forgetRemoved(before, changes);
    return changes;
}

Changes Manager::deleteRequest(const std::string& id)
{
    request(id);
    const StoreState before = store_.state();
    auto tx = store_.begin();
    const std::string keyId = tx.state().requests.at(id).keyId;
    tx.state().requests.erase(id);
    if (certificatesOfKey(keyId).empty())
        dropUnusedKeys(tx.state(), {keyId});
    store_.commit(std::move(tx));
    Changes changes;
    forgetRemoved(before, changes);
    return changes;
}

pki::SecureBytes Manager::exportCertificate(const std::string& id, const ExportOptions& options) const
{
    const auto& entry = certificate(id);
    if (!options.includeCertificate && !options.includePrivateKey)
        throw Error(ErrorCode::InvalidArgument, "include_certificate: nothing to export");
    pki::ExportRequest request;
    request.format = options.format;
    request.passphrase = options.passphrase;
    request.friendlyName = friendlyName(id);
    if (options.includeCertificate) {
        request.certificates.push_back(entry.cert.get());
        if (options.includeChain)
            for (const auto& issuer : entry.chain)
                request.certificates.push_back(certificates_.at(issuer).cert.get());
    }
    pki::EvpPkeyPtr key;
    if (options.includePrivateKey) {
        requirePrivateKey(entry);
        key = loadPrivateKey(entry.keyId);
        request.key = key.get();
    }
    return pki::exportObjects(request);
}

std::vector<Finding> Manager::check(const std::string& id, const std::vector<std::string>& hostnames) const
{
    const auto& entry = certificate(id);
    std::vector<Finding> findings;
    for (const auto& host : hostnames) {
        const auto ip = canonicalAddress(host);
        const bool covered =
            std::any_of(entry.info.subjectAlternativeNames.begin(), entry.info.subjectAlternativeNames.end(),
                        [&](const auto& san) {
                            if (ip)
                                return san.first == "IP" && canonicalAddress(san.second) == ip;
                            return san.first == "DNS" && dnsNameMatches(san.second, host);
                        });
        if (!covered)
            findings.push_back({"error", "hostname-not-covered",
                                "'" + host + "' is not among the certificate's subject alternative names"});
    }
    for (auto& f : findingsOf(entry))
        findings.push_back(std::move(f));
    std::vector<std::string> served;
    for (const auto& [address, unused] : addresses_)
        served.push_back(address);
    // Check moves nothing: a different root is information here; Assign warns about it.
    for (auto& f : rootChanges(id, served)) {
        f.severity = "info";
        findings.push_back(std::move(f));
    }
    return findings;
}

Changes Manager::addressAppeared(const std::string& text)
{
    Changes changes;
    const auto canonical = canonicalAddress(text);
    if (!canonical || addresses_.count(*canonical))
        return changes;
    addresses_[*canonical] = AddressEntry{*canonical, "discovered", "listening", {}};
    changes.addressesAdded.insert(*canonical);
    const std::string serving = certificateForAddress(*canonical);
    if (certificates_.count(serving))
        changes.certificatesChanged.insert(serving);
    return changes;
}

Changes Manager::addressVanished(const std::string& text)
{
    Changes changes;
    const auto canonical = canonicalAddress(text);
    if (!canonical)
        return changes;
    const auto it = addresses_.find(*canonical);
    if (it == addresses_.end() || it->second.origin != "discovered")
        return changes;
    const std::string serving = certificateForAddress(*canonical);
    addresses_.erase(it);
    // The binding stays in the store: when the address comes back it serves the same certificate.
    changes.addressesRemoved.insert(*canonical);
    if (certificates_.count(serving))
        changes.certificatesChanged.insert(serving);
    return changes;
}

} // namespace certd

namespace certd {

Manager::Fetched Manager::fetchIssuers(const std::string& id)
{
    constexpr std::size_t kMaxFetchHops = 5;
    // Every hop shares one budget, so a call ends well inside the 25 s D-Bus default.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    Fetched fetched;
    const auto& entry = certificate(id);
    if (entry.chainComplete)
        return fetched;
    const CertificateEntry& start = entry.chain.empty() ? entry : certificate(entry.chain.back());
    X509* top = start.cert.get();
    std::vector<std::string> urls = start.info.authorityInfoAccess;
    std::string topSubject = start.info.subject;
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
        limits.timeoutMs = std::min<long>(limits.timeoutMs, static_cast<long>(left.count()));
        const pki::Bytes data = options_.fetch ? options_.fetch(url) : fetchUrl(url, limits);
        pki::ImportedBundle bundle;
        try {
            bundle = pki::parseImport(data, pki::Secret());
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
    std::string pem;
    for (const auto& c : downloaded)
        pem += pki::certificatePem(c.get());
    auto imported = importData(pki::asBytes(pem), pki::Secret(), {});
    fetched.certificates = std::move(imported.certificates);
    fetched.changes = std::move(imported.changes);
    return fetched;
}

} // namespace certd

namespace certd {

std::string Manager::servedChainPem(const std::string& certificateId) const
{
    const auto& entry = certificate(certificateId);
    std::string pem = pki::certificatePem(entry.cert.get());
    for (const auto& issuer : entry.chain)
        pem += pki::certificatePem(certificates_.at(issuer).cert.get());
    return pem;
}

pki::SecureBytes Manager::privateKeyPkcs8(const std::string& certificateId) const
{
    const auto& entry = certificate(certificateId);
    requirePrivateKey(entry);
    return store_.keyPkcs8(entry.keyId);
}

Changes Manager::setAddressStatus(const std::string& address, const std::string& state,
                                  const std::string& error)
{
    Changes changes;
    const auto it = addresses_.find(address);
    if (it == addresses_.end() || (it->second.state == state && it->second.error == error))
        return changes;
    it->second.state = state;
    it->second.error = error;
    changes.addressesChanged.insert(address);
    return changes;
}

} // namespace certd
