#include "arguments.hpp"
#include "objects.hpp"

#include <openssl/crypto.h>
#include <unistd.h>

#include <fstream>

namespace certd::bus {

ManagerObject::ManagerObject(sdbus::IConnection& connection, Service& service)
    : AdaptorInterfaces(connection, kRootPath), service_(service)
{
    registerAdaptor();
}

ManagerObject::~ManagerObject()
{
    unregisterAdaptor();
}

void ManagerObject::CreateSelfSigned(sdbus::Result<sdbus::ObjectPath, BusWarnings>&& result,
                                     std::map<std::string, sdbus::Variant> spec)
{
    create(std::move(result), spec, true);
}

void ManagerObject::CreateRequest(sdbus::Result<sdbus::ObjectPath, BusWarnings>&& result,
                                  std::map<std::string, sdbus::Variant> spec)
{
    create(std::move(result), spec, false);
}

void ManagerObject::create(sdbus::Result<sdbus::ObjectPath, BusWarnings>&& result,
                           const std::map<std::string, sdbus::Variant>& spec, bool selfSigned)
{
    Service& service = service_;
    service.mutateLater(
        {getObject(), lifeline()}, Pool::Cpu, selfSigned ? "CreateSelfSigned" : "CreateRequest", kRootPath,
        Right::Manage, std::move(result), [&] {
            // The key is made and signed with on a worker; the objects appear at the commit.
            auto pending = std::make_shared<Manager::PendingCreate>(
                service.manager().prepareCreate(parseCreateSpec(spec, selfSigned), selfSigned));
            return SlowCall<std::tuple<sdbus::ObjectPath, BusWarnings>>{
                [pending] { Manager::buildCreate(*pending); },
                [pending, &service, selfSigned] {
                    auto created = service.manager().commitCreate(std::move(*pending));
                    return std::tuple{
                        sdbus::ObjectPath(selfSigned ? certificatePath(created.id) : requestPath(created.id)),
                        toBus(created.warnings)};
                }};
        });
}

void ManagerObject::CreateAcmeOrder(sdbus::Result<sdbus::ObjectPath, BusWarnings>&& result,
                                    std::map<std::string, sdbus::Variant> spec)
{
    // Returns once the order is stored; the CA is contacted afterwards (acme::Service) and the
    // order's State tells how far it got.
    service_.mutate({getObject(), lifeline()}, std::move(result), "CreateAcmeOrder", kRootPath, Right::Manage,
                    [&] {
                        auto [id, warnings] = service_.acme().create(parseAcmeSpec(spec));
                        return std::tuple{sdbus::ObjectPath(acmeOrderPath(id)), toBus(warnings)};
                    });
}

void ManagerObject::Import(sdbus::Result<std::vector<sdbus::ObjectPath>, BusWarnings>&& result,
                           std::vector<uint8_t> data, std::string passphrase,
                           std::map<std::string, sdbus::Variant> options)
{
    Service& service = service_;
    service.mutateLater(
        {getObject(), lifeline()}, Pool::Cpu, "Import", kRootPath, Right::Manage, std::move(result), [&] {
            // Every parse runs on a worker (PKCS#12, PBES2 and encrypted PEM run a KDF); what is
            // stored is decided at the commit, so two imports of one file store it once.
            struct Pending {
                Bytes data;
                Secret passphrase;
                Manager::ParsedImport parsed;
            };
            auto pending = std::make_shared<Pending>(Pending{std::move(data), Secret(passphrase), {}});
            OPENSSL_cleanse(passphrase.data(), passphrase.size());
            const std::string friendlyName = parseImportOptions(options);
            return SlowCall<std::tuple<std::vector<sdbus::ObjectPath>, BusWarnings>>{
                [pending] { pending->parsed = Manager::parseImportData(pending->data, pending->passphrase); },
                [pending, &service, friendlyName] {
                    auto imported = service.manager().commitImport(std::move(pending->parsed), friendlyName);
                    std::vector<sdbus::ObjectPath> objects;
                    for (const auto& id : imported.certificates)
                        objects.emplace_back(certificatePath(id));
                    for (const auto& id : imported.keys)
                        objects.emplace_back(keyPath(id));
                    for (const auto& id : imported.requests)
                        objects.emplace_back(requestPath(id));
                    return std::tuple{objects, toBus(imported.warnings)};
                }};
        });
}

void ManagerObject::Assign(sdbus::Result<BusWarnings>&& result, std::string address,
                           sdbus::ObjectPath certificate, std::map<std::string, sdbus::Variant> options)
{
    assign(service_, {getObject(), lifeline()}, std::move(result), address, certificate, options);
}

void ManagerObject::ReplaceCertificate(sdbus::Result<std::vector<std::string>, BusWarnings>&& result,
                                       sdbus::ObjectPath oldCertificate, sdbus::ObjectPath newCertificate,
                                       std::map<std::string, sdbus::Variant> options)
{
    service_.mutate({getObject(), lifeline()}, std::move(result), "ReplaceCertificate",
                    std::string(oldCertificate) + " -> " + std::string(newCertificate), Right::Manage, [&] {
                        const auto parsed = parseBindingOptions(options);
                        auto bound = service_.manager().replaceCertificate(
                            service_.certificateIdFromPath(oldCertificate),
                            service_.certificateIdFromPath(newCertificate), parsed.force);
                        if (parsed.flush)
                            service_.requestFlush();
                        return std::tuple{bound.moved, toBus(bound.warnings)};
                    });
}

void ManagerObject::Reload(sdbus::Result<>&& result)
{
    // The reply waits for the settle that sends the new state: "returned" means "applied".
    service_.mutate({getObject(), lifeline()}, std::move(result), "Reload", kRootPath, Right::Manage,
                    [&] { service_.info().reload(); });
}

namespace {
std::string firstLine(const char* path)
{
    std::ifstream f(path);
    std::string line;
    std::getline(f, line);
    return line;
}
} // namespace

std::map<std::string, sdbus::Variant> ManagerObject::GetStatus()
{
    return handleErrors([&] {
        auto& manager = service_.manager();
        std::map<std::string, sdbus::Variant> status;
        char host[256] = {};
        ::gethostname(host, sizeof(host) - 1);
        status["Hostname"] = sdbus::Variant(std::string(host));
        status["MachineId"] = sdbus::Variant(firstLine("/etc/machine-id"));
        status["Version"] = sdbus::Variant(service_.info().version);
        status["UptimeUSec"] = sdbus::Variant(
            static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                      std::chrono::steady_clock::now() - service_.info().started)
                                      .count()));
        std::vector<sdbus::Struct<std::string, std::string, sdbus::ObjectPath>> addresses;
        for (const auto& [address, entry] : manager.addresses())
            addresses.emplace_back(
                address, std::string(tls::listenerStateName(entry.state)),
                sdbus::ObjectPath(certificatePath(manager.certificateForAddress(address))));
        status["Addresses"] = sdbus::Variant(addresses);
        status["Port"] = sdbus::Variant(service_.info().port);
        status["TerminatorState"] =
            sdbus::Variant(std::string(terminatorStateName(manager.terminatorState())));
        status["TerminatorError"] = sdbus::Variant(manager.terminatorError());
        uint64_t soonest = UINT64_MAX;
        std::string soonestId;
        for (const auto& [id, entry] : manager.certificates()) {
            if (entry.keyId.empty())
                continue; // issuers and foreign certificates are not what the appliance serves
            if (entry.info.notAfterUSec < soonest) {
                soonest = entry.info.notAfterUSec;
                soonestId = id;
            }
        }
        status["SoonestExpiryUSec"] = sdbus::Variant(soonestId.empty() ? uint64_t{0} : soonest);
        status["SoonestExpiry"] =
            sdbus::Variant(sdbus::ObjectPath(soonestId.empty() ? "/" : certificatePath(soonestId)));
        status["Certificates"] = sdbus::Variant(static_cast<uint32_t>(manager.certificates().size()));
        status["Keys"] = sdbus::Variant(static_cast<uint32_t>(manager.keys().size()));
        status["Requests"] = sdbus::Variant(static_cast<uint32_t>(manager.requests().size()));
        status["PendingSlowCalls"] = sdbus::Variant(static_cast<uint32_t>(service_.pendingSlowCalls()));
        return status;
    });
}

