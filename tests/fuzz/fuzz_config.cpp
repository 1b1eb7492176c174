// fuzz-config: arbitrary text as /etc/certd/certd.yaml, through parseConfig, which
// loadConfig (certd's start-up) calls with the file's contents.
//
// Findings: a crash or sanitizer report; any exception but Error(InvalidArgument), the only
// one parseConfig promises for bad text (a yaml-cpp exception escaping would reach the
// operator without file and line); an accepted Config that breaks what config.hpp says of it.

#include "fuzz.hpp"

#include "config.hpp"
#include "error.hpp"
#include "text.hpp"

#include <algorithm>
#include <set>
#include <string>

using namespace certd;

namespace {

void checkAccepted(const Config& config)
{
    fuzz::require(config.stateDirectory.is_absolute(), "state_directory is not absolute");
    for (const auto& address : config.addresses)
        fuzz::require(certd::canonicalIp(address) == address, "an address is not in canonical form");
    fuzz::require(std::set<std::string>(config.addresses.begin(), config.addresses.end()).size() ==
                      config.addresses.size(),
                  "addresses holds a duplicate");
    fuzz::require(config.port != 0, "port is 0");
    fuzz::require(std::adjacent_find(config.expiryWarningDays.begin(), config.expiryWarningDays.end(),
                                     [](unsigned a, unsigned b) { return a <= b; }) ==
                      config.expiryWarningDays.end(),
                  "expiry_warning_days is not strictly descending");
    const tls::Backend& backend = config.backend;
    if (backend.kind == tls::Backend::Kind::Unix) {
        fuzz::require(backend.path.is_absolute(), "a unix backend path is not absolute");
    } else {
        fuzz::require(backend.port != 0 && !backend.host.empty(), "a tcp backend lacks host or port");
        fuzz::require(backend.host.front() != '[', "a tcp backend host kept its brackets");
    }
    fuzz::require(!config.terminator.binary.empty() ? config.terminator.binary.is_absolute() : true,
                  "terminator.binary is not absolute");
    fuzz::require(config.terminator.maxConnections >= 1, "terminator.max_connections is 0");
    fuzz::require(!config.factoryCertificate.friendlyName.empty(), "factory_certificate has no name");
    (void)describeBackend(backend);
    (void)tlsProfileName(config.tlsProfile);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const std::string_view yaml(reinterpret_cast<const char*>(data), size);
    try {
        checkAccepted(parseConfig(yaml, std::string(kDefaultConfigPath)));
    } catch (const Error& e) {
        if (e.code() != ErrorCode::InvalidArgument)
            fuzz::fail("parseConfig threw an error code it does not promise", e.what());
        const std::string_view message = e.what();
        fuzz::require(message.starts_with(kDefaultConfigPath),
                      "a configuration error does not name the file");
    }
    return 0;
}
