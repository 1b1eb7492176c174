#include "client.hpp"

#include <org.certd1.AcmeOrder-proxy.hpp>
#include <org.certd1.Address-proxy.hpp>
#include <org.certd1.Certificate-proxy.hpp>
#include <org.certd1.Key-proxy.hpp>
#include <org.certd1.Manager-proxy.hpp>
#include <org.certd1.Request-proxy.hpp>
#include <sdbus-c++/sdbus-c++.h>

#include <array>
#include <chrono>
#include <map>
#include <string_view>
#include <utility>

namespace certd::client {
namespace {

using namespace std::chrono_literals;

// RSA 4096 key generation and a FetchIssuer download can take a while.
constexpr auto kMethodCallTimeout = 120s;

constexpr const char* kCertificateInterface = "org.certd1.Certificate";
constexpr const char* kRequestInterface = "org.certd1.Request";
constexpr const char* kKeyInterface = "org.certd1.Key";
constexpr const char* kAddressInterface = "org.certd1.Address";
constexpr const char* kAcmeOrderInterface = "org.certd1.AcmeOrder";
constexpr const char* kAcmeAccountInterface = "org.certd1.AcmeAccount";

using PropertyMap = std::map<std::string, sdbus::Variant>;
using PairList = std::vector<sdbus::Struct<std::string, std::string>>;

// The generated proxies. registerProxy() is deliberately never called: these are
// one-shot synchronous calls, and registering would subscribe to signals (an AddMatch
// round trip each) nobody listens to.
class ManagerProxy final : public sdbus::ProxyInterfaces<org::certd1::Manager_proxy> {
public:
    explicit ManagerProxy(sdbus::IConnection& connection)
        : ProxyInterfaces(connection, kBusName, kManagerPath)
    {
    }
    ~ManagerProxy() = default;
    sdbus::IProxy& raw() { return getProxy(); }

private:
    void onCertificateExpiring(const sdbus::ObjectPath&, const uint64_t&, const uint32_t&) override {}
};

template <typename Interface>
class ObjectProxy final : public sdbus::ProxyInterfaces<Interface> {
public:
    ObjectProxy(sdbus::IConnection& connection, const std::string& path)
        : sdbus::ProxyInterfaces<Interface>(connection, kBusName, path)
    {
    }
    ~ObjectProxy() = default;
    sdbus::IProxy& raw() { return this->getProxy(); }
};

using CertificateProxy = ObjectProxy<org::certd1::Certificate_proxy>;
using RequestProxy = ObjectProxy<org::certd1::Request_proxy>;
using KeyProxy = ObjectProxy<org::certd1::Key_proxy>;
using AddressProxy = ObjectProxy<org::certd1::Address_proxy>;

class AcmeOrderProxy final : public sdbus::ProxyInterfaces<org::certd1::AcmeOrder_proxy> {
public:
    AcmeOrderProxy(sdbus::IConnection& connection, const std::string& path)
        : ProxyInterfaces(connection, kBusName, path)
    {
    }
    ~AcmeOrderProxy() = default;
    sdbus::IProxy& raw() { return getProxy(); }

private:
    void onRenewalFailed(const std::string&, const std::string&) override {}
};

// Standard bus errors that have a certd meaning. Anything else the daemon did not
// name becomes Internal.
struct BusErrorMapping {
    std::string_view name;
    std::optional<ErrorCode> code; // nullopt: certd cannot be reached
};
constexpr std::array<BusErrorMapping, 15> kBusErrors{{
    {"org.freedesktop.DBus.Error.ServiceUnknown", std::nullopt},
    {"org.freedesktop.DBus.Error.NameHasNoOwner", std::nullopt},
    {"org.freedesktop.DBus.Error.NoServer", std::nullopt},
    {"org.freedesktop.DBus.Error.Disconnected", std::nullopt},
    {"org.freedesktop.DBus.Error.NoReply", std::nullopt},
    {"org.freedesktop.DBus.Error.Timeout", std::nullopt},
    {"org.freedesktop.DBus.Error.TimedOut", std::nullopt},
    {"org.freedesktop.DBus.Error.UnknownObject", ErrorCode::NotFound},
    {"org.freedesktop.DBus.Error.UnknownInterface", ErrorCode::NotFound},
    {"org.freedesktop.DBus.Error.UnknownMethod", ErrorCode::NotFound},
    {"org.freedesktop.DBus.Error.UnknownProperty", ErrorCode::NotFound},
    {"org.freedesktop.DBus.Error.AccessDenied", ErrorCode::AccessDenied},
    {"org.freedesktop.DBus.Error.AuthFailed", ErrorCode::AccessDenied},
    {"org.freedesktop.DBus.Error.InteractiveAuthorizationRequired", ErrorCode::AccessDenied},
    {"org.freedesktop.DBus.Error.InvalidArgs", ErrorCode::InvalidArgument},
}};

[[noreturn]] void rethrowBusError(const sdbus::Error& e)
{
    if (const auto code = errorCodeFromName(e.getName()))
        throw Error(*code, e.getMessage());
    for (const auto& [name, code] : kBusErrors) {
        if (name != e.getName())
            continue;
        if (!code)
            throw UnreachableError(e.getMessage().empty() ? e.getName() : e.getMessage());
        throw Error(*code, e.getMessage());
    }
    throw Error(ErrorCode::Internal, e.getName() + ": " + e.getMessage());
}

// Runs one bus exchange, translating sdbus-c++ errors into certd::Error.
template <typename F>
auto call(F&& f) -> decltype(f())
{
    try {
        return std::forward<F>(f)();
    } catch (const sdbus::Error& e) {
        rethrowBusError(e);
    }
}

bool isObjectPath(std::string_view p)
{
    if (p.empty() || p.front() != '/')
        return false;
    if (p.size() == 1)
        return true;
    if (p.back() == '/')
        return false;
    char prev = '/';
    for (const char c : p.substr(1)) {
        const bool element =
            (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
        if (!element && c != '/')
            return false;
        if (c == '/' && prev == '/')
            return false;
        prev = c;
    }
    return true;
}

sdbus::ObjectPath toPath(const std::string& path, std::string_view what)
{
    if (!isObjectPath(path))
        throw Error(ErrorCode::InvalidArgument,
                    std::string(what) + " is not a D-Bus object path: '" + path + "'");
    return sdbus::ObjectPath(path);
}

std::vector<Warning> toWarnings(const PairList& pairs)
{
    std::vector<Warning> out;
    out.reserve(pairs.size());
    for (const auto& p : pairs)
        out.push_back({std::get<0>(p), std::get<1>(p)});
    return out;
}

std::vector<AltName> toAltNames(const PairList& pairs)
{
    std::vector<AltName> out;
    out.reserve(pairs.size());
    for (const auto& p : pairs)
        out.push_back({std::get<0>(p), std::get<1>(p)});
    return out;
}

std::vector<std::string> toStrings(const std::vector<sdbus::ObjectPath>& paths)
{
    return {paths.begin(), paths.end()};
}

// Reads one property of a{sv} straight from the reply: GetManagedObjects for 10,000
// certificates carries ~200,000 properties, and an sdbus::Variant for each (a
// message of its own) would cost more than the call itself.
class PropertyValue {
public:
    PropertyValue(sdbus::Message& msg, std::string name, std::string contents)
        : msg_(msg), name_(std::move(name)), contents_(std::move(contents))
    {
    }

    const std::string& name() const { return name_; }
    bool consumed() const { return consumed_; }

    template <typename Wire, typename T, typename Convert>
    void readAs(T& out, Convert convert)
    {
        if (contents_ != sdbus::signature_of<Wire>::str())
            throw Error(ErrorCode::Internal, "certd sent " + name_ + " as '" + contents_ + "', expected '" +
                                                 sdbus::signature_of<Wire>::str() + "'");
        Wire value{};
        msg_.enterVariant(contents_);
        msg_ >> value;
        msg_.exitVariant();
        out = convert(std::move(value));
        consumed_ = true;
    }

    template <typename T>
    void read(T& out)
    {
        readAs<T>(out, [](T v) { return v; });
    }
    void readPath(std::string& out)
    {
        readAs<sdbus::ObjectPath>(out, [](sdbus::ObjectPath p) { return std::string(std::move(p)); });
    }
    void readPaths(std::vector<std::string>& out) { readAs<std::vector<sdbus::ObjectPath>>(out, toStrings); }
    void readWarnings(std::vector<Warning>& out) { readAs<PairList>(out, toWarnings); }
    void readAltNames(std::vector<AltName>& out) { readAs<PairList>(out, toAltNames); }

private:
    sdbus::Message& msg_;
    std::string name_;
    std::string contents_;
    bool consumed_ = false;
};

void setProperty(Certificate& c, PropertyValue& v)
{
    const std::string& n = v.name();
    if (n == "FriendlyName")
        v.read(c.friendlyName);
    else if (n == "Subject")
        v.read(c.subject);
    else if (n == "Issuer")
        v.read(c.issuer);
    else if (n == "IssuedTo")
        v.read(c.issuedTo);
    else if (n == "IssuedBy")
        v.read(c.issuedBy);
    else if (n == "SerialNumber")
        v.read(c.serialNumber);
    else if (n == "SignatureAlgorithm")
        v.read(c.signatureAlgorithm);
    else if (n == "NotBeforeUSec")
        v.read(c.notBeforeUSec);
    else if (n == "NotAfterUSec")
        v.read(c.notAfterUSec);
    else if (n == "PublicKey")
        v.read(c.publicKey);
    else if (n == "SubjectAlternativeNames")
        v.readAltNames(c.subjectAltNames);
    else if (n == "AuthorityInfoAccess")
        v.read(c.authorityInfoAccess);
    else if (n == "FingerprintSHA256")
        v.read(c.fingerprintSha256);
    else if (n == "Key")
        v.readPath(c.key);
    else if (n == "HasPrivateKey")
        v.read(c.hasPrivateKey);
    else if (n == "Kind")
        v.read(c.kind);
    else if (n == "Chain")
        v.readPaths(c.chain);
    else if (n == "ChainMode")
        v.read(c.chainMode);
    else if (n == "Warnings")
        v.readWarnings(c.warnings);
    else if (n == "Addresses")
        v.read(c.addresses);
    else if (n == "IsFactoryDefault")
        v.read(c.isFactoryDefault);
}

void setProperty(Request& r, PropertyValue& v)
{
    const std::string& n = v.name();
    if (n == "FriendlyName")
        v.read(r.friendlyName);
    else if (n == "Subject")
        v.read(r.subject);
    else if (n == "SubjectAlternativeNames")
        v.readAltNames(r.subjectAltNames);
    else if (n == "Key")
        v.readPath(r.key);
    else if (n == "RequestPem")
        v.read(r.requestPem);
    else if (n == "State")
        v.read(r.state);
    else if (n == "Certificate")
        v.readPath(r.certificate);
    else if (n == "CreatedUSec")
        v.read(r.createdUSec);
}

void setProperty(Key& k, PropertyValue& v)
{
    const std::string& n = v.name();
    if (n == "Algorithm")
        v.read(k.algorithm);
    else if (n == "Bits")
        v.read(k.bits);
    else if (n == "FingerprintSHA256")
        v.read(k.fingerprintSha256);
    else if (n == "Certificates")
        v.readPaths(k.certificates);
    else if (n == "Requests")
        v.readPaths(k.requests);
}

void setProperty(Address& a, PropertyValue& v)
{
    const std::string& n = v.name();
    if (n == "Address")
        v.read(a.address);
    else if (n == "Port")
        v.read(a.port);
    else if (n == "Certificate")
        v.readPath(a.certificate);
    else if (n == "Origin")
        v.read(a.origin);
    else if (n == "State")
        v.read(a.state);
    else if (n == "Error")
        v.read(a.error);
}

void setProperty(AcmeOrder& o, PropertyValue& v)
{
    const std::string& n = v.name();
    if (n == "FriendlyName")
        v.read(o.friendlyName);
    else if (n == "State")
        v.read(o.state);
    else if (n == "ErrorName")
        v.read(o.errorName);
    else if (n == "Error")
        v.read(o.error);
    else if (n == "Certificate")
        v.readPath(o.certificate);
    else if (n == "Identifiers")
        v.read(o.identifiers);
    else if (n == "DirectoryUrl")
        v.read(o.directoryUrl);
    else if (n == "Challenge")
        v.read(o.challenge);
    else if (n == "AccountUrl")
        v.read(o.accountUrl);
    else if (n == "Account")
        v.readPath(o.account);
    else if (n == "NextRenewalUSec")
        v.read(o.nextRenewalUSec);
    else if (n == "CreatedUSec")
        v.read(o.createdUSec);
}

void setProperty(AcmeAccount& a, PropertyValue& v)
{
    const std::string& n = v.name();
    if (n == "DirectoryUrl")
        v.read(a.directoryUrl);
    else if (n == "Contact")
        v.read(a.contact);
    else if (n == "Url")
        v.read(a.url);
    else if (n == "Key")
        v.readPath(a.key);
    else if (n == "Orders")
        v.readPaths(a.orders);
}

// Reads an a{sv} of properties into `object`. Properties certd added after this
// client was built are skipped; ones it no longer sends keep their defaults.
template <typename T>
void readProperties(sdbus::Message& msg, T& object)
{
    if (!msg.enterContainer("{sv}"))
        throw Error(ErrorCode::Internal, "certd sent malformed properties");
    while (msg.enterDictEntry("sv")) {
        std::string name;
        msg >> name;
        std::string type;
        std::string contents;
        msg.peekType(type, contents);
        PropertyValue value(msg, std::move(name), std::move(contents));
        setProperty(object, value);
        if (!value.consumed()) {
            sdbus::Variant skipped;
            msg >> skipped;
        }
        msg.exitDictEntry();
    }
    msg.clearFlags();
    msg.exitContainer();
}

template <typename T>
T newObject(const std::string& path)
{
    T object;
    object.path = path;
    if constexpr (requires { object.id; })
        object.id = objectId(path);
    return object;
}

// Properties.GetAll on one object, read like GetManagedObjects.
template <typename T, typename Proxy>
T getAll(Proxy&& proxy, const std::string& path, const char* interface)
{
    auto call = proxy.raw().createMethodCall("org.freedesktop.DBus.Properties", "GetAll");
    call << interface;
    auto reply = proxy.raw().callMethod(call);
    T object = newObject<T>(path);
    readProperties(reply, object);
    return object;
}

// Reads a map property of GetStatus (a{sv}, a few entries).
template <typename Wire, typename T, typename Convert>
void readAs(const PropertyMap& props, const char* name, T& out, Convert convert)
{
    const auto it = props.find(name);
    if (it == props.end())
        return;
    if (!it->second.containsValueOfType<Wire>())
        throw Error(ErrorCode::Internal, std::string("certd sent ") + name + " as '" +
                                             it->second.peekValueType() + "', expected '" +
                                             sdbus::signature_of<Wire>::str() + "'");
    out = convert(it->second.get<Wire>());
}

template <typename T>
void read(const PropertyMap& props, const char* name, T& out)
{
    readAs<T>(props, name, out, [](T v) { return v; });
}

void readPath(const PropertyMap& props, const char* name, std::string& out)
{
    readAs<sdbus::ObjectPath>(props, name, out, [](const sdbus::ObjectPath& p) { return std::string(p); });
}

Status parseStatus(const PropertyMap& p)
{
    Status s;
    read(p, "Hostname", s.hostname);
    read(p, "MachineId", s.machineId);
    read(p, "Version", s.version);
    read(p, "UptimeUSec", s.uptimeUSec);
    using BindingList = std::vector<sdbus::Struct<std::string, std::string, sdbus::ObjectPath>>;
    readAs<BindingList>(p, "Addresses", s.addresses, [](const BindingList& list) {
        std::vector<AddressBinding> out;
        out.reserve(list.size());
        for (const auto& b : list)
            out.push_back({std::get<0>(b), std::get<1>(b), std::get<2>(b)});
        return out;
    });
    read(p, "TerminatorState", s.terminatorState);
    read(p, "TerminatorError", s.terminatorError);
    readAs<std::uint64_t>(p, "SoonestExpiryUSec", s.soonestExpiryUSec,
                          [](std::uint64_t v) { return std::optional<std::uint64_t>(v); });
    readPath(p, "SoonestExpiry", s.soonestExpiry);
    read(p, "Certificates", s.certificates);
    read(p, "Keys", s.keys);
    read(p, "Requests", s.requests);
    return s;
}

PropertyMap toSpec(const CertificateSpec& spec)
{
    PropertyMap m;
    const auto put = [&m](const char* name, const std::optional<std::string>& v) {
        if (v)
            m.emplace(name, sdbus::Variant(*v));
    };
    put("friendly_name", spec.friendlyName);
    put("key_type", spec.keyType);
    if (spec.key)
        m.emplace("key", sdbus::Variant(toPath(*spec.key, "key")));
    put("country", spec.country);
    put("state", spec.state);
    put("locality", spec.locality);
    put("organization", spec.organization);
    put("organizational_unit", spec.organizationalUnit);
    put("common_name", spec.commonName);
    if (!spec.subjectAltNames.empty())
        m.emplace("subject_alt_names", sdbus::Variant(spec.subjectAltNames));
    if (spec.days)
        m.emplace("days", sdbus::Variant(*spec.days));
    if (spec.copyFrom)
        m.emplace("copy_from", sdbus::Variant(toPath(*spec.copyFrom, "copy_from")));
    return m;
}

PropertyMap toAcmeSpec(const AcmeOrderSpec& spec)
{
    PropertyMap m;
    const auto put = [&m](const char* name, const std::optional<std::string>& v) {
        if (v)
            m.emplace(name, sdbus::Variant(*v));
    };
    m.emplace("directory_url", sdbus::Variant(spec.directoryUrl));
    m.emplace("identifiers", sdbus::Variant(spec.identifiers));
    put("challenge", spec.challenge);
    put("key_type", spec.keyType);
    if (spec.key)
        m.emplace("key", sdbus::Variant(toPath(*spec.key, "key")));
    put("contact", spec.contact);
    if (!spec.caBundle.empty())
        m.emplace("ca_bundle", sdbus::Variant(spec.caBundle));
    if (!spec.assign.empty())
        m.emplace("assign", sdbus::Variant(spec.assign));
    put("friendly_name", spec.friendlyName);
    if (spec.renewPercent)
        m.emplace("renew_percent", sdbus::Variant(*spec.renewPercent));
    if (spec.renewAfterSeconds)
        m.emplace("renew_after_seconds", sdbus::Variant(*spec.renewAfterSeconds));
    put("eab_kid", spec.eabKid);
    put("eab_hmac_key", spec.eabHmacKey);
    return m;
}

PropertyMap toExportOptions(const ExportOptions& options)
{
    PropertyMap m;
    if (options.format)
        m.emplace("format", sdbus::Variant(*options.format));
    if (options.includeCertificate)
        m.emplace("include_certificate", sdbus::Variant(*options.includeCertificate));
    if (options.includePrivateKey)
        m.emplace("include_private_key", sdbus::Variant(*options.includePrivateKey));
    if (options.includeChain)
        m.emplace("include_chain", sdbus::Variant(*options.includeChain));
    if (options.passphrase)
        m.emplace("passphrase", sdbus::Variant(*options.passphrase));
    return m;
}

} // namespace

UnreachableError::UnreachableError(const std::string& detail)
    : Error(ErrorCode::Internal, "cannot reach certd on the system bus: " + detail)
{
}

struct Client::Impl {
    std::unique_ptr<sdbus::IConnection> connection;
    ManagerProxy manager;

