#include "tls/worker.hpp"

#include "log.hpp"
#include "tls/proxy_header.hpp"

#include <openssl/async.h>
#include <openssl/err.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <vector>

namespace certd::tls {
namespace {

// Per direction: the most a connection holds that the other side has not taken yet.
// Reading stops while it is non-empty (backpressure); idle connections hold none.
constexpr std::size_t kBufferSize = std::size_t{64} * 1024;
// A busy connection yields to the others after this many rounds of transfers.
constexpr int kRoundsPerTurn = 16;

// What an epoll event's data is about: the low two bits of a pointer (all are 4-aligned).
enum class Tag : std::uint64_t { Wake = 0, Listener = 1, Client = 2, Backend = 3 };

std::uint64_t tagged(const void* p, Tag tag)
{
    return reinterpret_cast<std::uint64_t>(p) | static_cast<std::uint64_t>(tag);
}

// Storage for buffers that hold bytes while they are non-empty, recycled per worker thread so
// that backpressure does not turn into malloc/free (and heap trimming) churn. Bounded: storage
// beyond kPooled goes back to the allocator, so idle connections still hold none.
constexpr std::size_t kPooled = 16; // at most 1 MiB kept per worker
struct BufferPool {
    std::vector<std::unique_ptr<std::uint8_t[]>> free;
    std::unique_ptr<std::uint8_t[]> take()
    {
        if (free.empty())
            return std::make_unique_for_overwrite<std::uint8_t[]>(kBufferSize);
        auto p = std::move(free.back());
        free.pop_back();
        return p;
    }
    void give(std::unique_ptr<std::uint8_t[]> p)
    {
        if (p && free.size() < kPooled)
            free.push_back(std::move(p));
    }
};
thread_local BufferPool bufferPool;

// Bytes one side has not taken yet; storage only while non-empty.
class Buffer {
public:
    Buffer() = default;
    Buffer(const Buffer&) = delete;
    Buffer& operator=(const Buffer&) = delete;
    ~Buffer() { bufferPool.give(std::move(storage_)); }
    bool empty() const { return begin_ == end_; }
    const std::uint8_t* data() const { return storage_.get() + begin_; }
    std::size_t size() const { return end_ - begin_; }
    void assign(const std::uint8_t* p, std::size_t n)
    {
        if (!storage_)
            storage_ = bufferPool.take();
        std::memcpy(storage_.get(), p, n);
        begin_ = 0;
        end_ = n;
    }
    void consume(std::size_t n)
    {
        begin_ += n;
        if (begin_ == end_) {
            bufferPool.give(std::move(storage_));
            begin_ = end_ = 0;
        }
    }

private:
    std::unique_ptr<std::uint8_t[]> storage_;
    std::size_t begin_ = 0;
    std::size_t end_ = 0;
};

// Read readiness of one socket under edge-triggered epoll: set by an event, cleared when a read
// comes back short or with EAGAIN, so that a drained socket is not read again only to hear EAGAIN.
// Once the peer has hung up (or the socket has an error) there is no further edge: reads go on
// until they see the end.
struct Readiness {
    bool readable = true;
    bool hungUp = false;
    void onEvent(std::uint32_t events)
    {
        if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
            readable = true;
        if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
            hungUp = true;
    }
    void drained()
    {
        if (!hungUp)
            readable = false;
    }
};

// Backend failures can come in floods; one line a second per worker is plenty.
void warnRateLimited(std::chrono::steady_clock::time_point& last, const std::string& message)
{
    const auto now = std::chrono::steady_clock::now();
    if (now - last < std::chrono::seconds(1))
        return;
    last = now;
    log::warning(message);
}

thread_local std::chrono::steady_clock::time_point lastBackendWarning; // NOLINT(cert-err58-cpp): cannot throw

} // namespace

namespace {

// On the client socket's BIO: a read that returns less than asked for (OpenSSL reads ahead, so
// it asks for a whole buffer) or EAGAIN means the socket is drained until the next EPOLLIN edge.
long onClientBio(BIO* bio, int oper, const char* /*argp*/, std::size_t len, int /*argi*/, long /*argl*/,
                 int ret, std::size_t* processed)
{
    if (oper == (BIO_CB_READ | BIO_CB_RETURN)) {
        auto* in = reinterpret_cast<Readiness*>(BIO_get_callback_arg(bio));
        if (ret <= 0 ? BIO_should_retry(bio) : (processed != nullptr && *processed < len))
            in->drained();
    }
    return ret;
}

} // namespace

struct Connection {
    enum class Phase { Handshake, Connecting, Streaming };
    std::list<Connection>* home = nullptr;
    std::list<Connection>::iterator self;
    std::shared_ptr<Listener> listener;
    std::shared_ptr<const RuntimeSettings> settings;
    UniqueFd client;
    UniqueFd backend;
    pki::SslPtr ssl;
    Phase phase = Phase::Handshake;
    Buffer toBackend;
    Buffer toClient;
    bool clientEof = false;   // close_notify or FIN from the client
    bool backendEof = false;  // FIN from the backend
    bool backendShut = false; // we sent FIN to the backend
    bool clientShut = false;  // we sent close_notify + FIN to the client
    bool dead = false;
    bool queued = false;
    Readiness clientIn;
    Readiness backendIn{false, false};           // an edge comes when the backend first sends
    bool readWantsWrite = false;                 // SSL_read needs the client writable before it can go on
    bool handshakeWantsRead = false;             // the handshake waits for bytes from the client
    std::chrono::steady_clock::time_point since; // accept (handshaking) or last activity
    // Forwarded signing: the handshake is parked in its ASYNC job while `signing` and not `signDone`.
    bool signing = false;
    bool signDone = false;
    bool signatureMade = false; // its one signature is made: the rest of the handshake needs no ASYNC job
    sign::Request signRequest;  // kept to send again to the next certd if this one goes
    std::optional<Bytes> signResult;
    std::chrono::steady_clock::time_point signDeadline;
};

Worker::Worker(Shared& shared, unsigned index)
    : shared_(shared), index_(index), epoll_(::epoll_create1(EPOLL_CLOEXEC)),
      wake_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)), scratch_(std::make_unique<std::uint8_t[]>(kBufferSize))
{
    if (!epoll_ || !wake_)
        throw Error(ErrorCode::Internal, std::string("worker: ") + std::strerror(errno));
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = static_cast<std::uint64_t>(Tag::Wake);
    ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, wake_.get(), &ev);
    thread_ = std::thread([this] {
        run();
        finished_ = true;
    });
    // "tls-worker-3" in /proc/PID/task/*/comm and in top -H.
    const std::string name = "tls-worker-" + std::to_string(index_);
    ::pthread_setname_np(thread_.native_handle(), name.substr(0, 15).c_str());
}

