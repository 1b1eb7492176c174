#include "service.hpp"

#include "error.hpp"
#include "objects.hpp"
#include "tree.hpp"

#include <systemd/sd-bus.h>

#include <algorithm>
#include <cstring>
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

std::string acmeOrderPath(const std::string& id)
{
    return "/org/certd1/acme_order/" + id;
}

std::string acmeAccountPath(const std::string& keyId)
{
    return "/org/certd1/acme_account/" + keyId;
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
    const RawBus raw = rawBusOf(connection_);
    keys_ = std::make_unique<ObjectTree>(raw, *this, "/org/certd1/key", "org.certd1.Key", kKeyVtable,
                                         std::vector<std::string>{"Certificates", "Requests"});
    certificates_ = std::make_unique<ObjectTree>(
        raw, *this, "/org/certd1/certificate", "org.certd1.Certificate", kCertificateVtable,
        std::vector<std::string>{"FriendlyName", "Key", "HasPrivateKey", "Chain", "ChainMode", "Warnings",
                                 "Addresses", "IsFactoryDefault"});
    requests_ =
        std::make_unique<ObjectTree>(raw, *this, "/org/certd1/request", "org.certd1.Request", kRequestVtable,
                                     std::vector<std::string>{"FriendlyName", "Key", "State", "Certificate"});
    for (const auto& [id, entry] : manager_.keys())
        keys_->add(id, false);
    for (const auto& [id, entry] : manager_.certificates())
        certificates_->add(id, false);
    for (const auto& [id, entry] : manager_.requests())
        requests_->add(id, false);
    acmeOrders_ = std::make_unique<ObjectTree>(
        raw, *this, "/org/certd1/acme_order", "org.certd1.AcmeOrder", kAcmeOrderVtable,
        std::vector<std::string>{"FriendlyName", "State", "ErrorName", "Error", "Certificate", "AccountUrl",
                                 "Account", "NextRenewalUSec"});
    for (const auto& [id, order] : manager_.acmeOrders())
        acmeOrders_->add(id, false);
    acmeAccounts_ =
        std::make_unique<ObjectTree>(raw, *this, "/org/certd1/acme_account", "org.certd1.AcmeAccount",
                                     kAcmeAccountVtable, std::vector<std::string>{"Url", "Orders"});
    publishAcmeAccounts(false); // there from the start
    for (const auto& [address, entry] : manager_.addresses())
        addAddressObject(address, false);
    flow_.subscribe([this](const Changes& changes) { publish(changes); });
    guardManagedObjects();
}

void Service::guardManagedObjects()
{
    // sd-bus answers GetManagedObjects itself, and dbus-daemon drops the connection of a
    // sender whose message exceeds max_message_size: certd would lose the bus and exit.
    // A filter runs before the object tree; it answers TooLarge instead, before a reply is built.
    // (A match callback would run early enough, but sdbus-c++ 1.2 lets its exceptions escape.)
    sd_bus* bus = rawBusOf(connection_).bus;
    sd_bus_slot* slot = nullptr;
    const auto filter = [](sd_bus_message* m, void* userdata, sd_bus_error*) -> int {
        if (!sd_bus_message_is_method_call(m, nullptr, "GetManagedObjects"))
            return 0;
        const char* interface = sd_bus_message_get_interface(m);
        const char* path = sd_bus_message_get_path(m);
        if ((interface && std::string_view(interface) != "org.freedesktop.DBus.ObjectManager") || !path ||
            std::string_view(path) != kRootPath)
            return 0;
        try {
            const std::string refusal = static_cast<Service*>(userdata)->managedObjectsRefusal();
            if (refusal.empty())
                return 0;
            log::warning(refusal);
            const std::string name(errorName(ErrorCode::TooLarge));
            sd_bus_reply_method_errorf(m, name.c_str(), "%s", refusal.c_str());
            return 1;
        } catch (...) {
            return 0; // (allocation failure) let sd-bus answer
        }
    };
    if (const int r = sd_bus_add_filter(bus, &slot, filter, this); r < 0)
        throw Error(ErrorCode::Internal, std::string("cannot add a bus filter: ") + std::strerror(-r));
    managedObjectsGuard_.reset(slot);
}

