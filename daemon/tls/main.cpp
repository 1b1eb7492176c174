// certd-tls: the TLS terminator. Spawned by certd with --control-fd, or run by systemd as
// certd-tls.service with --service (see supervisor.hpp); --listen … runs it standalone, for
// benchmarks.

#include "error.hpp"
#include "log.hpp"
#include "pki/ossl.hpp"
#include "tls/listen_socket.hpp"
#include "tls/terminator.hpp"

#include <openssl/pem.h>
#include <systemd/sd-daemon.h>

#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

namespace {

using namespace certd;
using namespace certd::tls;

constexpr auto kTicketRotation = std::chrono::hours(1);

void usage(std::FILE* out)
{
    std::fputs(
        "usage: certd-tls --control-fd FD\n"
        "       certd-tls --service\n"
        "       certd-tls --listen ADDR:PORT --cert CHAIN.pem --key KEY.pem --backend HOST:PORT|unix:PATH\n"
        "                 [--workers N] [--max-connections N] [--proxy-v2]\n"
        "  The certd TLS terminator. certd starts it with --control-fd; certd-tls.service runs it with\n"
        "  --service (certd connects through certd-tls.socket and sends the listening sockets); the\n"
        "  last form serves one certificate on one address without certd (benchmarks, experiments).\n",
        out);
}

// Key material lives here: no core dumps, no ptrace by our own uid, keys in OpenSSL's
// mlock'ed, MADV_DONTDUMP secure heap.
void hardenProcess(bool supervised)
{
    ::prctl(PR_SET_DUMPABLE, 0);
    rlimit none{0, 0};
    ::setrlimit(RLIMIT_CORE, &none);
    if (supervised) {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() == 1)
            std::exit(0);
    }
    ::signal(SIGPIPE, SIG_IGN);
    // certd-tls holds no private key under certd (certd signs for it): the secure heap keeps the
    // session ticket keys, and the keys of --terminator-holds-keys (the benchmark baseline) and
    // of standalone mode. The arena is a power of two, the largest RLIMIT_MEMLOCK lets us lock
    // (1 MiB at least).
    std::size_t heapBytes = 2U << 20;
    rlimit memlock{};
    if (::getrlimit(RLIMIT_MEMLOCK, &memlock) == 0 && memlock.rlim_cur != RLIM_INFINITY)
        while (heapBytes > (1U << 20) && heapBytes > memlock.rlim_cur)
            heapBytes /= 2;
    const auto heap = initSecureHeap(heapBytes);
    log::info("certd-tls: secure heap of " + std::to_string(heapBytes >> 20) + " MiB");
    if (heap == SecureHeap::Unavailable)
        log::warning("certd-tls: no secure heap; private keys live in ordinary memory");
    else if (heap == SecureHeap::NotLocked)
        log::warning("certd-tls: secure heap not locked in memory (RLIMIT_MEMLOCK too low)");
}