Worker::~Worker()
{
    post({Command::Kind::Stop, nullptr, nullptr, 0, {}});
    thread_.join();
}

void Worker::post(Command command)
{
    {
        const std::lock_guard lock(mutex_);
        command.sequence = ++posted_;
        queue_.push_back(std::move(command));
    }
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto n = ::write(wake_.get(), &one, sizeof one);
}

void Worker::addListener(std::shared_ptr<Listener> listener)
{
    post({Command::Kind::Add, std::move(listener), nullptr, 0, {}});
}

void Worker::removeListener(const Listener* listener)
{
    post({Command::Kind::Remove, nullptr, listener, 0, {}});
}

void Worker::attachSigner(UniqueFd broker)
{
    Command command{Command::Kind::Signer, nullptr, nullptr, 0, {}};
    command.fd = std::move(broker);
    post(std::move(command));
}

void Worker::retire()
{
    post({Command::Kind::Retire, nullptr, nullptr, 0, {}});
}

bool Worker::sync(std::chrono::milliseconds timeout)
{
    post({Command::Kind::Barrier, nullptr, nullptr, 0, {}});
    std::unique_lock lock(mutex_);
    const std::uint64_t target = posted_;
    return done_.wait_for(lock, timeout, [&] { return processed_ >= target; });
}