std::map<std::string, sdbus::Variant> ManagerObject::GetCallerRights()
{
    return handleErrors([&] {
        const Caller caller = callerOf(*getObject().getCurrentlyProcessedMessage());
        const auto& policy = service_.info().auth;
        std::map<std::string, sdbus::Variant> rights;
        rights["Manage"] = sdbus::Variant(isAuthorized(caller, Right::Manage, policy));
        rights["ExportPrivateKey"] = sdbus::Variant(isAuthorized(caller, Right::ExportPrivateKey, policy));
        rights["UnixUser"] = sdbus::Variant(static_cast<uint32_t>(caller.uid));
        return rights;
    });
}

std::string ManagerObject::Version()
{
    return handleErrors([&] { return service_.info().version; });
}

sdbus::ObjectPath ManagerObject::FactoryCertificate()
{
    return handleErrors([&] {
        const auto& id = service_.manager().factoryCertificate();
        return sdbus::ObjectPath(id.empty() ? "/" : certificatePath(id));
    });
}

std::vector<std::string> ManagerObject::KeyTypes()
{
    return handleErrors([&] { return pki::keyTypeNameList(); });
}

std::string ManagerObject::TerminatorState()
{
    return handleErrors(
        [&] { return std::string(terminatorStateName(service_.manager().terminatorState())); });
}

std::string ManagerObject::TerminatorError()
{
    return handleErrors([&] { return service_.manager().terminatorError(); });
}

} // namespace certd::bus
