#include "config.hpp"

#include "text.hpp"

#include "error.hpp"
#include "fs.hpp"
#include "pki/key.hpp"

#include <net/if.h>
#include <netinet/in.h>
#include <sys/un.h>
#include <unistd.h>

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <climits>
#include <functional>
#include <initializer_list>
#include <limits>
#include <set>
#include <span>
#include <sstream>
#include <utility>

namespace certd {
namespace {

namespace fs = std::filesystem;

// The text being parsed: its name for messages and the folder relative paths start from.
struct Source {
    std::string name;
    fs::path directory;
};

// One value in the file with its dotted key and the 1-based line messages point at
// (the key's line for map values: yaml-cpp places an empty value on the next token).
struct Value {
    YAML::Node node;
    std::string key;
    int line = 0; // 0: the value is not in the file
    const Source* source = nullptr;

    [[noreturn]] void fail(std::string_view reason) const
    {
        std::string message = source->name;
        if (line > 0)
            message += ":" + std::to_string(line);
        if (!key.empty())
            message += ": " + key;
        message += ": ";
        message += reason;
        throw Error(ErrorCode::InvalidArgument, message);
    }
};

int lineOf(const YAML::Node& node, int fallback)
{
    // A null node's mark is that of the token after it, or none at all.
    if (node.IsNull() || node.Mark().is_null())
        return fallback;
    return node.Mark().line + 1;
}

std::string inQuotes(std::string_view text)
{
    return "\"" + std::string(text) + "\"";
}

// What was found where something else was expected: "a list", "\"abc\"", "nothing".
std::string describeKind(const YAML::Node& node)
{
    switch (node.Type()) {
    case YAML::NodeType::Sequence:
        return "a list";
    case YAML::NodeType::Map:
        return "a map";
    case YAML::NodeType::Scalar:
        return inQuotes(node.Scalar());
    default:
        return "nothing";
    }
}

// The scalar text of `v`; `expected` says what it should have been ("an integer").
std::string readScalar(const Value& v, std::string_view expected)
{
    if (!v.node.IsScalar())
        v.fail("expected " + std::string(expected) + ", got " + describeKind(v.node));
    return v.node.Scalar();
}

std::optional<std::int64_t> parseInteger(std::string_view text)
{
    std::int64_t n = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec != std::errc{} || end != text.data() + text.size())
        return std::nullopt;
    return n;
}

// "an integer from 1 to 65535", or "an integer" when any T will do.
template <typename T>
std::string rangeText(T min, T max)
{
    if (min == std::numeric_limits<T>::min() && max == std::numeric_limits<T>::max())
        return "an integer";
    return "an integer from " + std::to_string(min) + " to " + std::to_string(max);
}

template <typename T>
T readInteger(const Value& v, T min = std::numeric_limits<T>::min(), T max = std::numeric_limits<T>::max())
{
    const std::string text = readScalar(v, rangeText(min, max));
    const auto n = parseInteger(text);
    if (!n || *n < static_cast<std::int64_t>(min) || *n > static_cast<std::int64_t>(max))
        v.fail("expected " + rangeText(min, max) + ", got " + inQuotes(text));
    return static_cast<T>(*n);
}

std::chrono::milliseconds readMilliseconds(const Value& v, std::int64_t min, std::int64_t max)
{
    return std::chrono::milliseconds(readInteger<std::int64_t>(v, min, max));
}

bool readBool(const Value& v)
{
    const std::string text = readScalar(v, "true or false");
    bool b = false;
    if (!YAML::convert<bool>::decode(v.node, b))
        v.fail("expected true or false, got " + inQuotes(text));
    return b;
}

// A string; `allowEmpty` for optional texts.
std::string readString(const Value& v, bool allowEmpty)
{
    std::string text = readScalar(v, "a string");
    if (text.empty() && !allowEmpty)
        v.fail("must not be empty");
    return text;
}

template <typename E>
E readChoice(const Value& v, std::initializer_list<std::pair<std::string_view, E>> choices)
{
    std::string names;
    for (const auto& [name, value] : choices)
        names += (names.empty() ? "" : ", ") + std::string(name);
    const std::string text = readScalar(v, "one of " + names);
    for (const auto& [name, value] : choices)
        if (name == text)
            return value;
    v.fail("expected one of " + names + ", got " + inQuotes(text));
}

// Relative paths are taken from the configuration file's folder.
fs::path resolvePath(const Source& source, const fs::path& path)
{
    return (path.is_absolute() ? path : source.directory / path).lexically_normal();
}

fs::path readPath(const Value& v, bool allowEmpty)
{
    const std::string text = readString(v, allowEmpty);
    return text.empty() ? fs::path() : resolvePath(*v.source, text);
}

// Reads a list whose items `readItem` turns into T; an item listed twice is refused.
template <typename T>
std::vector<T> readUniqueList(const Value& v, const std::function<T(const Value&)>& readItem)
{
    if (!v.node.IsSequence())
        v.fail("expected a list, got " + describeKind(v.node));
    std::vector<T> items;
    for (std::size_t i = 0; i < v.node.size(); ++i) {
        const Value item{v.node[i], v.key + "[" + std::to_string(i) + "]", lineOf(v.node[i], v.line),
                         v.source};
        T value = readItem(item);
        const auto earlier = std::find(items.begin(), items.end(), value);
        if (earlier != items.end())
            item.fail("duplicate of " + v.key + "[" + std::to_string(earlier - items.begin()) + "]");
        items.push_back(std::move(value));
    }
    return items;
}

// A user or group name as useradd/groupadd accept it.
bool isValidAccountName(std::string_view name)
{
    if (name.empty() || name.size() > 32 || name.front() == '-')
        return false;
    if (name.back() == '$')
        name.remove_suffix(1);
    return std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
               c == '-' || c == '.';
    });
}

