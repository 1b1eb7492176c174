// tls-load: the load side of bench/idle-load.sh (loopback only, bounded in count and time).
//
//   tls-load backend PORT
//       Plain TCP backend on 127.0.0.1:PORT: accepts and holds every connection, echoes
//       whatever arrives (idle connections never send, so they cost it nothing), closes on EOF.
//       Runs until killed (or its parent dies).
//   tls-load run --name NAME --port PORT --pid PID [--n 10000] [--rate 100] [--seconds 20]
//                [--window 64] [--src 8] [--tls 1.3] [--probe-timeout 5] [--bound 600]
//       Against the TLS terminator on 127.0.0.1:PORT whose process is PID:
//         1. idle phase: RATE new full handshakes/s for SECONDS, each a fresh connection that
//            sends one 16-byte request through to the backend and waits for its echo;
//         2. opens N completed-handshake TLS connections (at most WINDOW in flight, sources
//            spread over 127.0.0.2 .. 127.0.0.(1+SRC)) that then stay idle, reading RSS/PSS
//            of PID before, at N/2 and at N;
//         3. loaded phase: the same handshakes as in 1 with the N connections held open;
//         4. checks that the N connections are still open, closes everything.
//       Latency per probe: hs = connect() to the client's handshake done; rt = connect() to
//       the echo received. Prints progress on stderr and one "RESULT k=v ..." line on stdout.
//       Everything is bounded: per-probe timeout, a deadline per phase, and alarm(BOUND).

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <list>
#include <map>
#include <numeric>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void die(const std::string& message)
{
    std::fprintf(stderr, "tls-load: %s\n", message.c_str());
    std::exit(1);
}

void raiseFdLimit()
{
    rlimit r{};
    if (::getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
        r.rlim_cur = r.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &r);
    }
}

sockaddr_in loopback(std::uint16_t port, unsigned lastOctet = 1)
{
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(0x7f000000U | lastOctet);
    return a;
}

// ---------------------------------------------------------------- backend

int runBackend(std::uint16_t port)
{
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    const int srv = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    const int one = 1;
    ::setsockopt(srv, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    const sockaddr_in a = loopback(port);
    if (::bind(srv, reinterpret_cast<const sockaddr*>(&a), sizeof a) < 0 || ::listen(srv, 4096) < 0)
        die("backend: bind/listen 127.0.0.1:" + std::to_string(port) + ": " + std::strerror(errno));
    const int ep = ::epoll_create1(EPOLL_CLOEXEC);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = srv;
    ::epoll_ctl(ep, EPOLL_CTL_ADD, srv, &ev);
    std::vector<epoll_event> events(512);
    char buf[16384];
    for (;;) {
        const int n = ::epoll_wait(ep, events.data(), static_cast<int>(events.size()), -1);
        for (int i = 0; i < n; ++i) {
            const int fd = events[static_cast<std::size_t>(i)].data.fd;
            if (fd == srv) {
                for (int k = 0; k < 64; ++k) {
                    const int c = ::accept4(srv, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
                    if (c < 0)
                        break;
                    ::setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    epoll_event cev{};
                    cev.events = EPOLLIN | EPOLLRDHUP;
                    cev.data.fd = c;
                    ::epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
                }
                continue;
            }
            const ssize_t r = ::recv(fd, buf, sizeof buf, 0);
            if (r > 0) {
                [[maybe_unused]] const ssize_t w = ::send(fd, buf, static_cast<std::size_t>(r), MSG_NOSIGNAL);
            } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
                ::close(fd); // also leaves the epoll set
            }
        }
    }
}

// ---------------------------------------------------------------- client

struct Mem {
    long rssKb = 0;
    long pssKb = 0;
};

Mem readMem(int pid)
{
    std::ifstream in("/proc/" + std::to_string(pid) + "/smaps_rollup");
    if (!in)
        die("cannot read /proc/" + std::to_string(pid) + "/smaps_rollup (terminator gone?)");
    Mem m;
    std::string key;
    long value = 0;
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream s(line);
        if (!(s >> key >> value))
            continue;
        if (key == "Rss:")
            m.rssKb = value;
        else if (key == "Pss:")
            m.pssKb = value;
    }
    return m;
}

