#include "config.hpp"
#include "error.hpp"
#include "temp_dir.hpp"

#include <doctest/doctest.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <climits>
#include <fstream>
#include <set>

using certd::compareConfigs;
using certd::Config;
using certd::defaultConfig;
using certd::knownConfigKeys;
using certd::parseConfig;
using certd::reloadedConfig;
using certd::tls::Backend;
using certd::tls::ProxyProtocol;
using certd::tls::TlsProfile;

namespace {

namespace fs = std::filesystem;

// Where the texts below claim to come from: messages name it, relative paths start at /etc/certd.
constexpr std::string_view kOrigin = "/etc/certd/certd.yaml";

// The example config/certd.yaml in the source tree. meson compiles with __FILE__ relative
// to the build directory, where `meson test` runs; run by hand, look upwards from the binary.
fs::path shippedConfig()
{
    fs::path relative = fs::path(__FILE__).parent_path() / "../../config/certd.yaml";
    if (relative.is_absolute() || fs::exists(relative))
        return relative;
    for (fs::path dir = fs::read_symlink("/proc/self/exe").parent_path(); dir != dir.root_path();
         dir = dir.parent_path())
        if (fs::exists(dir / relative))
            return (dir / relative).lexically_normal();
    return relative;
}

Config parse(std::string_view yaml)
{
    return parseConfig(yaml, kOrigin);
}

// Parses `yaml`, which must be refused with InvalidArgument; returns the message.
std::string refusal(std::string_view yaml)
{
    try {
        parse(yaml);
    } catch (const certd::Error& e) {
        CHECK(e.code() == certd::ErrorCode::InvalidArgument);
        return e.what();
    }
    FAIL("accepted: " << yaml);
    return {};
}

// Each text is refused with a message containing its expected part ("certd.yaml:LINE: KEY: reason").
void checkRefusals(std::initializer_list<std::pair<std::string, std::string>> cases)
{
    for (const auto& refused : cases) {
        const std::string& yaml = refused.first;
        const std::string& expected = refused.second;
        CAPTURE(yaml);
        const std::string message = refusal(yaml);
        CAPTURE(message);
        CHECK(message.find(expected) != std::string::npos);
    }
}

void writeFile(const fs::path& path, std::string_view text)
{
    std::ofstream(path) << text;
}

std::string hostName()
{
    char name[HOST_NAME_MAX + 1] = {};
    REQUIRE(gethostname(name, sizeof(name) - 1) == 0);
    return name;
}

// Every key of a YAML map, nested ones dotted, as knownConfigKeys() names them.
void collectKeys(const YAML::Node& map, const std::string& parent, std::set<std::string>& keys)
{
    for (const auto& entry : map) {
        const std::string key = parent.empty() ? entry.first.Scalar() : parent + "." + entry.first.Scalar();
        keys.insert(key);
        if (entry.second.IsMap())
            collectKeys(entry.second, key, keys);
    }
}

} // namespace

TEST_CASE("the minimal example from the design is accepted")
{
    const Config config = parse(R"(
state_directory: ./state          # relative to the config file's folder
addresses: [127.0.0.2, 127.0.0.3] # appliance IPs to serve; plus discovery if enabled
port: 8443
backend: tcp:127.0.0.1:8080       # or unix:/path
)");
    CHECK(config.stateDirectory == "/etc/certd/state");
    CHECK(config.addresses == std::vector<std::string>{"127.0.0.2", "127.0.0.3"});
    CHECK(config.port == 8443);
    CHECK(config.backend.kind == Backend::Kind::Tcp);
    CHECK(config.backend.host == "127.0.0.1");
    CHECK(config.backend.port == 8080);
    CHECK_FALSE(config.discovery.enabled);
}

