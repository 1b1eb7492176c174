// A stand-in for certd in the terminator's integration tests: it owns a
// terminator::Supervisor on an sd-event loop and takes line commands on stdin, so a
// shell script can drive certd-tls exactly as certd will.
//
//   cert ID CHAIN.pem KEY.pem    add or replace a certificate (key: any PEM private key)
//   listen ADDR PORT CERTID      serve ADDR:PORT with the certificate
//   unlisten ADDR PORT
//   backend tcp:HOST:PORT | unix:PATH      proxy on|off      profile intermediate|modern
//   timeouts HANDSHAKE_MS IDLE_MS          maxconn N          workers N
//   flush                        the next apply rotates ticket keys and drops the session cache
//   apply                        prints "status ADDR PORT STATE SERVING ERRORNAME ERROR..." lines, then
//   "applied" swap ADDR PORT ID1 ID2 N     N applies alternating the listener between two certificates;
//   "swapped N" state | pid | wait-running   "state S" | "pid N" | "running" or "timeout" (waits up to 60 s)
//   quit
// Usage: tls-driver --binary PATH [--user NAME] [--freebind]

#include "error.hpp"
#include "pki/ossl.hpp"
#include "terminator/supervisor.hpp"

#include <openssl/pem.h>

#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <utility>

using namespace certd;
using namespace certd::terminator;
using namespace certd::tls;

