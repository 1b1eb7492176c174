// Manager: certificates — self-signed creation, the factory certificate, renaming, chains,
// deletion, export and what the terminator serves.

#include "manager/manager.hpp"

#include "error.hpp"

#include <algorithm>

namespace certd {

Manager::Created Manager::createSelfSigned(CreateSpec cs)
{
    PendingCreate pending = prepareCreate(std::move(cs), true);
    buildCreate(pending);
    return commitCreate(std::move(pending));
}

Manager::Created Manager::commitSelfSigned(PendingCreate& pending)
{
    const StoreState before = store_.state();
    const CreateSpec& cs = pending.spec;
    const ParsedKey& key = pending.key;
    ParsedCertificate& cert = pending.certificate;
    Created created = std::move(pending.created);

    Changes changes;
    auto tx = store_.begin();
    stageKey(tx, key, changes);
    tx.putCertificate(cert.id, pki::certificateDer(cert.cert.get()));
    tx.state().certificates[cert.id] =
        StoredCertificate{cs.spec.friendlyName.empty() ? cs.spec.subject.commonName : cs.spec.friendlyName,
                          ChainMode::Automatic,
                          {},
                          now()};
    const bool factory = tx.state().factoryCertificate.empty() ||
                         !tx.state().certificates.count(tx.state().factoryCertificate);
    if (factory)
        tx.state().factoryCertificate = cert.id;
    commit(std::move(tx));

    if (changes.keysAdded.count(key.id))
        addKeyEntry(key);
    created.id = cert.id;
    addCertificateEntry(std::move(cert));
    changes.certificatesAdded.insert(created.id);
    changes.factoryChanged = factory;
    recomputeDerived(changes);
    markBindingChanges(before, changes);
    record(changes);
    return created;
}

void Manager::ensureFactoryCertificate()
{
    const auto& st = store_.state();
    if (!st.factoryCertificate.empty() && certificates_.count(st.factoryCertificate))
        return;
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
    createSelfSigned(std::move(cs));
}

void Manager::setFriendlyName(const std::string& certificateId, const std::string& name)
{
    certificate(certificateId);
    if (name.empty() || name.size() > 256)
        throw Error(ErrorCode::InvalidArgument, "friendly_name: must be 1 to 256 characters");
    auto tx = store_.begin();
    tx.state().certificates[certificateId].friendlyName = name;
    commit(std::move(tx));
    Changes changes;
    changes.certificatesChanged.insert(certificateId);
    record(changes);
}

void Manager::setChain(const std::string& certificateId, ChainMode mode, ByteView pem)
{
    const auto& entry = certificate(certificateId);
    const StoreState before = store_.state();
    auto tx = store_.begin();
    auto& stored = tx.state().certificates[certificateId];
    Changes changes;
    std::vector<ParsedCertificate> issuers;
    if (mode == ChainMode::Automatic) {
        if (!pem.empty())
            throw Error(ErrorCode::InvalidArgument, "pem: must be empty in automatic mode");
        stored.manualChain.clear();
    } else {
        auto bundle = pki::parseImport(pem, Secret());
        if (!bundle.keys.empty())
            throw Error(ErrorCode::InvalidArgument, "pem: a chain holds certificates only, not keys");
        if (bundle.certificates.empty())
            throw Error(ErrorCode::InvalidArgument, "pem: the manual chain is empty");
        issuers.reserve(bundle.certificates.size()); // previousInfo points into it
        const pki::X509Ptr leaf = loadCertificate(certificateId);
        X509* previous = leaf.get();
        const pki::CertificateInfo* previousInfo = &entry.info;
        stored.manualChain.clear();
        for (auto& raw : bundle.certificates) {
            ParsedCertificate& cert = issuers.emplace_back(parseCertificate(std::move(raw)));
            if (!pki::issuedBy(previous, cert.cert.get()))
                throw Error(ErrorCode::InvalidCertificate, "pem: '" + cert.info.subject +
                                                               "' did not issue '" + previousInfo->subject +
                                                               "'; list issuers leaf-first");
            if (!tx.state().certificates.count(cert.id)) {
                tx.putCertificate(cert.id, pki::certificateDer(cert.cert.get()));
                tx.state().certificates[cert.id] =
                    StoredCertificate{cert.info.issuedTo, ChainMode::Automatic, {}, now()};
                changes.certificatesAdded.insert(cert.id);
            }
            stored.manualChain.push_back(cert.id);
            previous = cert.cert.get();
            previousInfo = &cert.info;
        }
    }
    stored.chainMode = mode;
    if (tx.state() == before)
        return;
    commit(std::move(tx));
    for (auto& cert : issuers)
        if (changes.certificatesAdded.count(cert.id) && !certificates_.count(cert.id))
            addCertificateEntry(std::move(cert));
    changes.certificatesChanged.insert(certificateId);
    recomputeDerived(changes);
    record(changes);
}

void Manager::deleteCertificate(const std::string& id)
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
    commit(std::move(tx));
    Changes changes;
    forgetRemoved(before, changes);
    recomputeDerived(changes);
    record(changes);
}

SecureBytes Manager::exportCertificate(const std::string& id, const ExportOptions& options) const
{
    return buildExport(prepareExport(id, options));
}

Manager::PendingExport Manager::prepareExport(const std::string& id, const ExportOptions& options) const
{
    const auto& entry = certificate(id);
    if (!options.includeCertificate && !options.includePrivateKey)
        throw Error(ErrorCode::InvalidArgument, "include_certificate: nothing to export");
    PendingExport pending;
    pending.options = options;
    pending.friendlyName = friendlyName(id);
    // Parsed from the store: the encryption may run on another thread while the entries are
    // read or deleted.
    if (options.includeCertificate) {
        pending.certificates.push_back(loadCertificate(id));
        if (options.includeChain)
            for (const auto& issuer : entry.chain)
                pending.certificates.push_back(loadCertificate(issuer));
    }
    if (options.includePrivateKey) {
        requirePrivateKey(entry);
        pending.key = loadPrivateKey(entry.keyId);
    }
    return pending;
}

SecureBytes Manager::buildExport(const PendingExport& pending)
{
    pki::ExportRequest request;
    request.format = pending.options.format;
    request.passphrase = pending.options.passphrase;
    request.friendlyName = pending.friendlyName;
    for (const auto& cert : pending.certificates)
        request.certificates.push_back(cert.get());
    request.key = pending.key.get();
    return pki::exportObjects(request);
}

std::string Manager::servedChainPem(const std::string& certificateId) const
{
    const auto& entry = certificate(certificateId);
    std::string pem = pki::certificatePem(loadCertificate(certificateId).get());
    for (const auto& issuer : entry.chain)
        pem += pki::certificatePem(loadCertificate(issuer).get());
    return pem;
}

SecureBytes Manager::privateKeyPkcs8(const std::string& certificateId) const
{
    const auto& entry = certificate(certificateId);
    requirePrivateKey(entry);
    return store_.keyPkcs8(entry.keyId);
}

void Manager::requirePrivateKey(const CertificateEntry& entry) const
{
    if (entry.keyId.empty())
        throw Error(ErrorCode::NoPrivateKey,
                    "certificate '" + friendlyName(entry.id) +
                        "' has no private key on this appliance; import the key or re-key");
}

} // namespace certd