TEST_CASE("a relative state_directory is taken from the config file's folder")
{
    certd::test::TempDir dir;
    fs::create_directories(dir / "etc");
    writeFile(dir / "etc/certd.yaml", "state_directory: ../var/state\n");
    CHECK(certd::loadConfig(dir / "etc/certd.yaml").stateDirectory == dir.path() / "var/state");

    // An absolute path is kept, relative ones resolve against a relative origin's folder too.
    CHECK(parse("state_directory: /srv/certd/\n").stateDirectory == "/srv/certd/");
    CHECK(parseConfig("state_directory: s\n", "conf/certd.yaml").stateDirectory ==
          fs::current_path() / "conf/s");
}

TEST_CASE("an empty file gives the documented defaults")
{
    for (const std::string_view empty : {"", "# only a comment\n", "---\n"}) {
        CAPTURE(empty);
        const Config config = parse(empty);
        CHECK(config.stateDirectory == "/var/lib/certd");
        CHECK(config.addresses.empty());
        CHECK_FALSE(config.discovery.enabled);
        CHECK(config.discovery.interfaces.empty());
        CHECK(config.port == 443);
        CHECK_FALSE(config.freebind);
        CHECK(certd::describeBackend(config.backend) == "tcp:127.0.0.1:8080");
        CHECK(config.proxyProtocol == certd::tls::ProxyProtocol::Off);
        CHECK(config.tlsProfile == certd::tls::TlsProfile::Intermediate);
        CHECK(config.adminGroup == "certd-admin");
        CHECK(config.keyExportGroup.empty());
        CHECK(config.factoryCertificate.friendlyName == "Appliance");
        CHECK(config.factoryCertificate.subject.commonName == hostName());
        CHECK(config.factoryCertificate.keyType == certd::pki::KeyType::Rsa2048);
        CHECK(config.factoryCertificate.days == 3650);
        CHECK(config.expiryWarningDays == std::vector<unsigned>{30, 7, 1});
        CHECK(config.terminator == certd::TerminatorConfig{});
        CHECK(config.terminator.user == "certd-tls");
        CHECK(config.terminator.workers == 0);
        CHECK(config.terminator.binary.empty());
    }
    CHECK(certd::defaultConfig().port == 443);
    CHECK(certd::defaultConfig().factoryCertificate.subject.commonName == hostName());
}

TEST_CASE("every key is read into its own field")
{
    const Config config = parse(R"(
state_directory: /srv/certd
addresses: [192.0.2.10, "2001:DB8:0:0::10"]
discovery:
  enabled: yes
  interfaces: [eth0, bond0]
port: 8443
freebind: true
backend: unix:/run/app.sock
proxy_protocol: v2
tls_profile: modern
admin_group: wheel
key_export_group: certd-export
factory_certificate:
  friendly_name: Factory
  common_name: box.example.com
  organization: Example AG
  organizational_unit: Ops
  locality: Berlin
  state: Berlin
  country: DE
  subject_alt_names: ["DNS:box.example.com", "IP:192.0.2.10"]
  key_type: ec-p384
  days: 825
expiry_warning_days: [1, 60, 14]
terminator:
  user: tls
  workers: 4
  handshake_timeout_ms: 5000
  idle_timeout_ms: 60000
  max_connections: 200
  binary: /usr/libexec/certd-tls
)");
    CHECK(config.stateDirectory == "/srv/certd");
    CHECK(config.addresses == std::vector<std::string>{"192.0.2.10", "2001:db8::10"});
    CHECK(config.discovery.enabled);
    CHECK(config.discovery.interfaces == std::vector<std::string>{"eth0", "bond0"});
    CHECK(config.port == 8443);
    CHECK(config.freebind);
    CHECK(config.backend.kind == Backend::Kind::Unix);
    CHECK(config.backend.path == "/run/app.sock");
    CHECK(config.proxyProtocol == certd::tls::ProxyProtocol::V2);
    CHECK(config.tlsProfile == certd::tls::TlsProfile::Modern);
    CHECK(certd::tlsProfileName(config.tlsProfile) == "modern");
    CHECK(config.adminGroup == "wheel");
    CHECK(config.keyExportGroup == "certd-export");
    const auto& factory = config.factoryCertificate;
    CHECK(factory.friendlyName == "Factory");
    CHECK(factory.subject.commonName == "box.example.com");
    CHECK(factory.subject.organization == "Example AG");
    CHECK(factory.subject.organizationalUnit == "Ops");
    CHECK(factory.subject.locality == "Berlin");
    CHECK(factory.subject.state == "Berlin");
    CHECK(factory.subject.country == "DE");
    REQUIRE(factory.subjectAltNames.size() == 2);
    CHECK(certd::pki::formatSubjectAltName(factory.subjectAltNames[0]) == "DNS:box.example.com");
    CHECK(certd::pki::formatSubjectAltName(factory.subjectAltNames[1]) == "IP:192.0.2.10");
    CHECK(factory.keyType == certd::pki::KeyType::EcP384);
    CHECK(factory.days == 825);
    CHECK(config.expiryWarningDays == std::vector<unsigned>{60, 14, 1}); // soonest warning last
    CHECK(config.terminator.user == "tls");
    CHECK(config.terminator.workers == 4);
    CHECK(config.terminator.handshakeTimeout == std::chrono::milliseconds(5000));
    CHECK(config.terminator.idleTimeout == std::chrono::milliseconds(60000));
    CHECK(config.terminator.maxConnections == 200);
    CHECK(config.terminator.binary == "/usr/libexec/certd-tls");
}

