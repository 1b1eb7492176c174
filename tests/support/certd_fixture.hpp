#pragma once

// A private system-type dbus-daemon and a real certd on it, in a temporary
// directory, for integration tests. DBUS_SYSTEM_BUS_ADDRESS is pointed at the
// bus while the fixture lives, so the client library, busctl and certctl all
// reach this certd.

#include "temp_dir.hpp"

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace certd::test {

// Paths of the binaries under test (meson passes them in the environment).
std::string certdBinary();
std::string certctlBinary();

class PrivateBus {
public:
    PrivateBus();
    ~PrivateBus();
    PrivateBus(const PrivateBus&) = delete;
    PrivateBus& operator=(const PrivateBus&) = delete;
    const std::string& address() const { return address_; }
    // Points DBUS_SYSTEM_BUS_ADDRESS of this process (and its children) at the bus.
    void use() const;

private:
    TempDir dir_;
    pid_t pid_ = -1;
    std::string address_;
};

class CertdProcess {
public:
    // Writes certd.yaml (the DESIGN §6 minimum plus `extraConfig` lines) in its own directory.
    CertdProcess(const PrivateBus& bus, const std::vector<std::string>& extraConfig = {});
    ~CertdProcess();
    CertdProcess(const CertdProcess&) = delete;
    CertdProcess& operator=(const CertdProcess&) = delete;

    void start(); // returns once org.certd1 answers
    void stop();  // SIGTERM; requires a clean exit
    void kill();  // SIGKILL
    bool running() const { return pid_ > 0; }
    std::filesystem::path stateDirectory() const { return dir_.path() / "state"; }
    const std::filesystem::path& directory() const { return dir_.path(); }
    std::string log() const;
    // The TLS port the addresses are served on.
    std::uint16_t port() const { return port_; }
    // Every file under the state directory with its bytes, for "state unchanged" checks.
    std::vector<std::pair<std::string, std::string>> snapshotState() const;

private:
    const PrivateBus& bus_;
    TempDir dir_;
    pid_t pid_ = -1;
    std::uint16_t port_ = 0;
};

} // namespace certd::test
