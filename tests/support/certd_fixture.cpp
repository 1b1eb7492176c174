#include "certd_fixture.hpp"

#include "process.hpp"

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <stdexcept>

namespace certd::test {
namespace {

std::string envOr(const char* name, const char* fallback)
{
    const char* v = std::getenv(name);
    return v && *v ? v : fallback;
}

pid_t spawn(const std::vector<std::string>& argv, const std::string& logFile, bool quietLog = false)
{
    // Unflushed test output would otherwise be written again by the child.
    std::fflush(stdout);
    std::fflush(stderr);
    const pid_t pid = ::fork();
    if (pid < 0)
        throw std::runtime_error("fork failed");
    if (pid == 0) {
        const std::string target = quietLog ? "/dev/null" : logFile;
        FILE* f = std::freopen(target.c_str(), "a", stderr);
        (void)f;
        std::freopen(target.c_str(), "a", stdout);
        std::vector<char*> args;
        args.reserve(argv.size() + 1);
        for (const auto& a : argv)
            args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        ::execvp(args[0], args.data());
        ::_exit(127);
    }
    return pid;
}

void reap(pid_t& pid, int sig, bool requireClean)
{
    if (pid <= 0)
        return;
    ::kill(pid, sig);
    int status = 0;
    ::waitpid(pid, &status, 0);
    pid = -1;
    if (requireClean && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
        throw std::runtime_error("process did not exit cleanly");
}

} // namespace

std::string certdBinary()
{
    return envOr("CERTD", "certd");
}
std::string certctlBinary()
{
    return envOr("CERTCTL", "certctl");
}

PrivateBus::PrivateBus()
{
    ::chmod(dir_.path().c_str(), 0755); // other uids (setpriv tests) must reach the socket
    const auto socket = dir_.path() / "bus.sock";
    address_ = "unix:path=" + socket.string();
    writeTestFile((dir_ / "bus.conf").string(),
                  "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN\"\n"
                  " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
                  "<busconfig><type>system</type><listen>" +
                      address_ +
                      "</listen><auth>EXTERNAL</auth>"
                      "<policy context=\"default\"><allow user=\"*\"/><allow own=\"*\"/>"
                      "<allow send_destination=\"*\"/><allow receive_sender=\"*\"/></policy></busconfig>\n");
    pid_ = spawn({"dbus-daemon", "--nofork", "--config-file=" + (dir_ / "bus.conf").string()},
                 (dir_ / "bus.log").string());
    if (!waitUntil([&] { return std::filesystem::exists(socket); }, std::chrono::seconds(60)))
        throw std::runtime_error("dbus-daemon did not start");
    use();
}

PrivateBus::~PrivateBus()
{
    reap(pid_, SIGTERM, false);
}

void PrivateBus::use() const
{
    ::setenv("DBUS_SYSTEM_BUS_ADDRESS", address_.c_str(), 1);
}

CertdProcess::CertdProcess(const PrivateBus& bus, const std::vector<std::string>& extraConfig) : bus_(bus)
{
    // A random port, so test programs running side by side do not collide on 127.0.0.2.
    port_ =
        static_cast<std::uint16_t>(20000 + (static_cast<long>(::getpid()) * 7919 + ::time(nullptr)) % 20000);
    std::string yaml = "state_directory: ./state\n"
                       "addresses: [127.0.0.2, 127.0.0.3]\n"
                       "port: " +
                       std::to_string(port_) +
                       "\n"
                       "backend: tcp:127.0.0.1:" +
                       std::to_string(port_ + 1) + "\n";
    bool terminator = false;
    for (const auto& line : extraConfig) {
        yaml += line + "\n";
        terminator = terminator || line.rfind("terminator:", 0) == 0;
    }
    if (!terminator)
        yaml += "terminator:\n  user: nobody\n"; // as root; test machines have no certd-tls user
    writeTestFile((dir_ / "certd.yaml").string(), yaml);
}

CertdProcess::~CertdProcess()
{
    reap(pid_, SIGKILL, false);
}

void CertdProcess::start()
{
    bus_.use();
    ::setenv("CERTD_LOG_STDERR", "1", 1);
    pid_ = spawn({certdBinary(), "--config", (dir_ / "certd.yaml").string()}, (dir_ / "certd.log").string());
    const bool answers = waitUntil(
        [&] {
            int status = 0;
            if (::waitpid(pid_, &status, WNOHANG) == pid_) {
                pid_ = -1;
                throw std::runtime_error("certd exited during start-up:\n" + log());
            }
            return runProcess({"busctl", "--system", "get-property", "org.certd1", "/org/certd1",
                               "org.certd1.Manager", "Version"})
                       .exitCode == 0;
        },
        std::chrono::seconds(120));
    if (!answers)
        throw std::runtime_error("certd did not take org.certd1 within 120 s:\n" + log());
}

void CertdProcess::stop()
{
    reap(pid_, SIGTERM, true);
}
void CertdProcess::kill()
{
    reap(pid_, SIGKILL, false);
}

std::string CertdProcess::log() const
{
    try {
        return readTestFile((dir_ / "certd.log").string());
    } catch (...) {
        return {};
    }
}

std::vector<std::pair<std::string, std::string>> CertdProcess::snapshotState() const
{
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& e : std::filesystem::recursive_directory_iterator(stateDirectory()))
        if (e.is_regular_file())
            out.emplace_back(e.path().lexically_relative(stateDirectory()).string(),
                             readTestFile(e.path().string()));
    std::sort(out.begin(), out.end());
    return out;
}

} // namespace certd::test