std::string readFile(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw Error(ErrorCode::NotFound, "cannot read " + path);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

std::pair<std::string, std::uint16_t> splitEndpoint(const std::string& text)
{
    const auto colon = text.rfind(':');
    if (colon == std::string::npos)
        throw Error(ErrorCode::InvalidArgument, "'" + text + "' is not HOST:PORT");
    std::string host = text.substr(0, colon);
    if (host.size() > 2 && host.front() == '[' && host.back() == ']')
        host = host.substr(1, host.size() - 2);
    const int port = std::stoi(text.substr(colon + 1));
    if (port <= 0 || port > 65535)
        throw Error(ErrorCode::InvalidArgument, "bad port in '" + text + "'");
    return {host, static_cast<std::uint16_t>(port)};
}

UniqueFd terminationSignals()
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    // Blocked before any worker starts, so every thread inherits the mask.
    ::pthread_sigmask(SIG_BLOCK, &set, nullptr);
    return UniqueFd(::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
}

void logAck(const wire::Ack& ack)
{
    for (const auto& l : ack.listeners)
        if (!l.error.empty())
            log::warning("certd-tls: " + endpointName(l.address, l.port) + ": " + l.error);
    if (!ack.error.empty())
        log::warning("certd-tls: " + ack.error);
}

int runStandalone(int argc, char** argv)
{
    std::string listen, cert, key, backend;
    unsigned workers = 0;
    unsigned maxConnections = DesiredState{}.maxConnections;
    bool proxy = false;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        const auto value = [&]() -> std::string {
            if (i + 1 >= argc)
                throw Error(ErrorCode::InvalidArgument, a + " needs a value");
            return argv[++i];
        };
        if (a == "--listen")
            listen = value();
        else if (a == "--cert")
            cert = value();
        else if (a == "--key")
            key = value();
        else if (a == "--backend")
            backend = value();
        else if (a == "--workers")
            workers = static_cast<unsigned>(std::stoul(value()));
        else if (a == "--max-connections")
            maxConnections = static_cast<unsigned>(std::stoul(value()));
        else if (a == "--proxy-v2")
            proxy = true;
        else
            throw Error(ErrorCode::InvalidArgument, "unknown option " + a);
    }
    if (listen.empty() || cert.empty() || key.empty() || backend.empty())
        throw Error(ErrorCode::InvalidArgument, "--listen, --cert, --key and --backend are all needed");

    wire::Snapshot snapshot;
    snapshot.generation = 1;
    DesiredState& s = snapshot.state;
    s.workers = workers;
    s.maxConnections = maxConnections;
    s.proxyProtocol = proxy ? ProxyProtocol::V2 : ProxyProtocol::Off;
    if (backend.rfind("unix:", 0) == 0) {
        s.backend.kind = Backend::Kind::Unix;
        s.backend.path = backend.substr(5);
    } else {
        const auto [host, port] = splitEndpoint(backend.rfind("tcp:", 0) == 0 ? backend.substr(4) : backend);
        s.backend.host = host;
        s.backend.port = port;
    }
    CertificateMaterial material;
    material.id = "standalone";
    material.chainPem = readFile(cert);
    {
        const std::string pem = readFile(key);
        const auto bio = pki::memoryBio(asBytes(pem));
        pki::EvpPkeyPtr pkey(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
        if (!pkey)
            throwOpenSsl(ErrorCode::Malformed, key);
        pki::Pkcs8InfoPtr p8(EVP_PKEY2PKCS8(pkey.get()));
        unsigned char* der = nullptr;
        const int n = p8 ? i2d_PKCS8_PRIV_KEY_INFO(p8.get(), &der) : -1;
        if (n <= 0)
            throwOpenSsl(ErrorCode::Internal, key);
        material.keyPkcs8.assign(der, der + n);
        OPENSSL_clear_free(der, static_cast<std::size_t>(n));
    }
    s.certificates.push_back(std::move(material));
    const auto [address, port] = splitEndpoint(listen);
    s.listeners.push_back({address, port, "standalone"});

    std::string error;
    UniqueFd socket = bindListener(address, port, false, error);
    if (!socket)
        throw Error(ErrorCode::Internal, error);
    std::map<std::string, UniqueFd> sockets;
    sockets.emplace(endpointName(address, port), std::move(socket));

    const UniqueFd signals = terminationSignals();
    Shared shared;
    Terminator terminator(shared);
    const auto ack = terminator.apply(snapshot, sockets);
    logAck(ack);
    if (ack.listeners.empty() || ack.listeners.front().state != ListenerState::Listening)
        return 1;
    for (;;) {
        pollfd p{signals.get(), POLLIN, 0};
        const int r = ::poll(&p, 1, static_cast<int>(std::chrono::milliseconds(kTicketRotation).count()));
        if (r > 0)
            return 0;
        if (r == 0)
            terminator.rotateTicketKeys();
    }
}

// One control connection from certd: sockets, then snapshots, each acknowledged once applied.
class ControlSession {
public:
    ControlSession(UniqueFd fd, Terminator& terminator) : fd_(std::move(fd)), terminator_(terminator)
    {
        wire::sendFrame(fd_.get(), wire::MessageType::Hello, {});
    }
    int fd() const { return fd_.get(); }

    // Handles what certd sent; false once it closed its end.
    bool readable()
    {
        const auto fill = reader_.fill(fd_.get());
        while (auto frame = reader_.next()) {
            if (frame->type == wire::MessageType::Sockets) {
                const auto names = wire::decodeSockets(frame->body);
                if (names.size() != frame->fds.size())
                    throw Error(ErrorCode::Malformed, "socket names and fds differ in number");
                for (std::size_t i = 0; i < names.size(); ++i)
                    sockets_[names[i]] = std::move(frame->fds[i]);
            } else if (frame->type == wire::MessageType::Signer) {
                if (frame->fds.size() != 1)
                    throw Error(ErrorCode::Malformed, "a signer message carries one fd");
                terminator_.setSigner(std::move(frame->fds.front()));
            } else if (frame->type == wire::MessageType::Snapshot) {
                const auto snapshot = wire::decodeSnapshot(frame->body);
                frame->body.clear();
                const auto ack = terminator_.apply(snapshot, sockets_);
                logAck(ack);
                wire::sendFrame(fd_.get(), wire::MessageType::Ack, wire::encodeAck(ack));
            } else {
                throw Error(ErrorCode::Malformed, "unexpected message from certd");
            }
        }
        return fill != wire::FrameReader::Fill::Eof;
    }

private:
    UniqueFd fd_;
    Terminator& terminator_;
    wire::FrameReader reader_;
    std::map<std::string, UniqueFd> sockets_; // arrived, not yet claimed by a snapshot
};

// Rotates the session-ticket keys every kTicketRotation and pings systemd's watchdog, if any,
// at half its interval: how long the control loop may sleep is up to this.
class Timers {
public:
    explicit Timers(Terminator& terminator) : terminator_(terminator)
    {
        std::uint64_t usec = 0;
        if (sd_watchdog_enabled(0, &usec) > 0)
            watchdog_ = std::chrono::microseconds(usec / 2);
    }
    int pollTimeout() const
    {
        auto next = nextRotation_;
        if (watchdog_.count() > 0)
            next = std::min(next, lastPing_ + watchdog_);
        const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next - Clock::now());
        return static_cast<int>(std::max<long long>(0, wait.count()));
    }
    void fire()
    {
        const auto now = Clock::now();
        if (now >= nextRotation_) {
            terminator_.rotateTicketKeys();
            nextRotation_ += kTicketRotation;
        }
        if (watchdog_.count() > 0 && now >= lastPing_ + watchdog_) {
            sd_notify(0, "WATCHDOG=1");
            lastPing_ = now;
        }
    }

private:
    using Clock = std::chrono::steady_clock;
    Terminator& terminator_;
    Clock::time_point nextRotation_ = Clock::now() + kTicketRotation;
    std::chrono::microseconds watchdog_{0};
    Clock::time_point lastPing_ = Clock::now();
};