std::string readAccountName(const Value& v, bool allowEmpty)
{
    std::string name = readString(v, allowEmpty);
    if (!name.empty() && !isValidAccountName(name))
        v.fail(inQuotes(name) + " is not a valid user or group name");
    return name;
}

std::string readAddress(const Value& v)
{
    const std::string text = readScalar(v, "an IPv4 or IPv6 address");
    const auto address = canonicalIp(text);
    if (!address)
        v.fail(inQuotes(text) + " is not an IPv4 or IPv6 address");
    if (*address == "0.0.0.0" || *address == "::")
        v.fail("the wildcard address is not an appliance address; list the addresses or enable discovery");
    return *address;
}

std::string readInterfaceName(const Value& v)
{
    std::string name = readString(v, false);
    if (name.size() >= IFNAMSIZ)
        v.fail("longer than " + std::to_string(IFNAMSIZ - 1) + " characters");
    if (name == "." || name == ".." || name.find_first_of("/ \t") != std::string::npos)
        v.fail(inQuotes(name) + " is not a network interface name");
    return name;
}

tls::Backend readBackend(const Value& v)
{
    const std::string text = readScalar(v, "tcp:HOST:PORT or unix:PATH");
    const std::string_view spec = text;
    tls::Backend backend;
    if (spec.starts_with("unix:")) {
        backend.kind = tls::Backend::Kind::Unix;
        backend.host.clear();
        backend.port = 0;
        if (spec.size() == 5)
            v.fail("unix: needs a socket path");
        backend.path = resolvePath(*v.source, fs::path(spec.substr(5)));
        if (backend.path.native().size() >= sizeof(sockaddr_un::sun_path))
            v.fail("socket path longer than " + std::to_string(sizeof(sockaddr_un::sun_path) - 1) + " bytes");
        return backend;
    }
    if (!spec.starts_with("tcp:"))
        v.fail("expected tcp:HOST:PORT or unix:PATH, got " + inQuotes(text));
    const std::string_view hostPort = spec.substr(4);
    const auto colon = hostPort.rfind(':');
    if (colon == std::string_view::npos)
        v.fail("expected tcp:HOST:PORT, got " + inQuotes(text));
    std::string_view host = hostPort.substr(0, colon);
    const auto port = parseInteger(hostPort.substr(colon + 1));
    if (!port || *port < 1 || *port > 65535)
        v.fail("port in " + inQuotes(text) + " is not " + rangeText(1, 65535));
    backend.port = static_cast<std::uint16_t>(*port);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
        const auto address = canonicalIp(host.substr(1, host.size() - 2));
        if (!address || address->find(':') == std::string::npos)
            v.fail(inQuotes(std::string(host)) + " is not a bracketed IPv6 address");
        backend.host = *address;
    } else if (const auto address = canonicalIp(host)) {
        if (address->find(':') != std::string::npos)
            v.fail("write an IPv6 backend in brackets: tcp:[" + std::string(host) + "]:PORT");
        backend.host = *address;
    } else if (pki::isValidDnsName(host, false)) {
        backend.host = host;
    } else {
        v.fail(inQuotes(std::string(host)) + " is not an IP address or host name");
    }
    return backend;
}

