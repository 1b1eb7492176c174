// org.certd1.Certificate at /org/certd1/certificate/<id>: the handlers of its vtable.

#include "arguments.hpp"
#include "objects.hpp"
#include "tree.hpp"

namespace certd::bus {

namespace {

using Findings = std::vector<sdbus::Struct<std::string, std::string, std::string>>;

void exportCertificate(Call& call)
{
    std::map<std::string, sdbus::Variant> options;
    call.read(options);
    auto result = call.result<std::vector<uint8_t>>();
    Service& service = call.service;
    const std::string id = call.id;
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
    service.mutateLater(
        call.callee(), Pool::Cpu, "ExportPrivateKey", call.path, right, std::move(result), [&] {
            auto pending =
                std::make_shared<Manager::PendingExport>(service.manager().prepareExport(id, parsed));
            auto data = std::make_shared<SecureBytes>();
            return SlowCall<std::tuple<std::vector<uint8_t>>>{
                [pending, data] {
                    *data = Manager::buildExport(*pending);
                    pending->key.reset();
                },
                [data, &service, id] {
                    // Deleted meanwhile: the deletion came
                    // first (NotFound), as for FetchIssuer.
                    service.manager().certificate(id);
                    return std::tuple{std::vector<uint8_t>(data->begin(), data->end())};
                }};
        });
}

void setFriendlyName(Call& call)
{
    std::string friendlyName;
    call.read(friendlyName);
    call.service.mutate(call.callee(), call.result<>(), "SetFriendlyName", call.path, Right::Manage,
                        [&] { call.service.manager().setFriendlyName(call.id, friendlyName); });
}

void setAddresses(Call& call)
{
    std::vector<std::string> addresses;
    std::map<std::string, sdbus::Variant> options;
    call.read(addresses, options);
    call.service.mutate(
        call.callee(), call.result<BusWarnings>(), "SetAddresses", call.path, Right::Manage, [&] {
            const auto parsed = parseBindingOptions(options);
            auto bound = call.service.manager().setAddresses(call.id, addresses, parsed.force);
            if (parsed.flush)
                call.service.requestFlush();
            return toBus(bound.warnings);
        });
}

void setChain(Call& call)
{
    std::string mode;
    std::vector<uint8_t> pem;
    call.read(mode, pem);
    call.service.mutate(call.callee(), call.result<>(), "SetChain", call.path, Right::Manage,
                        [&] { call.service.manager().setChain(call.id, parseChainModeArgument(mode), pem); });
}

void fetchIssuer(Call& call)
{
    Service& service = call.service;
    const std::string id = call.id;
    service.mutateLater(
        call.callee(), Pool::Fetch, "FetchIssuer", call.path, Right::Manage,
        call.result<std::vector<sdbus::ObjectPath>>(), [&] {
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

void check(Call& call)
{
    std::vector<std::string> hostnames;
    call.read(hostnames);
    const Findings findings = handleErrors([&] {
        Findings out;
        for (const auto& f : call.service.manager().check(call.id, hostnames))
            out.emplace_back(std::string(severityName(f.severity)), f.code, f.text);
        return out;
    });
    call.result<Findings>().returnResults(findings);
}

void deleteCertificate(Call& call)
{
    call.service.mutate(call.callee(), call.result<>(), "DeleteCertificate", call.path, Right::Manage,
                        [&] { call.service.manager().deleteCertificate(call.id); });
}

const CertificateEntry& entry(Service& service, const std::string& id)
{
    return service.manager().shownCertificate(id);
}

std::string friendlyName(Service& s, const std::string& id)
{
    return s.manager().friendlyName(id);
}
std::string subject(Service& s, const std::string& id)
{
    return entry(s, id).info.subject;
}
std::string issuer(Service& s, const std::string& id)
{
    return entry(s, id).info.issuer;
}
std::string issuedTo(Service& s, const std::string& id)
{
    return entry(s, id).info.issuedTo;
}
std::string issuedBy(Service& s, const std::string& id)
{
    return entry(s, id).info.issuedBy;
}
std::string serialNumber(Service& s, const std::string& id)
{
    return entry(s, id).info.serialNumber;
}
std::string signatureAlgorithm(Service& s, const std::string& id)
{
    return entry(s, id).info.signatureAlgorithm;
}
uint64_t notBefore(Service& s, const std::string& id)
{
    return entry(s, id).info.notBeforeUSec;
}
uint64_t notAfter(Service& s, const std::string& id)
{
    return entry(s, id).info.notAfterUSec;
}
std::string publicKey(Service& s, const std::string& id)
{
    return entry(s, id).info.publicKey;
}
std::vector<sdbus::Struct<std::string, std::string>> subjectAlternativeNames(Service& s,
                                                                             const std::string& id)
{
    return toBus(entry(s, id).info.subjectAlternativeNames);
}
std::vector<std::string> authorityInfoAccess(Service& s, const std::string& id)
{
    return entry(s, id).info.authorityInfoAccess;
}
std::string fingerprint(Service& s, const std::string& id)
{
    return entry(s, id).info.fingerprintSha256;
}
sdbus::ObjectPath key(Service& s, const std::string& id)
{
    const auto& keyId = entry(s, id).keyId;
    return sdbus::ObjectPath(keyId.empty() ? "/" : keyPath(keyId));
}
bool hasPrivateKey(Service& s, const std::string& id)
{
    return !entry(s, id).keyId.empty();
}
std::string kind(Service& s, const std::string& id)
{
    return std::string(pki::kindName(entry(s, id).kind));
}
std::vector<sdbus::ObjectPath> chain(Service& s, const std::string& id)
{
    std::vector<sdbus::ObjectPath> out;
    for (const auto& issuer : entry(s, id).chain)
        out.emplace_back(certificatePath(issuer));
    return out;
}
std::string chainMode(Service& s, const std::string& id)
{
    return std::string(chainModeName(s.manager().chainMode(id)));
}
BusWarnings warnings(Service& s, const std::string& id)
{
    return toBus(entry(s, id).warnings);
}
std::vector<std::string> addresses(Service& s, const std::string& id)
{
    return s.manager().addressesOf(id);
}
bool isFactoryDefault(Service& s, const std::string& id)
{
    return s.manager().factoryCertificate() == id;
}

constexpr auto kMethod = SD_BUS_VTABLE_UNPRIVILEGED;
constexpr auto kConst = SD_BUS_VTABLE_PROPERTY_CONST;
constexpr auto kChanges = SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE;

} // namespace

// In the order of dbus/org.certd1.Certificate.xml.
const sd_bus_vtable kCertificateVtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_METHOD_WITH_NAMES("Export", "a{sv}", SD_BUS_PARAM(options), "ay", SD_BUS_PARAM(data),
                             method<exportCertificate>, kMethod),
    SD_BUS_METHOD_WITH_NAMES("SetFriendlyName", "s", SD_BUS_PARAM(friendly_name), "", "",
                             method<setFriendlyName>, kMethod),
    SD_BUS_METHOD_WITH_NAMES("SetAddresses", "asa{sv}", SD_BUS_PARAM(addresses) SD_BUS_PARAM(options),
                             "a(ss)", SD_BUS_PARAM(warnings), method<setAddresses>, kMethod),
    SD_BUS_METHOD_WITH_NAMES("SetChain", "say", SD_BUS_PARAM(mode) SD_BUS_PARAM(pem), "", "",
                             method<setChain>, kMethod),
    SD_BUS_METHOD_WITH_NAMES("FetchIssuer", "", "", "ao", SD_BUS_PARAM(imported), method<fetchIssuer>,
                             kMethod),
    SD_BUS_METHOD_WITH_NAMES("Check", "as", SD_BUS_PARAM(hostnames), "a(sss)", SD_BUS_PARAM(findings),
                             method<check>, kMethod),
    SD_BUS_METHOD("Delete", "", "", method<deleteCertificate>, kMethod),
    SD_BUS_PROPERTY("FriendlyName", "s", property<friendlyName>, 0, kChanges),
    SD_BUS_PROPERTY("Subject", "s", property<subject>, 0, kConst),
    SD_BUS_PROPERTY("Issuer", "s", property<issuer>, 0, kConst),
    SD_BUS_PROPERTY("IssuedTo", "s", property<issuedTo>, 0, kConst),
    SD_BUS_PROPERTY("IssuedBy", "s", property<issuedBy>, 0, kConst),
    SD_BUS_PROPERTY("SerialNumber", "s", property<serialNumber>, 0, kConst),
    SD_BUS_PROPERTY("SignatureAlgorithm", "s", property<signatureAlgorithm>, 0, kConst),
    SD_BUS_PROPERTY("NotBeforeUSec", "t", property<notBefore>, 0, kConst),
    SD_BUS_PROPERTY("NotAfterUSec", "t", property<notAfter>, 0, kConst),
    SD_BUS_PROPERTY("PublicKey", "s", property<publicKey>, 0, kConst),
    SD_BUS_PROPERTY("SubjectAlternativeNames", "a(ss)", property<subjectAlternativeNames>, 0, kConst),
    SD_BUS_PROPERTY("AuthorityInfoAccess", "as", property<authorityInfoAccess>, 0, kConst),
    SD_BUS_PROPERTY("FingerprintSHA256", "s", property<fingerprint>, 0, kConst),
    SD_BUS_PROPERTY("Key", "o", property<key>, 0, kChanges),
    SD_BUS_PROPERTY("HasPrivateKey", "b", property<hasPrivateKey>, 0, kChanges),
    SD_BUS_PROPERTY("Kind", "s", property<kind>, 0, kConst),
    SD_BUS_PROPERTY("Chain", "ao", property<chain>, 0, kChanges),
    SD_BUS_PROPERTY("ChainMode", "s", property<chainMode>, 0, kChanges),
    SD_BUS_PROPERTY("Warnings", "a(ss)", property<warnings>, 0, kChanges),
    SD_BUS_PROPERTY("Addresses", "as", property<addresses>, 0, kChanges),
    SD_BUS_PROPERTY("IsFactoryDefault", "b", property<isFactoryDefault>, 0, kChanges),
    SD_BUS_VTABLE_END};

} // namespace certd::bus