TEST_CASE("the factory certificate's DNS common name becomes its first SAN")
{
    const Config config = parse("factory_certificate:\n  common_name: box.example.com\n");
    REQUIRE_FALSE(config.factoryCertificate.subjectAltNames.empty());
    CHECK(certd::pki::formatSubjectAltName(config.factoryCertificate.subjectAltNames.front()) ==
          "DNS:box.example.com");
    // The subject is normalised as CreateSelfSigned normalises it.
    CHECK(parse("factory_certificate:\n  country: de\n").factoryCertificate.subject.country == "DE");
    // An empty common name means the host name, as when the key is left out.
    CHECK(parse("factory_certificate:\n  common_name: \"\"\n").factoryCertificate.subject.commonName ==
          hostName());
}

TEST_CASE("the factory certificate may use any key type CreateSelfSigned takes, Ed25519 and Ed448 too")
{
    CHECK(parse("factory_certificate:\n  key_type: ed25519\n").factoryCertificate.keyType ==
          certd::pki::KeyType::Ed25519);
    CHECK(parse("factory_certificate:\n  key_type: ed448\n").factoryCertificate.keyType ==
          certd::pki::KeyType::Ed448);
    CHECK(parse("factory_certificate:\n  key_type: ec-p256\n").factoryCertificate.keyType ==
          certd::pki::KeyType::EcP256);
}

TEST_CASE("IPv6 addresses and every backend form are understood")
{
    const Config config = parse("addresses: [\"0:0::1\", fe80::1, 127.0.0.2]\nbackend: tcp:[0::1]:8080\n");
    CHECK(config.addresses == std::vector<std::string>{"::1", "fe80::1", "127.0.0.2"});
    CHECK(config.backend.host == "::1");
    CHECK(config.backend.port == 8080);
    CHECK(certd::describeBackend(config.backend) == "tcp:[::1]:8080");

    CHECK(parse("backend: tcp:localhost:8080\n").backend.host == "localhost");
    const Backend named = parse("backend: tcp:app.internal:9000\n").backend;
    CHECK(named.kind == Backend::Kind::Tcp);
    CHECK(named.host == "app.internal");
    CHECK(named.port == 9000);

    const Backend unixSocket = parse("backend: unix:/run/app.sock\n").backend;
    CHECK(unixSocket.kind == Backend::Kind::Unix);
    CHECK(unixSocket.path == "/run/app.sock");
    CHECK(certd::describeBackend(unixSocket) == "unix:/run/app.sock");
    // A relative socket path is taken from the config file's folder, like every path.
    CHECK(parse("backend: unix:sockets/app.sock\n").backend.path == "/etc/certd/sockets/app.sock");
}