std::string Service::managedObjectsRefusal() const
{
    const std::size_t bound = managedObjectsSizeBound();
    if (bound <= info_.maxMessageSize)
        return {};
    const std::size_t objects = manager_.certificates().size() + manager_.keys().size() +
                                manager_.requests().size() + manager_.addresses().size();
    return "GetManagedObjects would carry " + std::to_string(objects) + " objects (up to " +
           std::to_string(bound) + " bytes), more than the bus's message size limit (" +
           std::to_string(info_.maxMessageSize) +
           " bytes, bus_max_message_size); list the object paths with Introspect and read each "
           "object with GetAll";
}

std::size_t Service::managedObjectsSizeBound() const
{
    // D-Bus marshalling at its worst alignment: a string or object path costs its length + 5
    // (length, NUL) plus up to 3 bytes of alignment; a dict entry {sv} 22 bytes beyond its
    // name and value (entry alignment 7, name length 4 and NUL, the variant's signature 3,
    // the value's alignment up to 7). An object costs 300: its path, its entry, and Peer,
    // Introspectable and Properties, which sd-bus lists with no properties. That bounds
    // the reply from above by about 20 % (a certificate with its key: 1.8 kB, counted 2.2 kB).
    // The property counts and name lengths are those of dbus/org.certd1.*.xml.
    constexpr std::size_t kObject = 300;
    constexpr std::size_t kProperty = 22;
    constexpr std::size_t kPath = 64; // "/org/certd1/certificate/" + 32 hex digits, + 8
    constexpr std::size_t kArray = 8; // length and alignment
    auto text = [](const std::string& value) { return value.size() + 8; }; // with alignment
    std::size_t total = 2048; // the message header and the Manager object
    for (const auto& [id, entry] : manager_.certificates()) {
        const auto& info = entry.info;
        // 21 properties, names 231 bytes; Kind and ChainMode < 16 bytes; two t, two b, Key.
        std::size_t n = kObject + 231 + 21 * kProperty + 2UL * 24 + 2UL * 8 + 2UL * 4 + kPath + 4 * kArray;
        for (const auto* value :
             {&info.subject, &info.issuer, &info.issuedTo, &info.issuedBy, &info.serialNumber,
              &info.signatureAlgorithm, &info.publicKey, &info.fingerprintSha256})
            n += text(*value);
        n += text(manager_.friendlyName(id));
        for (const auto& [type, value] : info.subjectAlternativeNames)
            n += 8 + text(type) + text(value);
        for (const auto& url : info.authorityInfoAccess)
            n += text(url);
        n += entry.chain.size() * kPath;
        for (const auto& warning : entry.warnings)
            n += 8 + text(warning.code) + text(warning.text);
        n += manager_.addressesOf(id).size() * (40 + 8);
        total += n;
    }
    for (const auto& [id, entry] : manager_.keys()) // 5 properties, names 50 bytes; Bits: u
        total +=
            kObject + 50 + 5 * kProperty + text(entry.algorithm) + 8 + text(entry.spkiSha256) + 2 * kArray;
    // A key lists the certificates and requests that use it: each names one key at most.
    total += (manager_.certificates().size() + manager_.requests().size()) * kPath;
    for (const auto& [id, entry] : manager_.requests()) { // 8 properties, names 82 bytes
        total += kObject + 82 + 8 * kProperty + text(entry.pem) + text(entry.info.subject) +
                 text(manager_.storedRequest(id).friendlyName) + 24 + 2 * kPath + 16 + kArray;
        for (const auto& san : entry.info.subjectAltNames)
            total += 8 + 2 * 8 + 8 + text(san.value);
    }
    for (const auto& [address, entry] : manager_.addresses()) // 6 properties, names 38 bytes
        total += kObject + 38 + 6 * kProperty + text(address) + 8 + kPath + 3UL * 24 + text(entry.error);
    for (const auto& [id, order] :
         manager_.acmeOrders()) { // 12 properties, names 117 bytes; two t, Certificate, Account
        total += kObject + 117 + 12 * kProperty + 2UL * 8 + 2 * kPath + kArray + text(order.friendlyName) +
                 text(std::string(acmeOrderStateName(order.state))) + text(order.errorName) +
                 text(order.error) + text(order.directoryUrl) + text(order.challenge) +
                 text(order.accountUrl);
        for (const auto& identifier : order.identifiers)
            total += text(identifier);
        // Its account, counted once per order (orders share accounts: an upper bound): 5
        // properties, names 31 bytes, Key, and the order's path in Orders.
        total += kObject + 31 + 5 * kProperty + text(order.directoryUrl) + text(order.contact) +
                 text(order.accountUrl) + 2 * kPath + kArray;
    }
    return total;
}