    explicit Impl(std::unique_ptr<sdbus::IConnection> c) : connection(std::move(c)), manager(*connection) {}

    template <typename Proxy>
    Proxy object(const std::string& path, std::string_view what)
    {
        return Proxy(*connection, toPath(path, what));
    }
};

namespace {

std::unique_ptr<sdbus::IConnection> connectSystemBus()
{
    try {
        auto connection = sdbus::createSystemBusConnection();
        connection->setMethodCallTimeout(kMethodCallTimeout);
        return connection;
    } catch (const sdbus::Error& e) {
        throw UnreachableError(e.getMessage().empty() ? e.getName() : e.getMessage());
    }
}

} // namespace

Client::Client() : impl_(std::make_unique<Impl>(connectSystemBus())) {}
Client::~Client() = default;
Client::Client(Client&&) noexcept = default;
Client& Client::operator=(Client&&) noexcept = default;

CreateResult Client::createSelfSigned(const CertificateSpec& spec)
{
    const auto m = toSpec(spec);
    return call([&] {
        const auto [path, warnings] = impl_->manager.CreateSelfSigned(m);
        return CreateResult{path, toWarnings(warnings)};
    });
}

CreateResult Client::createAcmeOrder(const AcmeOrderSpec& spec)
{
    const auto m = toAcmeSpec(spec);
    return call([&] {
        const auto [path, warnings] = impl_->manager.CreateAcmeOrder(m);
        return CreateResult{path, toWarnings(warnings)};
    });
}

CreateResult Client::createRequest(const CertificateSpec& spec)
{
    const auto m = toSpec(spec);
    return call([&] {
        const auto [path, warnings] = impl_->manager.CreateRequest(m);
        return CreateResult{path, toWarnings(warnings)};
    });
}

ImportResult Client::importData(const std::vector<std::uint8_t>& data, const std::string& passphrase,
                                const ImportOptions& options)
{
    PropertyMap m;
    if (options.friendlyName)
        m.emplace("friendly_name", sdbus::Variant(*options.friendlyName));
    return call([&] {
        const auto [objects, warnings] = impl_->manager.Import(data, passphrase, m);
        return ImportResult{toStrings(objects), toWarnings(warnings)};
    });
}

namespace {
PropertyMap bindingOptions(bool force)
{
    PropertyMap m;
    if (force)
        m.emplace("force", sdbus::Variant(true));
    return m;
}
} // namespace

std::vector<Warning> Client::assign(const std::string& address, const std::string& certificate, bool force)
{
    const auto cert = toPath(certificate, "certificate");
    return call([&] { return toWarnings(impl_->manager.Assign(address, cert, bindingOptions(force))); });
}

std::vector<std::string> Client::replaceCertificate(const std::string& oldCertificate,
                                                    const std::string& newCertificate, bool force,
                                                    std::vector<Warning>* warnings)
{
    const auto oldPath = toPath(oldCertificate, "old_certificate");
    const auto newPath = toPath(newCertificate, "new_certificate");
    return call([&] {
        const auto [moved, found] =
            impl_->manager.ReplaceCertificate(oldPath, newPath, bindingOptions(force));
        if (warnings)
            *warnings = toWarnings(found);
        return moved;
    });
}

void Client::reload()
{
    call([&] { impl_->manager.Reload(); });
}

Status Client::getStatus()
{
    return call([&] { return parseStatus(impl_->manager.GetStatus()); });
}

std::string Client::version()
{
    return call([&] { return impl_->manager.Version(); });
}

std::string Client::factoryCertificate()
{
    return call([&] { return std::string(impl_->manager.FactoryCertificate()); });
}

std::string Client::terminatorState()
{
    return call([&] { return impl_->manager.TerminatorState(); });
}

Inventory Client::list()
{
    return call([&] {
        auto& proxy = impl_->manager.raw();
        auto reply = proxy.callMethod(
            proxy.createMethodCall("org.freedesktop.DBus.ObjectManager", "GetManagedObjects"));
        Inventory inv;
        if (!reply.enterContainer("{oa{sa{sv}}}"))
            throw Error(ErrorCode::Internal, "certd sent a malformed object list");
        while (reply.enterDictEntry("oa{sa{sv}}")) {
            sdbus::ObjectPath path;
            reply >> path;
            reply.enterContainer("{sa{sv}}");
            while (reply.enterDictEntry("sa{sv}")) {
                std::string interface;
                reply >> interface;
                if (interface == kCertificateInterface) {
                    readProperties(reply, inv.certificates.emplace_back(newObject<Certificate>(path)));
                } else if (interface == kRequestInterface) {
                    readProperties(reply, inv.requests.emplace_back(newObject<Request>(path)));
                } else if (interface == kKeyInterface) {
                    readProperties(reply, inv.keys.emplace_back(newObject<Key>(path)));
                } else if (interface == kAddressInterface) {
                    readProperties(reply, inv.addresses.emplace_back(newObject<Address>(path)));
                } else if (interface == kAcmeOrderInterface) {
                    readProperties(reply, inv.acmeOrders.emplace_back(newObject<AcmeOrder>(path)));
                } else if (interface == kAcmeAccountInterface) {
                    readProperties(reply, inv.acmeAccounts.emplace_back(newObject<AcmeAccount>(path)));
                } else {
                    PropertyMap ignored;
                    reply >> ignored;
                }
                reply.exitDictEntry();
            }
            reply.clearFlags();
            reply.exitContainer();
            reply.exitDictEntry();
        }
        reply.clearFlags();
        reply.exitContainer();
        return inv;
    });
}

Certificate Client::certificate(const std::string& path)
{
    return call([&] {
        return getAll<Certificate>(impl_->object<CertificateProxy>(path, "certificate"), path,
                                   kCertificateInterface);
    });
}

Request Client::request(const std::string& path)
{
    return call([&] {
        return getAll<Request>(impl_->object<RequestProxy>(path, "request"), path, kRequestInterface);
    });
}

Key Client::key(const std::string& path)
{
    return call([&] { return getAll<Key>(impl_->object<KeyProxy>(path, "key"), path, kKeyInterface); });
}

Address Client::address(const std::string& path)
{
    return call([&] {
        return getAll<Address>(impl_->object<AddressProxy>(path, "address"), path, kAddressInterface);
    });
}

std::vector<std::uint8_t> Client::exportCertificate(const std::string& certificate,
                                                    const ExportOptions& options)
{
    const auto m = toExportOptions(options);
    return call([&] { return impl_->object<CertificateProxy>(certificate, "certificate").Export(m); });
}

void Client::setFriendlyName(const std::string& certificate, const std::string& friendlyName)
{
    call([&] { impl_->object<CertificateProxy>(certificate, "certificate").SetFriendlyName(friendlyName); });
}

std::vector<Warning> Client::setAddresses(const std::string& certificate,
                                          const std::vector<std::string>& addresses, bool force)
{
    return call([&] {
        return toWarnings(impl_->object<CertificateProxy>(certificate, "certificate")
                              .SetAddresses(addresses, bindingOptions(force)));
    });
}

void Client::setChain(const std::string& certificate, const std::string& mode,
                      const std::vector<std::uint8_t>& pem)
{
    call([&] { impl_->object<CertificateProxy>(certificate, "certificate").SetChain(mode, pem); });
}

std::vector<std::string> Client::fetchIssuer(const std::string& certificate)
{
    return call(
        [&] { return toStrings(impl_->object<CertificateProxy>(certificate, "certificate").FetchIssuer()); });
}

std::vector<Finding> Client::check(const std::string& certificate, const std::vector<std::string>& hostnames)
{
    return call([&] {
        std::vector<Finding> out;
        for (const auto& f : impl_->object<CertificateProxy>(certificate, "certificate").Check(hostnames))
            out.push_back({std::get<0>(f), std::get<1>(f), std::get<2>(f)});
        return out;
    });
}

void Client::deleteCertificate(const std::string& certificate)
{
    call([&] { impl_->object<CertificateProxy>(certificate, "certificate").Delete(); });
}

AcmeOrder Client::acmeOrder(const std::string& path)
{
    return call([&] {
        return getAll<AcmeOrder>(impl_->object<AcmeOrderProxy>(path, "ACME order"), path,
                                 kAcmeOrderInterface);
    });
}

void Client::renewAcmeOrder(const std::string& order)
{
    call([&] { impl_->object<AcmeOrderProxy>(order, "ACME order").Renew(); });
}

void Client::deleteAcmeOrder(const std::string& order)
{
    call([&] { impl_->object<AcmeOrderProxy>(order, "ACME order").Delete(); });
}

void Client::deleteRequest(const std::string& request)
{
    call([&] { impl_->object<RequestProxy>(request, "request").Delete(); });
}

void Client::deleteKey(const std::string& key)
{
    call([&] { impl_->object<KeyProxy>(key, "key").Delete(); });
}

std::vector<Warning> Client::assignAddress(const std::string& addressPath, const std::string& certificate,
                                           bool force)
{
    const auto cert = toPath(certificate, "certificate");
    return call([&] {
        return toWarnings(
            impl_->object<AddressProxy>(addressPath, "address").Assign(cert, bindingOptions(force)));
    });
}

} // namespace certd::client