tls::ProxyProtocol readProxyProtocol(const Value& v)
{
    const std::string text = readScalar(v, "false, true or v2");
    bool enabled = false;
    if (YAML::convert<bool>::decode(v.node, enabled))
        return enabled ? tls::ProxyProtocol::V2 : tls::ProxyProtocol::Off;
    if (text == "v2")
        return tls::ProxyProtocol::V2;
    v.fail("expected false, true or v2, got " + inQuotes(text));
}

pki::KeyType readKeyType(const Value& v)
{
    const std::string text = readScalar(v, "a key type");
    if (const auto type = pki::parseKeyType(text))
        return *type;
    v.fail("expected one of " + pki::keyTypeNames() + ", got " + inQuotes(text));
}

pki::SubjectAltName readSubjectAltName(const Value& v)
{
    const std::string text = readScalar(v, "DNS:name or IP:address");
    try {
        return pki::parseSubjectAltName(text);
    } catch (const Error& e) {
        v.fail(e.what());
    }
}

std::string hostName()
{
    char name[HOST_NAME_MAX + 1] = {};
    if (gethostname(name, sizeof(name) - 1) != 0 || name[0] == '\0')
        return "localhost";
    return name;
}

// What factory_certificate's keys default to; validated with the rest.
pki::CertificateSpec defaultFactoryCertificate()
{
    pki::CertificateSpec spec;
    spec.friendlyName = "Appliance";
    spec.keyType = pki::KeyType::Rsa2048; // what every client accepts
    spec.subject.commonName = hostName();
    spec.days = 3650;
    return spec;
}

// A key of a map section: either a value with its reader, or a nested map of fields.
struct Field {
    std::string_view name;
    void (*read)(const Value&, Config&) = nullptr;
    std::span<const Field> section = {};
};

constexpr Field kDiscoveryFields[] = {
    {"enabled", [](const Value& v, Config& c) { c.discovery.enabled = readBool(v); }},
    {"interfaces",
     [](const Value& v, Config& c) {
         c.discovery.interfaces = readUniqueList<std::string>(v, readInterfaceName);
     }},
};

constexpr Field kFactoryCertificateFields[] = {
    {"friendly_name",
     [](const Value& v, Config& c) { c.factoryCertificate.friendlyName = readString(v, false); }},
    {"common_name",
     [](const Value& v, Config& c) {
         const std::string name = readString(v, true);
         c.factoryCertificate.subject.commonName = name.empty() ? hostName() : name;
     }},
    {"organization",
     [](const Value& v, Config& c) { c.factoryCertificate.subject.organization = readString(v, true); }},
    {"organizational_unit",
     [](const Value& v, Config& c) {
         c.factoryCertificate.subject.organizationalUnit = readString(v, true);
     }},
    {"locality",
     [](const Value& v, Config& c) { c.factoryCertificate.subject.locality = readString(v, true); }},
    {"state", [](const Value& v, Config& c) { c.factoryCertificate.subject.state = readString(v, true); }},
    {"country",
     [](const Value& v, Config& c) { c.factoryCertificate.subject.country = readString(v, true); }},
    {"subject_alt_names",
     [](const Value& v, Config& c) {
         c.factoryCertificate.subjectAltNames = readUniqueList<pki::SubjectAltName>(v, readSubjectAltName);
     }},
    {"key_type", [](const Value& v, Config& c) { c.factoryCertificate.keyType = readKeyType(v); }},
    {"days", [](const Value& v, Config& c) { c.factoryCertificate.days = readInteger<int>(v); }},
};