Service::~Service() = default;

std::string Service::certificateIdFromPath(const std::string& path) const
{
    std::string id = idFromPath(path, "/org/certd1/certificate/", "certificate");
    manager_.certificate(id); // NotFound
    return id;
}

void Service::addAddressObject(const std::string& address, bool announce)
{
    auto& object = addresses_[address] = std::make_unique<AddressObject>(connection_, *this, address);
    if (announce)
        object->announce();
}

namespace {

// Removes, then adds, then refreshes one kind of object: a tree.
void applyTo(ObjectTree& tree, const std::set<std::string>& added, const std::set<std::string>& removed,
             const std::set<std::string>& changed)
{
    for (const auto& id : removed)
        tree.remove(id);
    for (const auto& id : added)
        if (!tree.contains(id))
            tree.add(id, true);
    for (const auto& id : changed)
        if (!added.count(id))
            tree.emitChanged(id);
}

// The same for sdbus-c++ objects (addresses).
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
    applyTo(*keys_, c.keysAdded, c.keysRemoved, c.keysChanged);
    applyTo(*certificates_, c.certificatesAdded, c.certificatesRemoved, c.certificatesChanged);
    applyTo(*requests_, c.requestsAdded, c.requestsRemoved, c.requestsChanged);
    // Accounts first: an order's Account names an object that is already there.
    if (!c.acmeOrdersAdded.empty() || !c.acmeOrdersRemoved.empty() || !c.acmeOrdersChanged.empty())
        publishAcmeAccounts(true);
    applyTo(*acmeOrders_, c.acmeOrdersAdded, c.acmeOrdersRemoved, c.acmeOrdersChanged);
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

void Service::publishAcmeAccounts(bool announce)
{
    std::map<std::string, AccountView> now;
    for (auto& [keyId, orders] : manager_.acmeAccounts())
        now[keyId] = {orders, manager_.acmeOrder(orders.front()).accountUrl};
    for (const auto& [keyId, view] : accountViews_)
        if (!now.count(keyId))
            acmeAccounts_->remove(keyId);
    for (const auto& [keyId, view] : now) {
        const auto it = accountViews_.find(keyId);
        if (it == accountViews_.end())
            acmeAccounts_->add(keyId, announce);
        else if (!(it->second == view))
            acmeAccounts_->emitChanged(keyId);
    }
    accountViews_ = std::move(now);
}

acme::Service& Service::acme()
{
    if (acme_ == nullptr)
        throw Error(ErrorCode::Unsupported, "ACME is not available in this certd");
    return *acme_;
}

void Service::emitAcmeRenewalFailed(const std::string& id, const std::string& errorName,
                                    const std::string& message)
{
    if (!acmeOrders_->contains(id))
        return;
    const int r =
        sd_bus_emit_signal(rawBusOf(connection_).bus, acmeOrderPath(id).c_str(), "org.certd1.AcmeOrder",
                           "RenewalFailed", "ss", errorName.c_str(), message.c_str());
    if (r < 0)
        log::warning("cannot emit RenewalFailed for " + acmeOrderPath(id) + ": " + std::strerror(-r));
}

void Service::emitCertificateExpiring(const std::string& id, std::uint64_t notAfterUSec, unsigned days)
{
    managerObject_->emitCertificateExpiring(sdbus::ObjectPath(certificatePath(id)), notAfterUSec, days);
}

void Service::reconfigure(std::uint16_t port, AuthPolicy auth, std::size_t maxMessageSize)
{
    const bool portChanged = port != info_.port;
    info_.port = port;
    info_.auth = std::move(auth);
    info_.maxMessageSize = maxMessageSize;
    if (portChanged)
        for (const auto& [address, object] : addresses_)
            object->emitChanged();
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