bool Worker::drainCommands()
{
    std::uint64_t value;
    [[maybe_unused]] const auto n = ::read(wake_.get(), &value, sizeof value);
    std::vector<Command> commands;
    {
        const std::lock_guard lock(mutex_);
        commands.swap(queue_);
    }
    bool keepRunning = true;
    for (auto& c : commands) {
        switch (c.kind) {
        case Command::Kind::Add: {
            if (retired_)
                break;
            auto reg = std::make_unique<Registration>();
            reg->listener = std::move(c.listener);
            auto* raw = reg.get();
            listeners_[raw->listener.get()] = std::move(reg);
            if (accepting_) {
                epoll_event ev{};
                ev.events = EPOLLIN | EPOLLEXCLUSIVE;
                ev.data.u64 = tagged(raw, Tag::Listener);
                raw->polled = ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, raw->listener->fd(), &ev) == 0;
            }
            break;
        }
        case Command::Kind::Remove:
            if (auto it = listeners_.find(c.key); it != listeners_.end()) {
                if (it->second->polled)
                    ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, it->second->listener->fd(), nullptr);
                // An event later in this batch may still name it (a client arrived as certd
                // replaced the socket): freed after the batch, ignored by accept() until then.
                it->second->removed = true;
                unlisted_.push_back(std::move(it->second));
                listeners_.erase(it);
            }
            break;
        case Command::Kind::Barrier:
            break;
        case Command::Kind::Signer:
            if (!retired_)
                connectSigner(c.fd);
            break;
        case Command::Kind::Retire:
            // Unpolled now; the registrations stay until the end of this batch of events, which
            // may still name them.
            setAccepting(false);
            retired_ = true;
            break;
        case Command::Kind::Stop:
            keepRunning = false;
            break;
        }
    }
    {
        const std::lock_guard lock(mutex_);
        if (!commands.empty())
            processed_ = std::max(processed_, commands.back().sequence);
    }
    done_.notify_all();
    return keepRunning;
}

void Worker::setAccepting(bool accepting)
{
    // EPOLLEXCLUSIVE registrations cannot be modified, only removed and added again.
    if (accepting_ == accepting)
        return;
    accepting_ = accepting;
    for (auto& [key, reg] : listeners_) {
        if (accepting && !reg->polled) {
            epoll_event ev{};
            ev.events = EPOLLIN | EPOLLEXCLUSIVE;
            ev.data.u64 = tagged(reg.get(), Tag::Listener);
            reg->polled = ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, reg->listener->fd(), &ev) == 0;
        } else if (!accepting && reg->polled) {
            ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, reg->listener->fd(), nullptr);
            reg->polled = false;
        }
    }
}

int Worker::pollTimeout() const
{
    if (!ready_.empty())
        return 0;
    const auto settings = shared_.settings.load();
    auto next = now_ + std::chrono::seconds(1);
    if (!handshaking_.empty())
        next = std::min(next, handshaking_.front().since + settings->handshakeTimeout);
    if (!signing_.empty())
        next = std::min(next, signing_.begin()->second->signDeadline);
    if (!established_.empty())
        next = std::min(next, established_.front().since + settings->idleTimeout);
    if (!accepting_ && !retired_)
        next = std::min(next, now_ + std::chrono::milliseconds(50));
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(next - now_).count();
    return static_cast<int>(std::clamp<long long>(ms + 1, 0, 1000));
}