TEST_CASE("proxy_protocol takes a bool or v2")
{
    CHECK(parse("proxy_protocol: true\n").proxyProtocol == certd::tls::ProxyProtocol::V2);
    CHECK(parse("proxy_protocol: v2\n").proxyProtocol == certd::tls::ProxyProtocol::V2);
    CHECK(parse("proxy_protocol: false\n").proxyProtocol == certd::tls::ProxyProtocol::Off);
    CHECK(parse("expiry_warning_days: []\n").expiryWarningDays.empty());
}

TEST_CASE("values of the wrong type are refused with file, line and key")
{
    checkRefusals({
        {"port: 8443\nport2: 1\n", "certd.yaml:2: port2: unknown key"},
        {"state_directory: ./s\nport: abc\n",
         "/etc/certd/certd.yaml:2: port: expected an integer from 1 to 65535, got \"abc\""},
        {"port: [443]\n", "certd.yaml:1: port: expected an integer from 1 to 65535, got a list"},
        {"addresses: 5\n", "certd.yaml:1: addresses: expected a list, got \"5\""},
        {"addresses:\n  - [127.0.0.2]\n",
         "certd.yaml:2: addresses[0]: expected an IPv4 or IPv6 address, got a list"},
        {"freebind: maybe\n", "certd.yaml:1: freebind: expected true or false, got \"maybe\""},
        {"discovery: true\n", "certd.yaml:1: discovery: expected a map of keys, got \"true\""},
        {"discovery:\n  enabled: 3\n", "certd.yaml:2: discovery.enabled: expected true or false"},
        {"terminator:\n  user: {name: x}\n", "certd.yaml:2: terminator.user: expected a string, got a map"},
        {"factory_certificate:\n  days: soon\n",
         "certd.yaml:2: factory_certificate.days: expected an integer, got \"soon\""},
        {"factory_certificate: rsa\n", "certd.yaml:1: factory_certificate: expected a map of keys"},
        {"expiry_warning_days: 30\n", "certd.yaml:1: expiry_warning_days: expected a list"},
        // An empty value points at its key's line, not at the next key.
        {"port:\nbackend: tcp:127.0.0.1:80\n",
         "certd.yaml:1: port: expected an integer from 1 to 65535, got nothing"},
        {"- port: 443\n", "certd.yaml:1: expected a map of keys, got a list"},
    });
}

TEST_CASE("out-of-range numbers are refused with file, line and key")
{
    checkRefusals({
        {"port: 0\n", "certd.yaml:1: port: expected an integer from 1 to 65535, got \"0\""},
        {"\n\nport: 65536\n", "certd.yaml:3: port: expected an integer from 1 to 65535"},
        {"port: -1\n", "certd.yaml:1: port:"},
        {"expiry_warning_days: [30, -1]\n",
         "certd.yaml:1: expiry_warning_days[1]: expected an integer from 0 to 3650"},
        {"expiry_warning_days: [7, 30, 7]\n",
         "certd.yaml:1: expiry_warning_days[2]: duplicate of expiry_warning_days[0]"},
        {"terminator:\n  workers: 2000\n",
         "certd.yaml:2: terminator.workers: expected an integer from 0 to 1024"},
        {"terminator:\n  handshake_timeout_ms: 5\n",
         "certd.yaml:2: terminator.handshake_timeout_ms: expected an integer from 100 to 600000"},
        {"terminator:\n  idle_timeout_ms: 1.5\n",
         "certd.yaml:2: terminator.idle_timeout_ms: expected an integer from 1000"},
        {"terminator:\n  max_connections: 0\n",
         "certd.yaml:2: terminator.max_connections: expected an integer from 1 to 1000000"},
        {"factory_certificate:\n  days: 0\n",
         "certd.yaml:2: factory_certificate.days: 0 is out of range; use 1 to 36500"},
    });
}

