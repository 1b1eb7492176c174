#include "arguments.hpp"
#include "objects.hpp"

namespace certd::bus {

CertificateObject::CertificateObject(sdbus::IConnection& connection, Service& service, std::string id)
    : AdaptorInterfaces(connection, certificatePath(id)), service_(service), id_(std::move(id))
{
    registerAdaptor();
}

CertificateObject::~CertificateObject()
{
    unregisterAdaptor();
}

void CertificateObject::emitChanged()
{
    emitPropertiesChangedSignal(org::certd1::Certificate_adaptor::INTERFACE_NAME,
                                {"FriendlyName", "Key", "HasPrivateKey", "Chain", "ChainMode", "Warnings",
                                 "Addresses", "IsFactoryDefault"});
}

const CertificateEntry& CertificateObject::entry() const
{
    return service_.manager().shownCertificate(id_);
}

void CertificateObject::Export(sdbus::Result<std::vector<uint8_t>>&& result,
                               std::map<std::string, sdbus::Variant> options)
{
    Service& service = service_;
    const std::string id = id_;
    ExportOptions parsed;
    try {
        parsed = handleErrors([&] { return parseExportOptions(options); });
    } catch (const sdbus::Error& e) {
        result.returnError(e);
        return;
    }
    // Reading a certificate is open; taking its private key is a right of its own, and audited.
    const Right right = parsed.includePrivateKey ? Right::ExportPrivateKey : Right::Read;
    if (right == Right::Read && parsed.passphrase.empty()) {
        // Nothing slow: answered at once.
        try {
            const auto data = service.manager().exportCertificate(id, parsed);
            result.returnResults(std::vector<uint8_t>(data.begin(), data.end()));
        } catch (...) {
            result.returnError(currentBusError());
        }
        return;
    }
    // A key or a passphrase: encoding or encrypting (PKCS#12's KDF) runs on a worker.
    service.mutateLater({getObject(), lifeline()}, Pool::Cpu, "ExportPrivateKey", getObjectPath(), right,
                        std::move(result), [&] {
                            auto pending = std::make_shared<Manager::PendingExport>(
                                service.manager().prepareExport(id, parsed));
                            auto data = std::make_shared<SecureBytes>();
                            return SlowCall<std::tuple<std::vector<uint8_t>>>{
                                [pending, data] {
                                    *data = Manager::buildExport(*pending);
                                    pending->key.reset();
                                },
                                [data, &service, id] {
                                    // Deleted meanwhile: the deletion came first (NotFound), as for
                                    // FetchIssuer.
                                    service.manager().certificate(id);
                                    return std::tuple{std::vector<uint8_t>(data->begin(), data->end())};
                                }};
                        });
}

void CertificateObject::SetFriendlyName(sdbus::Result<>&& result, std::string friendlyName)
{
    service_.mutate({getObject(), lifeline()}, std::move(result), "SetFriendlyName", getObjectPath(),
                    Right::Manage, [&] { service_.manager().setFriendlyName(id_, friendlyName); });
}

void CertificateObject::SetAddresses(sdbus::Result<BusWarnings>&& result, std::vector<std::string> addresses,
                                     std::map<std::string, sdbus::Variant> options)
{
    service_.mutate({getObject(), lifeline()}, std::move(result), "SetAddresses", getObjectPath(),
                    Right::Manage, [&] {
                        const auto parsed = parseBindingOptions(options);
                        auto bound = service_.manager().setAddresses(id_, addresses, parsed.force);
                        if (parsed.flush)
                            service_.requestFlush();
                        return toBus(bound.warnings);
                    });
}

void CertificateObject::SetChain(sdbus::Result<>&& result, std::string mode, std::vector<uint8_t> pem)
{
    service_.mutate({getObject(), lifeline()}, std::move(result), "SetChain", getObjectPath(), Right::Manage,
                    [&] { service_.manager().setChain(id_, parseChainModeArgument(mode), pem); });
}

void CertificateObject::FetchIssuer(sdbus::Result<std::vector<sdbus::ObjectPath>>&& result)
{
    Service& service = service_;
    const std::string id = id_;
    service.mutateLater(
        {getObject(), lifeline()}, Pool::Fetch, "FetchIssuer", getObjectPath(), Right::Manage,
        std::move(result), [&] {
            // The downloads run on a worker; the issuers are imported at the commit.
            auto pending = std::make_shared<Manager::PendingFetch>(service.manager().prepareFetch(id));
            pending->cancel = &service.shuttingDown();
            return SlowCall<std::tuple<std::vector<sdbus::ObjectPath>>>{
                [pending] { Manager::buildFetch(*pending); },
                [pending, &service] {
                    std::vector<sdbus::ObjectPath> out;
                    for (const auto& issuer : service.manager().commitFetch(std::move(*pending)))
                        out.emplace_back(certificatePath(issuer));
                    return std::tuple{out};
                }};
        });
}

std::vector<sdbus::Struct<std::string, std::string, std::string>>
CertificateObject::Check(const std::vector<std::string>& hostnames)
{
    return handleErrors([&] {
        std::vector<sdbus::Struct<std::string, std::string, std::string>> out;
        for (const auto& f : service_.manager().check(id_, hostnames))
            out.emplace_back(std::string(severityName(f.severity)), f.code, f.text);
        return out;
    });
}

void CertificateObject::Delete(sdbus::Result<>&& result)
{
    // Copy: publishing the deletion retracts this object.
    Service& service = service_;
    const std::string id = id_;
    const std::string path = getObjectPath();
    service.mutate({getObject(), lifeline()}, std::move(result), "DeleteCertificate", path, Right::Manage,
                   [&] { service.manager().deleteCertificate(id); });
}

std::string CertificateObject::FriendlyName()
{
    return handleErrors([&] { return service_.manager().friendlyName(id_); });
}
std::string CertificateObject::Subject()
{
    return handleErrors([&] { return entry().info.subject; });
}
std::string CertificateObject::Issuer()
{
    return handleErrors([&] { return entry().info.issuer; });
}
std::string CertificateObject::IssuedTo()
{
    return handleErrors([&] { return entry().info.issuedTo; });
}
std::string CertificateObject::IssuedBy()
{
    return handleErrors([&] { return entry().info.issuedBy; });
}
std::string CertificateObject::SerialNumber()
{
    return handleErrors([&] { return entry().info.serialNumber; });
}
std::string CertificateObject::SignatureAlgorithm()
{
    return handleErrors([&] { return entry().info.signatureAlgorithm; });
}
uint64_t CertificateObject::NotBeforeUSec()
{
    return handleErrors([&] { return entry().info.notBeforeUSec; });
}
uint64_t CertificateObject::NotAfterUSec()
{
    return handleErrors([&] { return entry().info.notAfterUSec; });
}
std::string CertificateObject::PublicKey()
{
    return handleErrors([&] { return entry().info.publicKey; });
}
std::vector<sdbus::Struct<std::string, std::string>> CertificateObject::SubjectAlternativeNames()
{
    return handleErrors([&] { return toBus(entry().info.subjectAlternativeNames); });
}
std::vector<std::string> CertificateObject::AuthorityInfoAccess()
{
    return handleErrors([&] { return entry().info.authorityInfoAccess; });
}
std::string CertificateObject::FingerprintSHA256()
{
    return handleErrors([&] { return entry().info.fingerprintSha256; });
}

sdbus::ObjectPath CertificateObject::Key()
{
    return handleErrors([&] {
        const auto& keyId = entry().keyId;
        return sdbus::ObjectPath(keyId.empty() ? "/" : keyPath(keyId));
    });
}

bool CertificateObject::HasPrivateKey()
{
    return handleErrors([&] { return !entry().keyId.empty(); });
}
std::string CertificateObject::Kind()
{
    return handleErrors([&] { return std::string(pki::kindName(entry().kind)); });
}

std::vector<sdbus::ObjectPath> CertificateObject::Chain()
{
    return handleErrors([&] {
        std::vector<sdbus::ObjectPath> out;
        for (const auto& id : entry().chain)
            out.emplace_back(certificatePath(id));
        return out;
    });
}

std::string CertificateObject::ChainMode()
{
    return handleErrors([&] { return std::string(chainModeName(service_.manager().chainMode(id_))); });
}

BusWarnings CertificateObject::Warnings()
{
    return handleErrors([&] { return toBus(entry().warnings); });
}
std::vector<std::string> CertificateObject::Addresses()
{
    return handleErrors([&] { return service_.manager().addressesOf(id_); });
}
bool CertificateObject::IsFactoryDefault()
{
    return handleErrors([&] { return service_.manager().factoryCertificate() == id_; });
}

} // namespace certd::bus