void Worker::run()
{
    constexpr int kMaxEvents = 256;
    epoll_event events[kMaxEvents];
    now_ = Clock::now();
    setThreadSignGate(this);
    for (;;) {
        const int n = ::epoll_wait(epoll_.get(), events, kMaxEvents, pollTimeout());
        now_ = Clock::now();
        for (int i = 0; i < n; ++i) {
            const std::uint64_t data = events[i].data.u64;
            // NOLINTNEXTLINE(performance-no-int-to-ptr): epoll carries a tagged pointer
            void* p = reinterpret_cast<void*>(data & ~std::uint64_t{3});
            switch (static_cast<Tag>(data & 3)) {
            case Tag::Wake:
                if (p != nullptr) { // the signing channel
                    onChannel(events[i].events);
                    break;
                }
                if (!drainCommands()) {
                    for (auto* list : {&handshaking_, &established_})
                        while (!list->empty())
                            close(list->front());
                    closed_.clear();
                    return;
                }
                break;
            case Tag::Listener:
                accept(*static_cast<Registration*>(p));
                break;
            case Tag::Client: {
                auto& c = *static_cast<Connection*>(p);
                c.clientIn.onEvent(events[i].events);
                onClient(c);
                break;
            }
            case Tag::Backend: {
                auto& c = *static_cast<Connection*>(p);
                c.backendIn.onEvent(events[i].events);
                onBackend(c);
                break;
            }
            }
        }
        std::vector<Connection*> again;
        again.swap(ready_);
        for (auto* c : again) {
            c->queued = false;
            pump(*c);
        }
        expireSigns();
        expire();
        if (!channelOut_.empty())
            flushChannel(); // every request of this turn in one write
        closed_.clear();
        unlisted_.clear();
        if (retired_) {
            listeners_.clear();
            if (handshaking_.empty() && established_.empty()) {
                // Its last connection has ended. Nothing will handle commands any more: a sync()
                // that races with this end returns at once instead of timing out.
                {
                    const std::lock_guard lock(mutex_);
                    processed_ = std::numeric_limits<std::uint64_t>::max();
                }
                done_.notify_all();
                return;
            }
            continue;
        }
        if (!accepting_ && now_ >= acceptRetry_) {
            const auto settings = shared_.settings.load();
            if (shared_.connections.load(std::memory_order_relaxed) < settings->maxConnections)
                setAccepting(true);
        }
    }
}

void Worker::accept(Registration& registration)
{
    if (retired_ || registration.removed)
        return; // an event of the batch that retired the worker or removed the listener
    const auto settings = shared_.settings.load();
    Listener& listener = *registration.listener;
    for (int i = 0; i < 64; ++i) {
        if (shared_.connections.load(std::memory_order_relaxed) >= settings->maxConnections) {
            setAccepting(false); // further clients wait in the backlog
            return;
        }
        const int fd = ::accept4(listener.fd(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EMFILE || errno == ENFILE) {
                warnRateLimited(lastBackendWarning, "certd-tls: out of file descriptors; pausing accepts");
                setAccepting(false);
                acceptRetry_ = now_ + std::chrono::milliseconds(100); // not at once: that would spin
            }
            return;
        }
        shared_.connections.fetch_add(1, std::memory_order_relaxed);
        Connection& c = handshaking_.emplace_back();
        c.home = &handshaking_;
        c.self = std::prev(handshaking_.end());
        c.client.reset(fd);
        c.listener = registration.listener;
        c.settings = settings;
        c.since = now_;
        const int one = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        const auto front = listener.front();
        c.ssl.reset(SSL_new(front.get()));
        if (!c.ssl || SSL_set_fd(c.ssl.get(), fd) != 1) {
            ERR_clear_error();
            close(c);
            continue;
        }
        SSL_set_accept_state(c.ssl.get());
        // No handshake step until the client has sent something: the first SSL_do_handshake
        // allocates OpenSSL's record buffers (about 34 kB), which a silent client should not cost.
        c.handshakeWantsRead = true;
        c.clientIn.readable = false;
        // Read whole buffers, not record by record: one recv per request instead of two, and
        // a short read tells the BIO callback the socket is drained.
        SSL_set_read_ahead(c.ssl.get(), 1);
        BIO* bio = SSL_get_rbio(c.ssl.get());
        BIO_set_callback_arg(bio, reinterpret_cast<char*>(&c.clientIn));
        BIO_set_callback_ex(bio, onClientBio);
        SSL_set_app_data(c.ssl.get(), static_cast<ConnectionSource*>(&listener));
        const auto& sid = listener.sessionContext();
        SSL_set_session_id_context(c.ssl.get(), reinterpret_cast<const unsigned char*>(sid.data()),
                                   static_cast<unsigned>(sid.size()));
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
        ev.data.u64 = tagged(&c, Tag::Client);
        if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) < 0)
            close(c);
        // One per event, as nginx without multi_accept: the listener is level-triggered, so
        // epoll reports it again while the backlog holds more, and no accept4 is spent on EAGAIN.
        return;
    }
}