// utime + stime of the process, in seconds.
double readCpu(int pid)
{
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto close = all.rfind(')');
    if (close == std::string::npos)
        return 0;
    std::istringstream s(all.substr(close + 2));
    std::string field;
    unsigned long long utime = 0, stime = 0;
    for (int i = 3; i <= 15 && (s >> field); ++i) {
        if (i == 14)
            utime = std::stoull(field);
        else if (i == 15)
            stime = std::stoull(field);
    }
    return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

constexpr char kRequest[] = "ping-0123456789\n"; // 16 bytes, echoed by the backend
constexpr std::size_t kRequestSize = sizeof kRequest - 1;

struct Conn {
    enum class State { Connecting, Handshake, Request, Done, Failed };
    int fd = -1;
    SSL* ssl = nullptr;
    State state = State::Connecting;
    bool probe = false; // sends the request and waits for the echo, then closes
    bool requestSent = false;
    std::size_t echoed = 0;
    std::uint32_t interest = 0;
    Clock::time_point start, handshakeDone, echoDone;
    std::list<Conn*>::iterator pendingPos; // in Client::pending_
};

class Client {
public:
    Client(std::uint16_t port, const std::string& tls, unsigned sources)
        : port_(port), sources_(sources), ep_(::epoll_create1(EPOLL_CLOEXEC))
    {
        ctx_ = SSL_CTX_new(TLS_client_method());
        const int version = tls == "1.2" ? TLS1_2_VERSION : TLS1_3_VERSION;
        SSL_CTX_set_min_proto_version(ctx_, version);
        SSL_CTX_set_max_proto_version(ctx_, version);
        SSL_CTX_set_verify(ctx_, SSL_VERIFY_NONE, nullptr);
        SSL_CTX_set_session_cache_mode(ctx_, SSL_SESS_CACHE_OFF); // every handshake is a full one
        SSL_CTX_set_ciphersuites(ctx_, "TLS_AES_128_GCM_SHA256");
        SSL_CTX_set_cipher_list(ctx_, "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256");
        SSL_CTX_set1_groups_list(ctx_, "X25519");
        SSL_CTX_set_mode(ctx_, SSL_MODE_RELEASE_BUFFERS); // the client holds N connections too
    }

    // Opens `count` connections that stay open after their handshake (at most `window` in
    // flight). Returns the number that failed.
    std::size_t openHeld(std::size_t count, std::size_t window, Clock::time_point deadline)
    {
        std::size_t started = 0, failed = 0;
        while (started < count || inflight_ > 0) {
            while (started < count && inflight_ < window) {
                const unsigned src =
                    sources_ ? 2 + static_cast<unsigned>(held_.size() + started) % sources_ : 0;
                start(false, src);
                ++started;
            }
            if (Clock::now() > deadline)
                die("opening the idle connections did not finish in time (" + std::to_string(held_.size()) +
                    " open)");
            poll(50, [&](Conn* c) {
                if (c->state == Conn::State::Done) {
                    ::epoll_ctl(ep_, EPOLL_CTL_DEL, c->fd, nullptr);
                    held_.push_back(c);
                } else {
                    ++failed;
                    destroy(c);
                }
            });
            expire(Clock::now() - std::chrono::seconds(10), failed);
            if (failed > count / 10 + 10)
                die("too many failed connections while opening the idle set");
        }
        return failed;
    }

    struct PhaseResult {
        std::vector<double> hsMs, rtMs;
        std::size_t started = 0, failed = 0;
        double seconds = 0;
    };

    PhaseResult ratePhase(double rate, double seconds, double probeTimeout)
    {
        PhaseResult r;
        const auto total = static_cast<std::size_t>(std::llround(rate * seconds));
        const auto t0 = Clock::now();
        const auto interval = std::chrono::duration<double>(1.0 / rate);
        const auto deadline = t0 + std::chrono::duration<double>(seconds + probeTimeout + 2);
        const auto timeout =
            std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(probeTimeout));
        while ((r.started < total || inflight_ > 0) && Clock::now() < deadline) {
            auto now = Clock::now();
            while (r.started < total && t0 + std::chrono::duration_cast<Clock::duration>(
                                                 interval * static_cast<double>(r.started)) <=
                                            now) {
                start(true, 0);
                ++r.started;
            }
            int waitMs = 10;
            if (r.started < total) {
                const auto next = t0 + std::chrono::duration_cast<Clock::duration>(
                                           interval * static_cast<double>(r.started));
                waitMs = static_cast<int>(std::clamp<long long>(
                    std::chrono::duration_cast<std::chrono::milliseconds>(next - Clock::now()).count(), 0,
                    10));
            }
            poll(waitMs, [&](Conn* c) {
                if (c->state == Conn::State::Done) {
                    r.hsMs.push_back(
                        std::chrono::duration<double, std::milli>(c->handshakeDone - c->start).count());
                    r.rtMs.push_back(
                        std::chrono::duration<double, std::milli>(c->echoDone - c->start).count());
                    SSL_shutdown(c->ssl); // close_notify, then close
                } else {
                    ++r.failed;
                }
                destroy(c);
            });
            expire(Clock::now() - timeout, r.failed);
        }
        expire(Clock::time_point::max(), r.failed); // past the deadline: whatever is left failed
        r.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
        return r;
    }

    // Held connections the server has not closed: a closed one reads EOF or an error.
    std::size_t alive()
    {
        std::size_t n = 0;
        char b[256];
        for (Conn* c : held_) {
            ERR_clear_error();
            const int r = SSL_read(c->ssl, b, sizeof b); // processes the session tickets, if any
            const int e = r > 0 ? SSL_ERROR_NONE : SSL_get_error(c->ssl, r);
            if (e == SSL_ERROR_NONE || e == SSL_ERROR_WANT_READ)
                ++n;
        }
        ERR_clear_error();
        return n;
    }

    void closeHeld()
    {
        for (Conn* c : held_)
            destroy(c);
        held_.clear();
    }

    std::size_t held() const { return held_.size(); }

private:
    void start(bool probe, unsigned srcOctet)
    {
        auto* c = new Conn;
        c->probe = probe;
        c->start = Clock::now();
        c->fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (c->fd < 0)
            die(std::string("socket: ") + std::strerror(errno) + " (ulimit -n?)");
        const int one = 1;
        ::setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (srcOctet) {
            // The port is chosen at connect(), per destination: no ephemeral port per source
            // address is wasted on a bind.
            ::setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
            const sockaddr_in src = loopback(0, srcOctet);
            if (::bind(c->fd, reinterpret_cast<const sockaddr*>(&src), sizeof src) < 0)
                die(std::string("bind source: ") + std::strerror(errno));
        }
        const sockaddr_in dst = loopback(port_);
        if (::connect(c->fd, reinterpret_cast<const sockaddr*>(&dst), sizeof dst) < 0 && errno != EINPROGRESS)
            die(std::string("connect: ") + std::strerror(errno));
        c->ssl = SSL_new(ctx_);
        SSL_set_fd(c->ssl, c->fd);
        SSL_set_connect_state(c->ssl);
        SSL_set_tlsext_host_name(c->ssl, "bench.test");
        c->interest = EPOLLOUT;
        epoll_event ev{};
        ev.events = c->interest;
        ev.data.ptr = c;
        ::epoll_ctl(ep_, EPOLL_CTL_ADD, c->fd, &ev);
        pending_.push_back(c);
        c->pendingPos = std::prev(pending_.end());
        ++inflight_;
    }

    void want(Conn* c, std::uint32_t interest)
    {
        if (c->interest == interest)
            return;
        c->interest = interest;
        epoll_event ev{};
        ev.events = interest;
        ev.data.ptr = c;
        ::epoll_ctl(ep_, EPOLL_CTL_MOD, c->fd, &ev);
    }

    // After an SSL call returned `r` <= 0: waits for the socket (false) when OpenSSL wants I/O,
    // otherwise marks the connection failed (true: finished).
    bool waitOrFail(Conn* c, int r)
    {
        const int e = SSL_get_error(c->ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            want(c, e == SSL_ERROR_WANT_READ ? EPOLLIN : EPOLLOUT);
            return false;
        }
        c->state = Conn::State::Failed;
        return true;
    }

    // Moves a connection on; false while it waits.
    bool step(Conn* c)
    {
        if (c->state == Conn::State::Connecting) {
            int error = 0;
            socklen_t len = sizeof error;
            ::getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &error, &len);
            if (error == EINPROGRESS || error == EALREADY)
                return false;
            if (error != 0) {
                c->state = Conn::State::Failed;
                return true;
            }
            c->state = Conn::State::Handshake;
        }
        if (c->state == Conn::State::Handshake) {
            ERR_clear_error();
            const int r = SSL_do_handshake(c->ssl);
            if (r != 1) {
                return waitOrFail(c, r);
            }
            c->handshakeDone = Clock::now();
            if (!c->probe) {
                c->state = Conn::State::Done;
                return true;
            }
            c->state = Conn::State::Request;
        }
        if (c->state == Conn::State::Request) {
            ERR_clear_error();
            if (!c->requestSent) {
                const int w = SSL_write(c->ssl, kRequest, static_cast<int>(kRequestSize));
                if (w <= 0) {
                    return waitOrFail(c, w);
                }
                c->requestSent = true;
            }
            char b[256];
            for (;;) {
                const int r = SSL_read(c->ssl, b, sizeof b);
                if (r > 0) {
                    c->echoed += static_cast<std::size_t>(r);
                    if (c->echoed >= kRequestSize) {
                        c->echoDone = Clock::now();
                        c->state = Conn::State::Done;
                        return true;
                    }
                    continue;
                }
                return waitOrFail(c, r);
            }
        }
        return true;
    }

    template <typename OnFinished>
    void poll(int timeoutMs, OnFinished&& finished)
    {
        epoll_event events[256];
        const int n = ::epoll_wait(ep_, events, 256, timeoutMs);
        for (int i = 0; i < n; ++i) {
            auto* c = static_cast<Conn*>(events[i].data.ptr);
            if (!step(c))
                continue;
            pending_.erase(c->pendingPos);
            --inflight_;
            finished(c);
        }
    }

    // In-flight connections started before `before` fail (oldest first).
    void expire(Clock::time_point before, std::size_t& failed)
    {
        while (!pending_.empty() && pending_.front()->start < before) {
            Conn* c = pending_.front();
            pending_.pop_front();
            --inflight_;
            ++failed;
            destroy(c);
        }
    }

    void destroy(Conn* c)
    {
        SSL_free(c->ssl);
        ::close(c->fd);
        delete c;
    }

    std::uint16_t port_;
    unsigned sources_;
    int ep_;
    SSL_CTX* ctx_ = nullptr;
    std::size_t inflight_ = 0;
    std::list<Conn*> pending_; // in flight, oldest first
    std::vector<Conn*> held_;
};