constexpr Field kTerminatorFields[] = {
    {"user", [](const Value& v, Config& c) { c.terminator.user = readAccountName(v, false); }},
    {"workers", [](const Value& v, Config& c) { c.terminator.workers = readInteger(v, 0U, 1024U); }},
    {"handshake_timeout_ms",
     [](const Value& v, Config& c) { c.terminator.handshakeTimeout = readMilliseconds(v, 100, 600'000); }},
    {"idle_timeout_ms",
     [](const Value& v, Config& c) { c.terminator.idleTimeout = readMilliseconds(v, 1'000, 86'400'000); }},
    {"max_connections",
     [](const Value& v, Config& c) { c.terminator.maxConnections = readInteger(v, 1U, 1'000'000U); }},
    {"binary", [](const Value& v, Config& c) { c.terminator.binary = readPath(v, true); }},
};

constexpr Field kTopLevelFields[] = {
    {"state_directory", [](const Value& v, Config& c) { c.stateDirectory = readPath(v, false); }},
    {"addresses",
     [](const Value& v, Config& c) { c.addresses = readUniqueList<std::string>(v, readAddress); }},
    {"discovery", nullptr, kDiscoveryFields},
    {"port", [](const Value& v, Config& c) { c.port = readInteger<std::uint16_t>(v, 1, 65535); }},
    {"acme_http_port",
     [](const Value& v, Config& c) { c.acmeHttpPort = readInteger<std::uint16_t>(v, 1, 65535); }},
    {"acme_dns_hook", [](const Value& v, Config& c) { c.acmeDnsHook = readPath(v, true); }},
    {"acme_retry_seconds",
     [](const Value& v, Config& c) { c.acmeRetrySeconds = readInteger<unsigned>(v, 1, 86400); }},
    {"freebind", [](const Value& v, Config& c) { c.freebind = readBool(v); }},
    {"backend", [](const Value& v, Config& c) { c.backend = readBackend(v); }},
    {"proxy_protocol", [](const Value& v, Config& c) { c.proxyProtocol = readProxyProtocol(v); }},
    {"tls_profile",
     [](const Value& v, Config& c) {
         c.tlsProfile = readChoice<tls::TlsProfile>(
             v, {{"intermediate", tls::TlsProfile::Intermediate}, {"modern", tls::TlsProfile::Modern}});
     }},
    {"admin_group", [](const Value& v, Config& c) { c.adminGroup = readAccountName(v, false); }},
    {"key_export_group", [](const Value& v, Config& c) { c.keyExportGroup = readAccountName(v, true); }},
    {"factory_certificate", nullptr, kFactoryCertificateFields},
    {"expiry_warning_days",
     [](const Value& v, Config& c) {
         c.expiryWarningDays =
             readUniqueList<unsigned>(v, [](const Value& item) { return readInteger(item, 0U, 3650U); });
         std::sort(c.expiryWarningDays.begin(), c.expiryWarningDays.end(), std::greater<>());
     }},
    {"terminator", nullptr, kTerminatorFields},
    {"bus_max_message_size",
     [](const Value& v, Config& c) { c.busMaxMessageSize = readInteger(v, 4096U, 134217728U); }},
};

std::string joinedPath(const std::string& parent, std::string_view name)
{
    return parent.empty() ? std::string(name) : parent + "." + std::string(name);
}

// Reads a map of `fields` into `config`; an unknown or repeated key is refused.
void readSection(const Value& v, std::span<const Field> fields, Config& config)
{
    if (!v.node.IsMap())
        v.fail("expected a map of keys, got " + describeKind(v.node));
    std::set<std::string> seen;
    for (const auto& entry : v.node) {
        const int line = lineOf(entry.first, v.line);
        const std::string name = entry.first.IsScalar() ? entry.first.Scalar() : "?";
        const Value value{entry.second, joinedPath(v.key, name), line, v.source};
        const auto field =
            std::find_if(fields.begin(), fields.end(), [&](const Field& f) { return f.name == name; });
        if (field == fields.end()) {
            std::string known;
            for (const Field& f : fields)
                known += (known.empty() ? "" : ", ") + std::string(f.name);
            value.fail("unknown key (known here: " + known + ")");
        }
        if (!seen.insert(name).second)
            value.fail("key given twice");
        if (field->section.empty())
            field->read(value, config);
        else
            readSection(value, field->section, config);
    }
}

void collectKeys(std::span<const Field> fields, const std::string& parent, std::vector<std::string>& keys)
{
    for (const Field& f : fields) {
        const std::string key = joinedPath(parent, f.name);
        keys.push_back(key);
        // `key`, not keys.back(): the recursion appends to `keys` and may reallocate it.
        collectKeys(f.section, key, keys);
    }
}

// The value of key `name` in the map `v`; when absent, a value without a node at `v`'s line.
Value member(const Value& v, std::string_view name)
{
    if (v.node.IsMap())
        for (const auto& entry : v.node)
            if (entry.first.IsScalar() && entry.first.Scalar() == name)
                return {entry.second, joinedPath(v.key, name), lineOf(entry.first, v.line), v.source};
    return {YAML::Node(), joinedPath(v.key, name), v.line, v.source};
}

// Checks that span several keys, once everything is read.
void checkConfig(const Value& root, Config& config)
{
    // validateSpec() applies the rules a CreateSelfSigned spec follows and normalises
    // (a DNS common name becomes the first SAN); its message starts with the spec key,
    // which is this section's key too. Warnings are for the certificate's creation to report.
    try {
        (void)pki::validateSpec(config.factoryCertificate);
    } catch (const Error& e) {
        const std::string_view message = e.what();
        const Value section = member(root, "factory_certificate");
        const auto colon = message.find(": ");
        const std::string_view key = message.substr(0, colon);
        if (colon != std::string_view::npos &&
            std::any_of(std::begin(kFactoryCertificateFields), std::end(kFactoryCertificateFields),
                        [&](const Field& f) { return f.name == key; }))
            member(section, key).fail(message.substr(colon + 2));
        section.fail(message);
    }

    const tls::Backend& backend = config.backend;
    if (backend.kind == tls::Backend::Kind::Tcp && backend.port == config.port &&
        std::find(config.addresses.begin(), config.addresses.end(), backend.host) != config.addresses.end())
        member(root, "backend").fail("points at certd's own listener " + describeBackend(backend));
}

// Where each YAML document starts; the parse builds no nodes.
class DocumentStarts final : public YAML::EventHandler {
public:
    std::vector<YAML::Mark> starts;
    void OnDocumentStart(const YAML::Mark& mark) override { starts.push_back(mark); }
    void OnDocumentEnd() override {}
    void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
    void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
    void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t, const std::string&) override {}
    void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                         YAML::EmitterStyle::value) override
    {
    }
    void OnSequenceEnd() override {}
    void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override
    {
    }
    void OnMapEnd() override {}
};

// yaml-cpp 0.7's LoadAll never returns on some malformed text, such as a ',' where a node
// should start (jbeder/yaml-cpp#1040, found by fuzz-config): its parser yields the same empty
// document again and again without consuming the text, and LoadAll allocates a node for each.
// A dry run of the same parser throws instead when a document starts where the previous one did.
void requireParserProgress(const std::string& text)
{
    std::istringstream in(text);
    YAML::Parser parser(in);
    DocumentStarts documents;
    while (parser.HandleNextDocument(documents)) {
        const auto& starts = documents.starts;
        if (starts.size() >= 2 && starts.back().pos == starts[starts.size() - 2].pos)
            throw YAML::ParserException(starts.back(), "unexpected token");
    }
}

} // namespace

std::string describeBackend(const tls::Backend& backend)
{
    if (backend.kind == tls::Backend::Kind::Unix)
        return "unix:" + backend.path.string();
    const bool ipv6 = backend.host.find(':') != std::string::npos;
    return "tcp:" + (ipv6 ? "[" + backend.host + "]" : backend.host) + ":" + std::to_string(backend.port);
}

std::string_view tlsProfileName(tls::TlsProfile profile)
{
    return profile == tls::TlsProfile::Modern ? "modern" : "intermediate";
}

std::vector<std::string> knownConfigKeys()
{
    std::vector<std::string> keys;
    collectKeys(kTopLevelFields, "", keys);
    return keys;
}

Config parseConfig(std::string_view yaml, const std::filesystem::path& origin)
{
    const Source source{origin.string(), fs::absolute(origin).parent_path()};
    std::vector<YAML::Node> documents;
    try {
        const std::string text(yaml);
        requireParserProgress(text);
        documents = YAML::LoadAll(text);
    } catch (const YAML::Exception& e) {
        const Value where{YAML::Node(), "", e.mark.is_null() ? 0 : e.mark.line + 1, &source};
        where.fail("malformed YAML: " + e.msg);
    }
    if (documents.size() > 1)
        Value{documents[1], "", lineOf(documents[1], 0), &source}.fail("only one YAML document is allowed");

    Config config;
    config.factoryCertificate = defaultFactoryCertificate();

    const Value root{documents.empty() ? YAML::Node() : documents[0], "",
                     documents.empty() ? 0 : lineOf(documents[0], 0), &source};
    if (!root.node.IsNull())
        readSection(root, kTopLevelFields, config);
    checkConfig(root, config);
    return config;
}

Config loadConfig(const std::filesystem::path& file)
{
    const Bytes data = readFile(file);
    return parseConfig(std::string_view(reinterpret_cast<const char*>(data.data()), data.size()), file);
}

Config defaultConfig()
{
    return parseConfig("", kDefaultConfigPath);
}

namespace {

// One key as a reload sees it: whether a running certd applies a change of it, and how to
// compare it and carry the running value over. `Get` returns the member (const or not).
struct ReloadRule {
    std::string_view name;
    bool live;
    std::function<bool(const Config&, const Config&)> same;
    std::function<void(Config& to, const Config& from)> keep;
};

template <typename Get>
ReloadRule rule(std::string_view name, bool live, Get get)
{
    return {name, live, [get](const Config& a, const Config& b) { return get(a) == get(b); },
            [get](Config& to, const Config& from) { get(to) = get(from); }};
}

// Every key of kTopLevelFields, sections whole where only the whole matters. Restart-only: what
// certd reads once at start-up (the store, the terminator process it spawns, the netlink monitor) and the
// factory certificate's subject, which only matters when that certificate is made.
const std::vector<ReloadRule>& reloadRules()
{
    static const std::vector<ReloadRule> rules{
        rule(
            "state_directory", false, [](auto& c) -> auto& { return c.stateDirectory; }),
        rule(
            "addresses", true, [](auto& c) -> auto& { return c.addresses; }),
        rule(
            "discovery", false, [](auto& c) -> auto& { return c.discovery; }),
        rule(
            "port", true, [](auto& c) -> auto& { return c.port; }),
        rule(
            "acme_http_port", true, [](auto& c) -> auto& { return c.acmeHttpPort; }),
        rule(
            "acme_dns_hook", true, [](auto& c) -> auto& { return c.acmeDnsHook; }),
        rule(
            "acme_retry_seconds", true, [](auto& c) -> auto& { return c.acmeRetrySeconds; }),
        rule(
            "freebind", false, [](auto& c) -> auto& { return c.freebind; }),
        rule(
            "backend", true, [](auto& c) -> auto& { return c.backend; }),
        rule(
            "proxy_protocol", true, [](auto& c) -> auto& { return c.proxyProtocol; }),
        rule(
            "tls_profile", true, [](auto& c) -> auto& { return c.tlsProfile; }),
        rule(
            "admin_group", true, [](auto& c) -> auto& { return c.adminGroup; }),
        rule(
            "key_export_group", true, [](auto& c) -> auto& { return c.keyExportGroup; }),
        rule(
            "factory_certificate", false, [](auto& c) -> auto& { return c.factoryCertificate; }),
        rule(
            "expiry_warning_days", true, [](auto& c) -> auto& { return c.expiryWarningDays; }),
        rule(
            "terminator.user", false, [](auto& c) -> auto& { return c.terminator.user; }),
        rule(
            "terminator.workers", true, [](auto& c) -> auto& { return c.terminator.workers; }),
        rule(
            "terminator.handshake_timeout_ms", true,
            [](auto& c) -> auto& { return c.terminator.handshakeTimeout; }),
        rule(
            "terminator.idle_timeout_ms", true, [](auto& c) -> auto& { return c.terminator.idleTimeout; }),
        rule(
            "terminator.max_connections", true, [](auto& c) -> auto& { return c.terminator.maxConnections; }),
        rule(
            "terminator.binary", false, [](auto& c) -> auto& { return c.terminator.binary; }),
        rule(
            "bus_max_message_size", true, [](auto& c) -> auto& { return c.busMaxMessageSize; }),
    };
    return rules;
}

} // namespace

unsigned expiringSoonDays(const Config& config)
{
    const auto& days = config.expiryWarningDays;
    return days.empty() ? 30 : *std::max_element(days.begin(), days.end());
}

ConfigDifference compareConfigs(const Config& running, const Config& next)
{
    ConfigDifference difference;
    for (const auto& r : reloadRules())
        if (!r.same(running, next))
            (r.live ? difference.live : difference.restartOnly).emplace_back(r.name);
    return difference;
}

Config reloadedConfig(const Config& running, const Config& next)
{
    Config config = next;
    for (const auto& r : reloadRules())
        if (!r.live)
            r.keep(config, running);
    return config;
}

} // namespace certd