void Worker::onClient(Connection& c)
{
    pump(c);
}

void Worker::onBackend(Connection& c)
{
    if (c.dead)
        return;
    if (c.phase == Connection::Phase::Connecting) {
        int error = 0;
        socklen_t length = sizeof error;
        if (::getsockopt(c.backend.get(), SOL_SOCKET, SO_ERROR, &error, &length) < 0)
            error = errno;
        if (error == EINPROGRESS || error == EALREADY)
            return;
        if (error != 0) {
            warnRateLimited(lastBackendWarning,
                            std::string("certd-tls: cannot connect to the backend: ") + std::strerror(error));
            close(c);
            return;
        }
        c.phase = Connection::Phase::Streaming;
    }
    pump(c);
}

bool Worker::startBackend(Connection& c)
{
    const RuntimeSettings& s = *c.settings;
    if (s.backendLength == 0)
        return false;
    const int family = s.backend.ss_family;
    c.backend.reset(::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!c.backend) {
        warnRateLimited(lastBackendWarning,
                        std::string("certd-tls: no socket for the backend: ") + std::strerror(errno));
        return false;
    }
    if (family != AF_UNIX) {
        const int one = 1;
        ::setsockopt(c.backend.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    c.phase = Connection::Phase::Streaming;
    if (::connect(c.backend.get(), reinterpret_cast<const sockaddr*>(&s.backend), s.backendLength) < 0) {
        if (errno != EINPROGRESS) {
            warnRateLimited(lastBackendWarning,
                            std::string("certd-tls: cannot connect to the backend: ") + std::strerror(errno));
            return false;
        }
        c.phase = Connection::Phase::Connecting;
    }
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.u64 = tagged(&c, Tag::Backend);
    if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, c.backend.get(), &ev) < 0)
        return false;
    if (s.proxyV2) {
        sockaddr_storage peer{}, local{};
        socklen_t peerLength = sizeof peer, localLength = sizeof local;
        ::getpeername(c.client.get(), reinterpret_cast<sockaddr*>(&peer), &peerLength);
        ::getsockname(c.client.get(), reinterpret_cast<sockaddr*>(&local), &localLength);
        const char* sni = SSL_get_servername(c.ssl.get(), TLSEXT_NAMETYPE_host_name);
        const auto header =
            proxyV2Header(reinterpret_cast<sockaddr*>(&peer), reinterpret_cast<sockaddr*>(&local),
                          negotiatedAlpn(c.ssl.get()), sni ? sni : "");
        c.toBackend.assign(header.data(), header.size());
    }
    established_.splice(established_.end(), handshaking_, c.self);
    c.home = &established_;
    return true;
}

void Worker::pump(Connection& c)
{
    if (c.dead)
        return;
    if (c.phase == Connection::Phase::Handshake) {
        if (c.signing && !c.signDone)
            return; // parked until its signature (or the deadline) is in
        // An EPOLLOUT-only wakeup does not move a handshake that waits for the client.
        if (!c.signing && c.handshakeWantsRead && !c.clientIn.readable && !SSL_has_pending(c.ssl.get()))
            return;
        ERR_clear_error();
        current_ = &c;
        const int r = SSL_do_handshake(c.ssl.get());
        current_ = nullptr;
        if (r != 1) {
            const int e = SSL_get_error(c.ssl.get(), r);
            if (e == SSL_ERROR_WANT_ASYNC)
                return; // sign() parked it
            if (c.signatureMade)
                SSL_clear_mode(c.ssl.get(), SSL_MODE_ASYNC); // its job is over: no more job switches
            if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
                ERR_clear_error();
                close(c);
            }
            c.handshakeWantsRead = e == SSL_ERROR_WANT_READ;
            return;
        }
        SSL_clear_mode(c.ssl.get(), SSL_MODE_ASYNC); // data transfer needs no job switch
        if (negotiatedAlpn(c.ssl.get()) == "acme-tls/1") {
            // An ACME CA validated the challenge certificate: RFC 8737 §3, nothing follows, and the
            // backend never sees it. Only a matched challenge negotiates acme-tls/1 (context.cpp), so
            // the SNI logged is a challenge's name, not arbitrary client input.
            const char* sni = SSL_get_servername(c.ssl.get(), TLSEXT_NAMETYPE_host_name);
            log::info("certd-tls: answered an ACME tls-alpn-01 challenge for " +
                      (sni ? std::string(sni) : std::string("a client without SNI")) + " on " +
                      c.listener->name());
            SSL_shutdown(c.ssl.get()); // best effort: a close_notify, so the CA sees a clean end
            close(c);
            return;
        }
        if (!startBackend(c)) {
            close(c);
            return;
        }
        touch(c);
    }
    if (c.phase == Connection::Phase::Connecting)
        return;
    for (int round = 0; round < kRoundsPerTurn; ++round) {
        bool progress = false;
        if (!toBackend(c, progress) || !toClient(c, progress)) {
            close(c);
            return;
        }
        if (c.clientEof && c.backendShut && c.backendEof && c.clientShut && c.toBackend.empty() &&
            c.toClient.empty()) {
            close(c); // both directions finished
            return;
        }
        if (!progress)
            return;
        touch(c);
    }
    if (!c.queued) {
        c.queued = true;
        ready_.push_back(&c);
    }
}