int pollOrThrow(pollfd* fds, nfds_t n, int timeout)
{
    const int r = ::poll(fds, n, timeout);
    if (r < 0 && errno != EINTR)
        throw Error(ErrorCode::Internal, std::string("poll: ") + std::strerror(errno));
    return r;
}

int runSupervised(int controlFd)
{
    const UniqueFd signals = terminationSignals();
    Shared shared;
    Terminator terminator(shared);
    ControlSession session(UniqueFd(controlFd), terminator);
    Timers timers(terminator);
    for (;;) {
        pollfd p[2] = {{session.fd(), POLLIN, 0}, {signals.get(), POLLIN, 0}};
        const int r = pollOrThrow(p, 2, timers.pollTimeout());
        timers.fire();
        if (r > 0 && p[1].revents) {
            terminator.stopAccepting();
            return 0;
        }
        if (r > 0 && p[0].revents && !session.readable())
            return 0; // certd closed its end (it is stopping or gone)
    }
}

// certd-tls.service: the control socket comes from certd-tls.socket (FileDescriptorName=control);
// certd connects there and sends the listening sockets as in spawned mode. Serves on with the
// last state when certd goes away (a restart of certd drops no connection) and takes the
// sockets and state of the next certd that connects.
int runService()
{
    char** names = nullptr;
    const int n = sd_listen_fds_with_names(1, &names);
    UniqueFd controlListener;
    for (int i = 0; i < std::max(n, 0); ++i) {
        const int fd = SD_LISTEN_FDS_START + i;
        if (names && names[i] && std::strcmp(names[i], "control") == 0 &&
            sd_is_socket_unix(fd, SOCK_STREAM, 1, nullptr, 0) > 0)
            controlListener.reset(fd);
        else
            ::close(fd);
        if (names)
            std::free(names[i]);
    }
    std::free(static_cast<void*>(names));
    if (!controlListener)
        throw Error(
            ErrorCode::InvalidArgument,
            "no control socket: certd-tls --service runs as certd-tls.service, from certd-tls.socket");

    const UniqueFd signals = terminationSignals();
    Shared shared;
    Terminator terminator(shared);
    Timers timers(terminator);
    std::optional<ControlSession> session;
    sd_notify(0, "READY=1\nSTATUS=Waiting for certd");
    for (;;) {
        pollfd p[3] = {{signals.get(), POLLIN, 0},
                       {controlListener.get(), POLLIN, 0},
                       {session ? session->fd() : -1, POLLIN, 0}};
        const int r = pollOrThrow(p, 3, timers.pollTimeout());
        timers.fire();
        if (r <= 0)
            continue;
        if (p[0].revents) {
            terminator.stopAccepting();
            return 0;
        }
        try {
            if (p[1].revents) {
                UniqueFd fd(::accept4(controlListener.get(), nullptr, nullptr, SOCK_CLOEXEC));
                if (fd) {
                    // A new certd: the old connection (if any) is from one that is gone.
                    session.reset();
                    session.emplace(std::move(fd), terminator);
                    log::info("certd-tls: certd connected");
                    sd_notify(0, "STATUS=Serving what certd sends");
                }
            } else if (session && p[2].revents && !session->readable()) {
                session.reset();
                log::info("certd-tls: certd disconnected; serving the last state until it is back");
                sd_notify(0, "STATUS=Serving the last state; waiting for certd");
            }
        } catch (const Error& e) {
            // A broken connection ends that connection, not the terminator.
            log::error(std::string("certd-tls: control connection: ") + e.what());
            session.reset();
        }
    }
}

} // namespace

int main(int argc, char** argv)
{
    try {
        if (argc == 2 && (std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0)) {
            usage(stdout);
            return 0;
        }
        if (argc == 3 && std::strcmp(argv[1], "--control-fd") == 0) {
            hardenProcess(true);
            return runSupervised(std::stoi(argv[2]));
        }
        if (argc == 2 && std::strcmp(argv[1], "--service") == 0) {
            hardenProcess(false);
            return runService();
        }
        if (argc < 2) {
            usage(stderr);
            return 2;
        }
        hardenProcess(false);
        return runStandalone(argc, argv);
    } catch (const std::exception& e) {
        certd::log::error(std::string("certd-tls: ") + e.what());
        return 1;
    }
}