double percentile(std::vector<double> v, double q)
{
    if (v.empty())
        return 0;
    std::sort(v.begin(), v.end());
    // nearest rank
    auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(v.size())));
    rank = std::clamp<std::size_t>(rank, 1, v.size());
    return v[rank - 1];
}

int runClient(const std::map<std::string, std::string>& opt)
{
    const auto get = [&](const std::string& k, const std::string& dflt) {
        const auto it = opt.find(k);
        return it == opt.end() ? dflt : it->second;
    };
    const std::string name = get("name", "terminator");
    const auto port = static_cast<std::uint16_t>(std::stoi(get("port", "0")));
    const int pid = std::stoi(get("pid", "0"));
    const std::size_t n = std::stoul(get("n", "10000")) / 2 * 2;
    const double rate = std::stod(get("rate", "100"));
    const double seconds = std::stod(get("seconds", "20"));
    const std::size_t window = std::stoul(get("window", "64"));
    const unsigned sources = static_cast<unsigned>(std::stoul(get("src", "8")));
    const double probeTimeout = std::stod(get("probe-timeout", "5"));
    const unsigned bound = static_cast<unsigned>(std::stoul(get("bound", "600")));
    if (port == 0 || pid <= 0 || rate <= 0 || rate > 5000 || seconds <= 0 || seconds > 300 || n < 2 ||
        window == 0 || sources > 250)
        die("bad arguments (see the header of bench/tls_load.cpp)");
    ::alarm(bound); // the hard bound on this process
    ::signal(SIGPIPE, SIG_IGN);

    Client client(port, get("tls", "1.3"), sources);
    const auto log = [&](const std::string& s) {
        std::fprintf(stderr, "  [%s] %s\n", name.c_str(), s.c_str());
    };
    const auto pause = [](double s) { std::this_thread::sleep_for(std::chrono::duration<double>(s)); };
    const auto summary = [](const Client::PhaseResult& r) {
        char b[256];
        std::snprintf(b, sizeof b,
                      "%zu/%zu ok in %.1fs; hs p50 %.2f p99 %.2f max %.2f ms; echo p50 %.2f p99 %.2f ms",
                      r.hsMs.size(), r.started, r.seconds, percentile(r.hsMs, 0.5), percentile(r.hsMs, 0.99),
                      percentile(r.hsMs, 1.0), percentile(r.rtMs, 0.5), percentile(r.rtMs, 0.99));
        return std::string(b);
    };

    const Mem fresh = readMem(pid);
    double cpu0 = readCpu(pid);
    const auto idle = client.ratePhase(rate, seconds, probeTimeout);
    const double idleCpu = readCpu(pid) - cpu0;
    log("idle terminator: " + summary(idle));
    pause(0.5);
    const Mem m0 = readMem(pid);
    const auto t0 = Clock::now();
    const auto deadline = t0 + std::chrono::seconds(bound);
    cpu0 = readCpu(pid);
    std::size_t openFailed = client.openHeld(n / 2, window, deadline);
    pause(1.0);
    const Mem m1 = readMem(pid);
    const std::size_t held1 = client.held();
    openFailed += client.openHeld(n / 2, window, deadline);
    const double openSeconds = std::chrono::duration<double>(Clock::now() - t0).count() - 1.0;
    const double openCpu = readCpu(pid) - cpu0;
    pause(1.0);
    const Mem m2 = readMem(pid);
    char b[256];
    std::snprintf(b, sizeof b, "%zu held open (%zu failed) in %.1fs (%.0f/s); RSS %ld -> %ld -> %ld kB",
                  client.held(), openFailed, openSeconds, static_cast<double>(client.held()) / openSeconds,
                  m0.rssKb, m1.rssKb, m2.rssKb);
    log(b);
    if (client.held() < n / 2)
        die("could not hold " + std::to_string(n) + " connections");
    if (client.held() != n)
        log("WARNING: only " + std::to_string(client.held()) + " of " + std::to_string(n) + " held open");
    cpu0 = readCpu(pid);
    const auto loaded = client.ratePhase(rate, seconds, probeTimeout);
    const double loadedCpu = readCpu(pid) - cpu0;
    log("with " + std::to_string(n) + " held: " + summary(loaded));
    pause(0.5);
    const Mem m3 = readMem(pid);
    const std::size_t held = client.held();
    const std::size_t alive = client.alive();
    client.closeHeld();

    const auto dn = static_cast<double>(held);
    std::printf(
        "RESULT name=%s n=%zu held=%zu alive=%zu open_failed=%zu open_s=%.2f open_cpu_ms_per_conn=%.3f"
        " rss_fresh_kb=%ld rss0_kb=%ld rss_n_kb=%ld rss_after_kb=%ld"
        " rss_per_conn=%.0f rss_slope=%.0f pss_per_conn=%.0f pss_slope=%.0f",
        name.c_str(), n, held, alive, openFailed, openSeconds, 1000 * openCpu / dn, fresh.rssKb, m0.rssKb,
        m2.rssKb, m3.rssKb, 1024.0 * static_cast<double>(m2.rssKb - m0.rssKb) / dn,
        1024.0 * static_cast<double>(m2.rssKb - m1.rssKb) / std::max(1.0, dn - static_cast<double>(held1)),
        1024.0 * static_cast<double>(m2.pssKb - m0.pssKb) / dn,
        1024.0 * static_cast<double>(m2.pssKb - m1.pssKb) / std::max(1.0, dn - static_cast<double>(held1)));
    for (const auto& [label, r, cpu] :
         {std::tuple{"idle", &idle, idleCpu}, std::tuple{"loaded", &loaded, loadedCpu}}) {
        std::printf(
            " %s_started=%zu %s_failed=%zu %s_hs_p50=%.3f %s_hs_p99=%.3f %s_hs_max=%.3f %s_hs_mean=%.3f"
            " %s_rt_p50=%.3f %s_rt_p99=%.3f %s_cpu_ms_per_hs=%.3f",
            label, r->started, label, r->failed, label, percentile(r->hsMs, 0.5), label,
            percentile(r->hsMs, 0.99), label, percentile(r->hsMs, 1.0), label,
            r->hsMs.empty()
                ? 0.0
                : std::accumulate(r->hsMs.begin(), r->hsMs.end(), 0.0) / static_cast<double>(r->hsMs.size()),
            label, percentile(r->rtMs, 0.5), label, percentile(r->rtMs, 0.99), label,
            r->started ? 1000 * cpu / static_cast<double>(r->started) : 0.0);
    }
    std::printf("\n");
    std::fflush(stdout);
    return 0;
}

} // namespace

int main(int argc, char** argv)
{
    raiseFdLimit();
    if (argc == 3 && std::strcmp(argv[1], "backend") == 0)
        return runBackend(static_cast<std::uint16_t>(std::stoi(argv[2])));
    if (argc >= 2 && std::strcmp(argv[1], "run") == 0) {
        std::map<std::string, std::string> opt;
        for (int i = 2; i + 1 < argc; i += 2) {
            if (std::strncmp(argv[i], "--", 2) != 0)
                die(std::string("unexpected ") + argv[i]);
            opt[argv[i] + 2] = argv[i + 1];
        }
        return runClient(opt);
    }
    std::fputs("usage: tls-load backend PORT | tls-load run --name NAME --port PORT --pid PID [options]\n"
               "  (see the header of bench/tls_load.cpp)\n",
               stderr);
    return 2;
}