bool Worker::toBackend(Connection& c, bool& progress)
{
    while (!c.toBackend.empty()) {
        const ssize_t n = ::send(c.backend.get(), c.toBackend.data(), c.toBackend.size(), MSG_NOSIGNAL);
        if (n > 0) {
            c.toBackend.consume(static_cast<std::size_t>(n));
            progress = true;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else {
            return n < 0 && errno == EAGAIN; // wait for EPOLLOUT on the backend
        }
    }
    if (c.clientEof) {
        if (!c.backendShut) {
            ::shutdown(c.backend.get(), SHUT_WR); // half-close: the client is done sending
            c.backendShut = true;
            progress = true;
        }
        return true;
    }
    if (!c.clientIn.readable && !c.readWantsWrite && !SSL_has_pending(c.ssl.get()))
        return true; // nothing new since the last read came back short
    c.readWantsWrite = false;
    ERR_clear_error();
    const int n = SSL_read(c.ssl.get(), scratch_.get(), kBufferSize);
    if (n <= 0) {
        switch (SSL_get_error(c.ssl.get(), n)) {
        case SSL_ERROR_WANT_READ: // the BIO callback has seen the EAGAIN: clientIn is drained
            return true;
        case SSL_ERROR_WANT_WRITE:
            c.readWantsWrite = true;
            return true;
        case SSL_ERROR_ZERO_RETURN: // close_notify, or FIN (SSL_OP_IGNORE_UNEXPECTED_EOF)
            c.clientEof = true;
            progress = true;
            return true;
        default:
            ERR_clear_error();
            return false;
        }
    }
    progress = true;
    ssize_t sent = ::send(c.backend.get(), scratch_.get(), static_cast<std::size_t>(n), MSG_NOSIGNAL);
    if (sent < 0) {
        if (errno != EAGAIN && errno != EINTR)
            return false;
        sent = 0;
    }
    if (sent < n)
        c.toBackend.assign(scratch_.get() + sent, static_cast<std::size_t>(n - sent));
    return true;
}

bool Worker::toClient(Connection& c, bool& progress)
{
    while (!c.toClient.empty()) {
        ERR_clear_error();
        const int n = SSL_write(c.ssl.get(), c.toClient.data(), static_cast<int>(c.toClient.size()));
        if (n > 0) {
            c.toClient.consume(static_cast<std::size_t>(n));
            progress = true;
            continue;
        }
        const int e = SSL_get_error(c.ssl.get(), n);
        ERR_clear_error();
        return e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ;
    }
    if (c.backendEof) {
        if (!c.clientShut) {
            ERR_clear_error();
            const int r = SSL_shutdown(c.ssl.get()); // our close_notify
            if (r < 0) {
                const int e = SSL_get_error(c.ssl.get(), r);
                ERR_clear_error();
                if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ)
                    return true;
                return false;
            }
            ::shutdown(c.client.get(), SHUT_WR);
            c.clientShut = true;
            progress = true;
        }
        return true;
    }
    if (!c.backendIn.readable)
        return true; // nothing new since the last read came back short
    ssize_t n;
    do {
        n = ::recv(c.backend.get(), scratch_.get(), kBufferSize, 0);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        if (errno != EAGAIN)
            return false;
        c.backendIn.drained();
        return true;
    }
    if (static_cast<std::size_t>(n) < kBufferSize)
        c.backendIn.drained(); // until the next edge
    progress = true;
    if (n == 0) {
        c.backendEof = true;
        return true;
    }
    ERR_clear_error();
    const int w = SSL_write(c.ssl.get(), scratch_.get(), static_cast<int>(n));
    if (w > 0) {
        if (w < n)
            c.toClient.assign(scratch_.get() + w, static_cast<std::size_t>(n - w));
        return true;
    }
    const int e = SSL_get_error(c.ssl.get(), w);
    ERR_clear_error();
    if (e != SSL_ERROR_WANT_WRITE && e != SSL_ERROR_WANT_READ)
        return false;
    // SSL_write must be retried with the same bytes: they wait in toClient (moving buffer allowed).
    c.toClient.assign(scratch_.get(), static_cast<std::size_t>(n));
    return true;
}