TEST_CASE("bad addresses and interface names are refused")
{
    checkRefusals({
        {"addresses:\n  - 127.0.0.2\n  - 300.1.1.1\n",
         "certd.yaml:3: addresses[1]: \"300.1.1.1\" is not an IPv4 or IPv6 address"},
        {"addresses: [127.1]\n", "addresses[0]: \"127.1\" is not an IPv4 or IPv6 address"},
        {"addresses: [\"fe80::1%eth0\"]\n", "addresses[0]: \"fe80::1%eth0\" is not"},
        {"addresses: [::1, \"0:0::1\"]\n", "certd.yaml:1: addresses[1]: duplicate of addresses[0]"},
        {"addresses: [0.0.0.0]\n", "addresses[0]: the wildcard address"},
        {"addresses: [\"::\"]\n", "addresses[0]: the wildcard address"},
        {"discovery:\n  interfaces: [eth0, eth0]\n", "certd.yaml:2: discovery.interfaces[1]: duplicate"},
        {"discovery:\n  interfaces: [a/b]\n",
         "discovery.interfaces[0]: \"a/b\" is not a network interface name"},
        {"discovery:\n  interfaces: [averyveryverylongname]\n",
         "discovery.interfaces[0]: longer than 15 characters"},
    });
}

TEST_CASE("bad backends are refused with the reason")
{
    checkRefusals({
        {"backend: http://127.0.0.1:80\n", "certd.yaml:1: backend: expected tcp:HOST:PORT or unix:PATH"},
        {"backend: tcp:127.0.0.1\n", "backend: expected tcp:HOST:PORT, got \"tcp:127.0.0.1\""},
        {"backend: tcp:127.0.0.1:0\n", "backend: port in"},
        {"backend: tcp:::1:8080\n", "backend: write an IPv6 backend in brackets: tcp:[::1]:PORT"},
        {"backend: tcp:[127.0.0.1]:80\n", "backend: \"[127.0.0.1]\" is not a bracketed IPv6 address"},
        {"backend: tcp:bad_host!:80\n", "backend: \"bad_host!\" is not an IP address or host name"},
        {"backend: \"unix:\"\n", "backend: unix: needs a socket path"},
        {"backend: unix:/run/" + std::string(110, 'x') + ".sock\n",
         "backend: socket path longer than 107 bytes"},
        // Forwarding to the listener itself would loop every connection back into certd.
        {"addresses: [127.0.0.2]\nport: 8443\nbackend: tcp:127.0.0.2:8443\n",
         "certd.yaml:3: backend: points at certd's own listener"},
    });
}

TEST_CASE("bad names and choices are refused with the accepted ones")
{
    checkRefusals({
        {"proxy_protocol: v1\n", "certd.yaml:1: proxy_protocol: expected false, true or v2, got \"v1\""},
        {"tls_profile: old\n",
         "certd.yaml:1: tls_profile: expected one of intermediate, modern, got \"old\""},
        {"admin_group: \"\"\n", "certd.yaml:1: admin_group: must not be empty"},
        {"admin_group: certd admin\n", "admin_group: \"certd admin\" is not a valid user or group name"},
        {"key_export_group: \"a:b\"\n", "key_export_group: \"a:b\" is not a valid user or group name"},
        {"terminator:\n  user: \"\"\n", "certd.yaml:2: terminator.user: must not be empty"},
        {"factory_certificate:\n  key_type: dsa\n",
         "certd.yaml:2: factory_certificate.key_type: expected "
         "one of rsa2048, rsa3072, rsa4096, ec-p256, ec-p384, ed25519, ed448, got \"dsa\""},
        {"factory_certificate:\n  country: XX\n",
         "certd.yaml:2: factory_certificate.country: 'XX' is not an ISO 3166"},
        {"factory_certificate:\n  country: Germany\n",
         "factory_certificate.country: 'Germany' is not an ISO 3166"},
        {"factory_certificate:\n  common_name: " + std::string(65, 'a') + "\n",
         "certd.yaml:2: factory_certificate.common_name: is 65 characters long; at most 64"},
        {"factory_certificate:\n  friendly_name: \"\"\n",
         "factory_certificate.friendly_name: must not be empty"},
        {"factory_certificate:\n  subject_alt_names:\n    - DNS:ok.example.com\n    - IP:999.1.1.1\n",
         "certd.yaml:4: factory_certificate.subject_alt_names[1]:"},
    });
}

