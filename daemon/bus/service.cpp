#include "service.hpp"

#include "objects.hpp"

#include <systemd/sd-bus.h>

#include <algorithm>
#include <thread>
#include <utility>

namespace certd::bus {

std::string certificatePath(const std::string& id)
{
    return "/org/certd1/certificate/" + id;
}
std::string keyPath(const std::string& id)
{
    return "/org/certd1/key/" + id;
}
std::string requestPath(const std::string& id)
{
    return "/org/certd1/request/" + id;
}

std::string addressPath(const std::string& address)
{
    char* path = nullptr;
    if (sd_bus_path_encode("/org/certd1/address", address.c_str(), &path) < 0)
        throw Error(ErrorCode::Internal, "cannot encode an object path for " + address);
    std::string out(path);
    free(path);
    return out;
}

std::string idFromPath(const std::string& path, const std::string& prefix, const char* what)
{
    if (path.rfind(prefix, 0) != 0 || path.size() == prefix.size())
        throw Error(ErrorCode::NotFound, std::string(what) + ": '" + path + "' is not a " +
                                             prefix.substr(12, prefix.size() - 13) + " object");
    return path.substr(prefix.size());
}

namespace {

// Slow calls one caller (bus connection) may have queued or running in each pool, and all
// callers together; beyond either the call fails with Busy.
constexpr std::size_t kSlowCallsPerCaller = 16;
constexpr std::size_t kSlowCallsInAll = 256;
// Issuer downloads at once (each bounded in time by Manager::buildFetch); more wait.
constexpr unsigned kFetchWorkers = 4;

// One worker per CPU certd may run on but one (at least 1, at most 8): key generation is
// CPU-bound, and the bus thread (with dbus-daemon and the callers) keeps a core to answer on.
unsigned cpuWorkers()
{
    const unsigned n = std::thread::hardware_concurrency();
    return std::clamp(n > 1 ? n - 1 : 1U, 1U, 8U);
}

} // namespace

Service::Service(sdbus::IConnection& connection, EventLoop& loop, Manager& manager, ChangeFlow& flow,
                 ServiceInfo info)
    : connection_(connection), loop_(loop), manager_(manager), flow_(flow), info_(std::move(info)),
      cpuPool_(loop.get(), WorkPoolOptions{"key generation and decryption", cpuWorkers(), kSlowCallsPerCaller,
                                           kSlowCallsInAll}),
      fetchPool_(loop.get(),
                 WorkPoolOptions{"issuer download", kFetchWorkers, kSlowCallsPerCaller, kSlowCallsInAll})
{
    managerObject_ = std::make_unique<ManagerObject>(connection_, *this);
    for (const auto& [id, entry] : manager_.keys())
        addKeyObject(id, false);
    for (const auto& [id, entry] : manager_.certificates())
        addCertificateObject(id, false);
    for (const auto& [id, entry] : manager_.requests())
        addRequestObject(id, false);
    for (const auto& [address, entry] : manager_.addresses())
        addAddressObject(address, false);
    flow_.subscribe([this](const Changes& changes) { publish(changes); });
}

Service::~Service() = default;

std::string Service::certificateIdFromPath(const std::string& path) const
{
    std::string id = idFromPath(path, "/org/certd1/certificate/", "certificate");
    manager_.certificate(id); // NotFound
    return id;
}

void Service::addCertificateObject(const std::string& id, bool announce)
{
    auto& object = certificates_[id] = std::make_unique<CertificateObject>(connection_, *this, id);
    if (announce)
        object->announce();
}

void Service::addKeyObject(const std::string& id, bool announce)
{
    auto& object = keys_[id] = std::make_unique<KeyObject>(connection_, *this, id);
    if (announce)
        object->announce();
}

void Service::addRequestObject(const std::string& id, bool announce)
{
    auto& object = requests_[id] = std::make_unique<RequestObject>(connection_, *this, id);
    if (announce)
        object->announce();
}

void Service::addAddressObject(const std::string& address, bool announce)
{
    auto& object = addresses_[address] = std::make_unique<AddressObject>(connection_, *this, address);
    if (announce)
        object->announce();
}

namespace {

// Removes, then adds, then refreshes one kind of object.
template <typename Objects, typename Add>
void applyTo(Objects& objects, const std::set<std::string>& added, const std::set<std::string>& removed,
             const std::set<std::string>& changed, Add add, std::vector<std::shared_ptr<void>>& graveyard)
{
    for (const auto& id : removed) {
        const auto it = objects.find(id);
        if (it == objects.end())
            continue;
        it->second->retract();
        graveyard.push_back(std::shared_ptr<void>(std::move(it->second)));
        objects.erase(it);
    }
    for (const auto& id : added)
        if (!objects.count(id))
            add(id);
    for (const auto& id : changed) {
        const auto it = objects.find(id);
        if (it != objects.end() && !added.count(id))
            it->second->emitChanged();
    }
}

} // namespace

void Service::publish(const Changes& c)
{
    applyTo(
        keys_, c.keysAdded, c.keysRemoved, c.keysChanged, [&](const auto& id) { addKeyObject(id, true); },
        graveyard_);
    applyTo(
        certificates_, c.certificatesAdded, c.certificatesRemoved, c.certificatesChanged,
        [&](const auto& id) { addCertificateObject(id, true); }, graveyard_);
    applyTo(
        requests_, c.requestsAdded, c.requestsRemoved, c.requestsChanged,
        [&](const auto& id) { addRequestObject(id, true); }, graveyard_);
    applyTo(
        addresses_, c.addressesAdded, c.addressesRemoved, c.addressesChanged,
        [&](const auto& id) { addAddressObject(id, true); }, graveyard_);
    if (c.factoryChanged)
        emitManagerProperties({"FactoryCertificate"});
    if (c.terminatorChanged)
        emitManagerProperties({"TerminatorState", "TerminatorError"});
    if (!graveyard_.empty())
        loop_.defer([this] { buryTheDead(); });
}

void Service::emitCertificateExpiring(const std::string& id, std::uint64_t notAfterUSec, unsigned days)
{
    managerObject_->emitCertificateExpiring(sdbus::ObjectPath(certificatePath(id)), notAfterUSec, days);
}

void Service::emitManagerProperties(const std::vector<std::string>& names)
{
    managerObject_->emitPropertiesChangedSignal(org::certd1::Manager_adaptor::INTERFACE_NAME, names);
}

BusWarnings toBus(const std::vector<pki::Warning>& warnings)
{
    BusWarnings out;
    for (const auto& w : warnings)
        out.emplace_back(w.code, w.text);
    return out;
}

std::vector<sdbus::Struct<std::string, std::string>>
toBus(const std::vector<std::pair<std::string, std::string>>& subjectAltNames)
{
    std::vector<sdbus::Struct<std::string, std::string>> out;
    out.reserve(subjectAltNames.size());
    for (const auto& [type, value] : subjectAltNames)
        out.emplace_back(type, value);
    return out;
}

} // namespace certd::bus