void Worker::touch(Connection& c)
{
    c.since = now_;
    if (c.home == &established_ && std::next(c.self) != established_.end())
        established_.splice(established_.end(), established_, c.self);
}

void Worker::close(Connection& c)
{
    if (c.dead)
        return;
    c.dead = true;
    if (c.signing && !c.signDone)
        signing_.erase(c.signRequest.id); // only when the worker stops: its job is dropped with the SSL
    c.ssl.reset();
    c.client.reset(); // closing our only reference also removes it from the epoll set
    c.backend.reset();
    shared_.connections.fetch_sub(1, std::memory_order_relaxed);
    closed_.splice(closed_.end(), *c.home, c.self);
    c.home = &closed_;
}

// The current generation's timeouts, for every connection: the lists are ordered by `since`, so
// with one timeout for all their fronts expire first. A connection's own (older) settings would
// let one with a long timeout hold back the expiry of every later one after a snapshot shortened
// it; this way a shortened timeout also applies to connections already waiting.
void Worker::expire()
{
    const auto settings = shared_.settings.load();
    while (!handshaking_.empty() && now_ - handshaking_.front().since >= settings->handshakeTimeout) {
        Connection& c = handshaking_.front();
        if (c.signing && !c.signDone) {
            finishSign(c, std::nullopt); // its job runs to the end: the handshake fails (alert)
            pump(c);
        }
        close(c);
    }
    while (!established_.empty() && now_ - established_.front().since >= settings->idleTimeout)
        close(established_.front());
}

std::optional<Bytes> Worker::sign(sign::Request request)
{
    Connection* c = current_;
    if (c == nullptr || ASYNC_get_current_job() == nullptr)
        return std::nullopt; // not a handshake step of this worker: there is nothing to park
    request.id = ++nextSignId_;
    c->signRequest = std::move(request);
    c->signing = true;
    c->signDone = false;
    c->signResult.reset();
    c->signDeadline = now_ + kSignTimeout;
    signing_[c->signRequest.id] = c;
    if (channel_)
        sign::appendRequest(channelOut_, c->signRequest); // written at the end of this turn
    ASYNC_pause_job();
    // Resumed by pump() after finishSign(): the reply, a deadline, or the handshake timeout.
    c->signing = false;
    c->signatureMade = true;
    c->signDone = false;
    c->signRequest.input.clear();
    return std::exchange(c->signResult, std::nullopt);
}

void Worker::finishSign(Connection& c, std::optional<Bytes> result)
{
    signing_.erase(c.signRequest.id);
    c.signResult = std::move(result);
    c.signDone = true;
}

void Worker::expireSigns()
{
    std::vector<Connection*> late;
    for (const auto& [id, c] : signing_) {
        if (c->signDeadline > now_)
            break; // ids grow with time: the rest are younger
        late.push_back(c);
    }
    for (auto* c : late) {
        finishSign(*c, std::nullopt);
        pump(*c); // the handshake fails with an alert
    }
}