TEST_CASE("unknown keys are refused at any level, naming the key and the known ones")
{
    checkRefusals({
        {"prot: 8443\n", "certd.yaml:1: prot: unknown key (known here: state_directory, addresses,"},
        {"terminator:\n  user: certd-tls\n  wrokers: 2\n",
         "certd.yaml:3: terminator.wrokers: unknown key (known here: user, workers,"},
        {"factory_certificate:\n  cn: x\n", "certd.yaml:2: factory_certificate.cn: unknown key"},
        {"discovery:\n  enable: true\n", "certd.yaml:2: discovery.enable: unknown key"},
        {"port: 443\nport: 8443\n", "certd.yaml:2: port: key given twice"},
    });
}

TEST_CASE("malformed YAML is refused with its line")
{
    checkRefusals({
        {"port: 8443\naddresses: [127.0.0.2,\n",
         "/etc/certd/certd.yaml:3: malformed YAML: end of sequence flow not found"},
        {"port: 8443\n  backend: x\n", "certd.yaml:2: malformed YAML: illegal map value"},
        {"port: 1\naddresses: [127.0.0.2]]\n", "certd.yaml:2: malformed YAML: illegal flow end"},
        {"port: 1\nbackend: *unix\n", "certd.yaml:2: malformed YAML: the referenced anchor is not defined"},
        {"port: 8443\n---\nport: 443\n", "certd.yaml:3: only one YAML document is allowed"},
        // yaml-cpp's LoadAll alone never returns on these (tests/fuzz/corpus/config/regression-*).
        {",\n", "certd.yaml:1: malformed YAML: unexpected token"},
        {"- 7\n,\n", "certd.yaml:2: malformed YAML: unexpected token"},
    });
}

TEST_CASE("loadConfig names a file it cannot read")
{
    certd::test::TempDir dir;
    try {
        certd::loadConfig(dir / "missing.yaml");
        FAIL("a missing file was accepted");
    } catch (const certd::Error& e) {
        CHECK(std::string(e.what()).find((dir / "missing.yaml").string()) != std::string::npos);
    }
    writeFile(dir / "certd.yaml", "port: 99999\n");
    const std::string where = (dir / "certd.yaml").string() + ":1: port:";
    CHECK_THROWS_WITH_AS(certd::loadConfig(dir / "certd.yaml"), doctest::Contains(where.c_str()),
                         certd::Error);
}

TEST_CASE("the shipped config/certd.yaml loads, states every key and its defaults")
{
    const fs::path file = shippedConfig();
    INFO(file.string());
    const Config shipped = certd::loadConfig(file); // refuses any unknown key

    std::set<std::string> inFile;
    collectKeys(YAML::LoadFile(file.string()), "", inFile);
    for (const std::string& key : certd::knownConfigKeys()) {
        CAPTURE(key);
        CHECK(inFile.count(key) == 1);
    }

    // The shipped values are the defaults, so the file documents what an absent key means.
    const Config defaults = certd::defaultConfig();
    CHECK(shipped.stateDirectory == defaults.stateDirectory);
    CHECK(shipped.addresses == defaults.addresses);
    CHECK(shipped.discovery == defaults.discovery);
    CHECK(shipped.port == defaults.port);
    CHECK(shipped.freebind == defaults.freebind);
    CHECK(shipped.backend == defaults.backend);
    CHECK(shipped.proxyProtocol == defaults.proxyProtocol);
    CHECK(shipped.tlsProfile == defaults.tlsProfile);
    CHECK(shipped.adminGroup == defaults.adminGroup);
    CHECK(shipped.keyExportGroup == defaults.keyExportGroup);
    CHECK(shipped.factoryCertificate.friendlyName == defaults.factoryCertificate.friendlyName);
    CHECK(shipped.factoryCertificate.subject.commonName == defaults.factoryCertificate.subject.commonName);
    CHECK(shipped.factoryCertificate.keyType == defaults.factoryCertificate.keyType);
    CHECK(shipped.factoryCertificate.days == defaults.factoryCertificate.days);
    CHECK(shipped.factoryCertificate.subjectAltNames == defaults.factoryCertificate.subjectAltNames);
    CHECK(shipped.expiryWarningDays == defaults.expiryWarningDays);
    CHECK(shipped.terminator == defaults.terminator);
    CHECK(shipped.busMaxMessageSize == defaults.busMaxMessageSize);
}