namespace {

// How long wait-running and wait-restart wait: a bound generous enough for a loaded machine and
// a sanitizer build (the loop ends as soon as the terminator runs).
constexpr auto kWaitLimit = std::chrono::seconds(60);

std::string readFile(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

SecureBytes pkcs8(const std::string& pemPath)
{
    const std::string pem = readFile(pemPath);
    const auto bio = pki::memoryBio(asBytes(pem));
    pki::EvpPkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
    if (!key)
        throw Error(ErrorCode::Malformed, "no key in " + pemPath);
    pki::Pkcs8InfoPtr p8(EVP_PKEY2PKCS8(key.get()));
    unsigned char* der = nullptr;
    const int n = i2d_PKCS8_PRIV_KEY_INFO(p8.get(), &der);
    SecureBytes out(der, der + n);
    OPENSSL_clear_free(der, static_cast<std::size_t>(n));
    return out;
}

void printStatuses(const std::vector<ListenerStatus>& statuses)
{
    for (const auto& s : statuses)
        std::cout << "status " << s.address << ' ' << s.port << ' ' << listenerStateName(s.state) << ' '
                  << (s.servingCertificateId.empty() ? "-" : s.servingCertificateId) << ' '
                  << (s.errorCode ? std::string(errorName(*s.errorCode)) : "-") << ' ' << s.error << '\n';
}

} // namespace

int main(int argc, char** argv)
{
    SupervisorOptions options;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--binary" && i + 1 < argc)
            options.binary = argv[++i];
        else if (a == "--user" && i + 1 < argc)
            options.user = argv[++i];
        else if (a == "--freebind")
            options.freebind = true;
    }
    sd_event* event = nullptr;
    sd_event_default(&event);
    DesiredState state;
    state.handshakeTimeout = std::chrono::milliseconds(10'000);
    int changes = 0;
    try {
        Supervisor supervisor(event, std::move(options));
        supervisor.onStateChanged = [&] { ++changes; };
        std::string line;
        std::string pending;
        for (;;) {
            // Commands run outside sd-event dispatch; the loop turns whenever its fd is ready.
            pollfd p[2] = {{0, POLLIN, 0}, {sd_event_get_fd(event), POLLIN, 0}};
            ::poll(p, 2, 100);
            while (sd_event_run(event, 0) > 0) {
            }
            if (!(p[0].revents & (POLLIN | POLLHUP)))
                continue;
            char buf[4096];
            const ssize_t n = ::read(0, buf, sizeof buf);
            if (n <= 0)
                return 0;
            pending.append(buf, static_cast<std::size_t>(n));
            std::size_t nl;
            while ((nl = pending.find('\n')) != std::string::npos) {
                line = pending.substr(0, nl);
                pending.erase(0, nl + 1);
                std::istringstream in(line);
                std::string cmd;
                in >> cmd;
                try {
                    if (cmd == "cert") {
                        std::string id, chain, key;
                        in >> id >> chain >> key;
                        std::erase_if(state.certificates, [&](const auto& c) { return c.id == id; });
                        state.certificates.push_back({id, readFile(chain), pkcs8(key)});
                        std::cout << "ok\n";
                    } else if (cmd == "listen") {
                        ListenerSpec l;
                        in >> l.address >> l.port >> l.certificateId;
                        std::erase_if(state.listeners, [&](const auto& x) {
                            return x.address == l.address && x.port == l.port;
                        });
                        state.listeners.push_back(l);
                        std::cout << "ok\n";
                    } else if (cmd == "unlisten") {
                        std::string address;
                        std::uint16_t port = 0;
                        in >> address >> port;
                        std::erase_if(state.listeners,
                                      [&](const auto& x) { return x.address == address && x.port == port; });
                        std::cout << "ok\n";
                    } else if (cmd == "backend") {
                        std::string spec;
                        in >> spec;
                        if (spec.rfind("unix:", 0) == 0) {
                            state.backend.kind = tls::Backend::Kind::Unix;
                            state.backend.path = spec.substr(5);
                        } else {
                            const auto colon = spec.rfind(':');
                            state.backend.kind = tls::Backend::Kind::Tcp;
                            state.backend.host = spec.substr(4, colon - 4);
                            state.backend.port =
                                static_cast<std::uint16_t>(std::stoi(spec.substr(colon + 1)));
                        }
                        std::cout << "ok\n";
                    } else if (cmd == "proxy") {
                        std::string v;
                        in >> v;
                        state.proxyProtocol = v == "on" ? tls::ProxyProtocol::V2 : tls::ProxyProtocol::Off;
                        std::cout << "ok\n";
                    } else if (cmd == "profile") {
                        std::string v;
                        in >> v;
                        state.profile =
                            v == "modern" ? tls::TlsProfile::Modern : tls::TlsProfile::Intermediate;
                        std::cout << "ok\n";
                    } else if (cmd == "timeouts") {
                        long hs = 0, idle = 0;
                        in >> hs >> idle;
                        state.handshakeTimeout = std::chrono::milliseconds(hs);
                        state.idleTimeout = std::chrono::milliseconds(idle);
                        std::cout << "ok\n";
                    } else if (cmd == "maxconn") {
                        in >> state.maxConnections;
                        std::cout << "ok\n";
                    } else if (cmd == "workers") {
                        in >> state.workers;
                        std::cout << "ok\n";
                    } else if (cmd == "flush") {
                        state.flush = true;
                        std::cout << "ok\n";
                    } else if (cmd == "apply") {
                        printStatuses(supervisor.apply(state));
                        state.flush = false;
                        std::cout << "applied\n";
                    } else if (cmd == "swap") {
                        std::string address, a, b;
                        std::uint16_t port = 0;
                        int count = 0;
                        in >> address >> port >> a >> b >> count;
                        int done = 0;
                        for (int i = 0; i < count; ++i) {
                            for (auto& l : state.listeners)
                                if (l.address == address && l.port == port)
                                    l.certificateId = i % 2 == 0 ? a : b;
                            const auto statuses = supervisor.apply(state);
                            bool ok = true;
                            for (const auto& s : statuses)
                                ok = ok && s.state == ListenerState::Listening && s.error.empty();
                            done += ok ? 1 : 0;
                            while (sd_event_run(event, 0) > 0) {
                            }
                        }
                        std::cout << "swapped " << done << '\n';
                    } else if (cmd == "state") {
                        std::cout << "state " << terminatorStateName(supervisor.state()) << '\n';
                    } else if (cmd == "pid") {
                        std::cout << "pid " << supervisor.pid() << '\n';
                    } else if (cmd == "wait-running") {
                        const auto deadline = std::chrono::steady_clock::now() + kWaitLimit;
                        while (supervisor.state() != TerminatorState::Running &&
                               std::chrono::steady_clock::now() < deadline)
                            sd_event_run(event, 100'000);
                        std::cout << (supervisor.state() == TerminatorState::Running ? "running" : "timeout")
                                  << '\n';
                    } else if (cmd == "wait-restart") {
                        pid_t old = 0;
                        in >> old;
                        const auto deadline = std::chrono::steady_clock::now() + kWaitLimit;
                        while ((supervisor.pid() == old || supervisor.pid() == 0 ||
                                supervisor.state() != TerminatorState::Running) &&
                               std::chrono::steady_clock::now() < deadline)
                            sd_event_run(event, 100'000);
                        std::cout << (supervisor.state() == TerminatorState::Running ? "running" : "timeout")
                                  << '\n';
                    } else if (cmd == "statuses") {
                        printStatuses(supervisor.listenerStatus());
                        std::cout << "end\n";
                    } else if (cmd == "changes") {
                        std::cout << "changes " << changes << '\n';
                    } else if (cmd == "quit") {
                        return 0;
                    } else if (!cmd.empty()) {
                        std::cout << "error unknown command " << cmd << '\n';
                    }
                } catch (const std::exception& e) {
                    std::cout << "error " << e.what() << '\n';
                }
                std::cout.flush();
            }
        }
    } catch (const std::exception& e) {
        std::cerr << "tls-driver: " << e.what() << '\n';
        return 1;
    }
}