void Worker::connectSigner(const UniqueFd& broker)
{
    int pair[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, pair) < 0) {
        log::warning(std::string("certd-tls: no signing channel: ") + std::strerror(errno));
        return;
    }
    UniqueFd ours(pair[0]);
    const UniqueFd theirs(pair[1]);
    if (!sign::passChannel(broker.get(), theirs.get())) {
        // That certd is gone already; the next one sends a new broker.
        log::write(log::Level::Debug,
                   std::string("certd-tls: signing broker refused a channel: ") + std::strerror(errno));
        return;
    }
    dropChannel();
    channel_ = std::move(ours);
    channelWantsOut_ = false;
    epoll_event ev{};
    // EPOLLOUT only while a write waits (flushChannel): otherwise every read by certd would
    // wake this worker for nothing.
    ev.events = EPOLLIN | EPOLLRDHUP | EPOLLET;
    ev.data.u64 = tagged(&channel_, Tag::Wake);
    if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, channel_.get(), &ev) < 0) {
        channel_.reset();
        return;
    }
    // Requests the previous key holder never answered go to this one, within their deadlines.
    for (const auto& [id, c] : signing_)
        sign::appendRequest(channelOut_, c->signRequest);
}

void Worker::dropChannel()
{
    channel_.reset(); // closing our only reference also removes it from the epoll set
    channelIn_.clear();
    channelOut_.clear();
}

void Worker::flushChannel()
{
    std::size_t sent = 0;
    while (channel_ && sent < channelOut_.size()) {
        const ssize_t n = ::send(channel_.get(), channelOut_.data() + sent, channelOut_.size() - sent,
                                 MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n > 0) {
            sent += static_cast<std::size_t>(n);
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && errno == EAGAIN) {
            break; // the rest goes on the next EPOLLOUT edge
        } else {
            dropChannel(); // certd is gone; parked handshakes wait for the next one
            return;
        }
    }
    channelOut_.erase(channelOut_.begin(), channelOut_.begin() + static_cast<std::ptrdiff_t>(sent));
    if (channel_ && channelOut_.empty() == channelWantsOut_) {
        channelWantsOut_ = !channelOut_.empty();
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLRDHUP | EPOLLET | (channelWantsOut_ ? EPOLLOUT : 0U);
        ev.data.u64 = tagged(&channel_, Tag::Wake);
        ::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, channel_.get(), &ev);
    }
}

void Worker::onChannel(std::uint32_t events)
{
    if (!channel_)
        return;
    bool gone = false;
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
        for (;;) {
            const ssize_t n = ::recv(channel_.get(), scratch_.get(), kBufferSize, MSG_DONTWAIT);
            if (n > 0) {
                channelIn_.insert(channelIn_.end(), scratch_.get(), scratch_.get() + n);
                if (static_cast<std::size_t>(n) < kBufferSize)
                    break; // drained: the next reply brings a new edge (no recv just to hear EAGAIN)
                continue;
            }
            if (n < 0 && errno == EINTR)
                continue;
            gone = n == 0 || errno != EAGAIN;
            break;
        }
        std::vector<Connection*> answered;
        try {
            std::size_t offset = 0;
            while (auto reply = sign::takeReply(channelIn_, offset)) {
                const auto it = signing_.find(reply->id);
                if (it == signing_.end())
                    continue; // its handshake gave up already
                Connection* c = it->second;
                finishSign(*c, reply->status == sign::Status::Ok
                                   ? std::optional<Bytes>(std::move(reply->signature))
                                   : std::nullopt);
                answered.push_back(c);
            }
            channelIn_.erase(channelIn_.begin(), channelIn_.begin() + static_cast<std::ptrdiff_t>(offset));
        } catch (const Error& e) {
            log::warning(std::string("certd-tls: signing channel: ") + e.what());
            gone = true;
        }
        for (auto* c : answered)
            pump(*c);
    }
    if (gone) {
        dropChannel();
        return;
    }
    if ((events & EPOLLOUT) && !channelOut_.empty())
        flushChannel();
}

} // namespace certd::tls