TEST_CASE("a reload applies the live keys and keeps the restart-only ones")
{
    const Config running = parse("addresses: [127.0.0.2]\nport: 8443\nfreebind: false\n");
    const Config next = parse(R"(
state_directory: /srv/certd
addresses: [127.0.0.3]
port: 9443
freebind: true
tls_profile: modern
admin_group: wheel
expiry_warning_days: [10]
terminator:
  workers: 3
  user: someone
)");
    const auto difference = compareConfigs(running, next);
    CHECK(difference.live == std::vector<std::string>{"addresses", "port", "tls_profile", "admin_group",
                                                      "expiry_warning_days", "terminator.workers"});
    CHECK(difference.restartOnly ==
          std::vector<std::string>{"state_directory", "freebind", "terminator.user"});

    const Config reloaded = reloadedConfig(running, next);
    CHECK(reloaded.addresses == std::vector<std::string>{"127.0.0.3"});
    CHECK(reloaded.port == 9443);
    CHECK(reloaded.tlsProfile == TlsProfile::Modern);
    CHECK(reloaded.adminGroup == "wheel");
    CHECK(reloaded.terminator.workers == 3);
    CHECK(reloaded.stateDirectory == running.stateDirectory);
    CHECK_FALSE(reloaded.freebind);
    CHECK(reloaded.expiryWarningDays == std::vector<unsigned>{10});
    CHECK(certd::expiringSoonDays(reloaded) == 10);
    CHECK(reloaded.terminator.user == running.terminator.user);

    const auto none = compareConfigs(running, running);
    CHECK(none.live.empty());
    CHECK(none.restartOnly.empty());
}

TEST_CASE("every key is named by a reload's comparison")
{
    // A key that compareConfigs() forgot would be silently ignored by a reload.
    std::set<std::string> sections;
    for (const auto& key : knownConfigKeys())
        if (const auto dot = key.find('.'); dot != std::string::npos)
            sections.insert(key.substr(0, dot));
    const Config a = defaultConfig();
    Config b = a;
    b.stateDirectory = "/elsewhere";
    b.addresses = {"127.0.0.9"};
    b.discovery.enabled = true;
    b.port = 1;
    b.freebind = true;
    b.backend.port = 1;
    b.proxyProtocol = ProxyProtocol::V2;
    b.tlsProfile = TlsProfile::Modern;
    b.adminGroup = "x";
    b.keyExportGroup = "x";
    b.factoryCertificate.days = 1;
    b.expiryWarningDays = {};
    b.terminator.user = "x";
    b.terminator.workers = 7;
    b.terminator.handshakeTimeout = std::chrono::milliseconds(1);
    b.terminator.idleTimeout = std::chrono::milliseconds(1);
    b.terminator.maxConnections = 1;
    b.terminator.binary = "/x";
    b.busMaxMessageSize = 1;
    b.acmeHttpPort = 1;
    b.acmeDnsHook = "/x";
    b.acmeRetrySeconds = 1;
    const auto difference = compareConfigs(a, b);
    std::set<std::string> named(difference.live.begin(), difference.live.end());
    named.insert(difference.restartOnly.begin(), difference.restartOnly.end());
    for (const auto& key : knownConfigKeys()) {
        const auto dot = key.find('.');
        const std::string top = dot == std::string::npos ? key : key.substr(0, dot);
        // Sections are compared key by key (terminator) or whole (discovery, factory_certificate).
        INFO(key);
        CHECK((named.count(key) == 1 || (sections.count(key) == 1 && key == "terminator") ||
               (top != "terminator" && named.count(top) == 1)));
    }
}
