#pragma once

// certd's configuration file (/etc/certd/certd.yaml): one immutable, validated
// value built at start-up. config/certd.yaml documents every key.

#include "pki/spec.hpp"
#include "tls/desired_state.hpp"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace certd {

inline constexpr std::string_view kDefaultConfigPath = "/etc/certd/certd.yaml";

// Serving the host's own addresses, as netlink reports them, besides the listed ones.
struct Discovery {
    bool enabled = false;
    std::vector<std::string> interfaces; // only these interfaces; empty: all but loopback
    bool operator==(const Discovery&) const = default;
};

struct TerminatorConfig {
    std::string user = "certd-tls"; // account certd-tls runs as when certd can switch uid
    unsigned workers = 0;           // event-loop threads; 0: one per CPU core
    std::chrono::milliseconds handshakeTimeout{10'000};
    std::chrono::milliseconds idleTimeout{300'000}; // a connection with no traffic either way is closed
    unsigned maxConnections = 10'000;               // across all workers; further accepts wait
    std::filesystem::path binary;                   // empty: certd-tls beside the certd executable
    bool operator==(const TerminatorConfig&) const = default;
};

struct Config {
    std::filesystem::path stateDirectory = "/var/lib/certd"; // always absolute
    std::vector<std::string> addresses;                      // canonical IPv4/IPv6 literals, no duplicates
    Discovery discovery;
    std::uint16_t port = 443;
    std::uint16_t acmeHttpPort = 80;   // where certd-tls answers http-01 while an ACME order needs it
    std::filesystem::path acmeDnsHook; // dns-01: the program that publishes TXT records (acme/hook.hpp)
    unsigned acmeRetrySeconds = 30;    // first retry after a failed ACME order or renewal; doubles to a day
    bool freebind = false;             // IP_FREEBIND: listen on addresses not (yet) configured on the host
    tls::Backend backend;
    tls::ProxyProtocol proxyProtocol = tls::ProxyProtocol::Off;
    tls::TlsProfile tlsProfile = tls::TlsProfile::Intermediate;
    std::string adminGroup = "certd-admin"; // members may change certificates and bindings
    std::string keyExportGroup;             // members may export private keys; empty: uid 0 only
    // Subject, key and lifetime of the factory default certificate, validated and normalised
    // with pki::validateSpec(). Its defaults ("Appliance", rsa2048, the host name as common
    // name, 3650 days) come from parseConfig()/defaultConfig(), not from Config{}.
    pki::CertificateSpec factoryCertificate;
    std::vector<unsigned> expiryWarningDays{30, 7, 1}; // descending, no duplicates
    TerminatorConfig terminator;
    // The bus's max_message_size (dbus-daemon's default, 32 MiB): GetManagedObjects refuses
    // with TooLarge rather than send a reply the bus would drop certd's connection for.
    std::uint32_t busMaxMessageSize = 33554432;
};

// Reads and parses `file`. Throws Error(InvalidArgument) "<file>:<line>: <key>: <reason>"
// for malformed YAML, an unknown key or a bad value, and Error(Internal) if unreadable.
Config loadConfig(const std::filesystem::path& file);
// Parses YAML text; `origin` names it in messages and relative paths resolve against its folder.
Config parseConfig(std::string_view yaml, const std::filesystem::path& origin);
// What an empty configuration file gives.
Config defaultConfig();

// Every key the file may hold, nested ones dotted ("terminator.workers"), in table order.
std::vector<std::string> knownConfigKeys();

// When a certificate's Warnings gain "expiring-soon": the largest expiry_warning_days
// threshold, 30 when the list is empty.
unsigned expiringSoonDays(const Config& config);

// How a reload treats the keys whose values differ between the running and the new configuration
// (dotted names, in table order).
struct ConfigDifference {
    std::vector<std::string> live;        // applied by the reload
    std::vector<std::string> restartOnly; // kept at the running value until the next restart
};
ConfigDifference compareConfigs(const Config& running, const Config& next);
// What a reload runs with: `next`, but the restart-only keys keep `running`'s values.
Config reloadedConfig(const Config& running, const Config& next);

// "tcp:127.0.0.1:8080", "tcp:[::1]:8080", "unix:/run/app.sock": the form the file uses.
std::string describeBackend(const tls::Backend& backend);
std::string_view tlsProfileName(tls::TlsProfile profile);

} // namespace certd
