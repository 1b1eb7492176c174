#include "terminator/signer.hpp"

#include "error.hpp"
#include "log.hpp"
#include "pki/key.hpp"
#include "tls/sign_wire.hpp"

#include <openssl/err.h>

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <fcntl.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <optional>
#include <thread>
#include <tuple>
#include <unordered_map>

namespace certd::terminator {
namespace {

using Clock = std::chrono::steady_clock;

// What an epoll event is about: the fd in the low half, this in the high half.
enum class Tag : std::uint64_t { Wake = 0, Broker = 1, Channel = 2 };

std::uint64_t tagged(int fd, Tag tag)
{
    return (static_cast<std::uint64_t>(tag) << 32) | static_cast<std::uint32_t>(fd);
}

unsigned defaultThreads()
{
    cpu_set_t set;
    unsigned n = 1;
    if (::sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        n = static_cast<unsigned>(CPU_COUNT(&set));
    return std::min(n, 8U);
}

[[noreturn]] void throwErrno(const std::string& what)
{
    throw Error(ErrorCode::Internal, "signer: " + what + ": " + std::strerror(errno));
}

} // namespace

struct Signer::Key {
    pki::EvpPkeyPtr pkey; // its private parts in OpenSSL's secure heap
    tls::sign::KeyKind kind = tls::sign::KeyKind::Other;
};

struct Signer::KeyTable {
    struct Entry {
        std::shared_ptr<const Key> key;
        std::optional<Clock::time_point> until; // unbound: signs until then
    };
    std::map<std::string, Entry> entries;
};

struct Signer::Channel {
    UniqueFd fd;
    Bytes in;
    Bytes out;
    bool wantsOut = false; // EPOLLOUT is watched
};

struct Signer::Thread {
    UniqueFd epoll;
    UniqueFd wake;
    std::mutex mutex;
    std::vector<UniqueFd> newChannels; // guarded by mutex
    std::vector<UniqueFd> newBrokers;  // guarded by mutex
    bool stop = false;                 // guarded by mutex
    // Owned by the thread.
    std::unordered_map<int, std::unique_ptr<Channel>> channels;
    // Prepared signing contexts by key, scheme and hash; each holds its key alive. Cleared when
    // the key table changes, so an unbound key's context does not outlive its grace period.
    struct Prepared {
        std::shared_ptr<const Key> key;
        pki::EvpPkeyCtxPtr ctx;
    };
    std::map<std::tuple<const Key*, tls::sign::Scheme, tls::sign::Hash>, Prepared> prepared;
    const KeyTable* preparedFor = nullptr;
    std::unordered_map<int, UniqueFd> brokers;
    std::thread thread;

    void post()
    {
        const std::uint64_t one = 1;
        [[maybe_unused]] const auto n = ::write(wake.get(), &one, sizeof one);
    }
    void watch(int fd, Tag tag) const
    {
        epoll_event ev{};
        // Channels: EPOLLOUT only while a write waits (Signer::flush), or every read by the worker
        // would wake this thread for nothing.
        ev.events = EPOLLIN | EPOLLRDHUP | (tag == Tag::Channel ? EPOLLET : 0U);
        ev.data.u64 = tagged(fd, tag);
        if (::epoll_ctl(epoll.get(), EPOLL_CTL_ADD, fd, &ev) < 0)
            throwErrno("epoll_ctl");
    }
};

Signer::Signer(unsigned threads)
{
    keys_.store(std::make_shared<const KeyTable>());
    const unsigned count = threads ? threads : defaultThreads();
    // Signing threads take no signals (SIGTERM belongs to the event loop's signalfd), as the
    // work pool's: they start with every signal blocked.
    sigset_t all;
    sigset_t previous;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &previous);
    for (unsigned i = 0; i < count; ++i) {
        auto t = std::make_unique<Thread>();
        t->epoll.reset(::epoll_create1(EPOLL_CLOEXEC));
        t->wake.reset(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
        if (!t->epoll || !t->wake)
            throwErrno("epoll");
        t->watch(t->wake.get(), Tag::Wake);
        auto* raw = t.get();
        t->thread = std::thread([this, raw] { run(*raw); });
        const std::string name = "signer-" + std::to_string(i);
        ::pthread_setname_np(t->thread.native_handle(), name.c_str());
        threads_.push_back(std::move(t));
    }
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);
}

Signer::~Signer()
{
    for (auto& t : threads_) {
        {
            const std::lock_guard lock(t->mutex);
            t->stop = true;
        }
        t->post();
    }
    for (auto& t : threads_)
        t->thread.join();
}

void Signer::setKeys(const std::map<std::string, SecureBytes>& keys, std::chrono::milliseconds grace)
{
    const auto current = keys_.load();
    auto next = std::make_shared<KeyTable>();
    const auto now = Clock::now();
    for (const auto& [id, der] : keys) {
        auto& entry = next->entries[id];
        if (auto it = current->entries.find(id); it != current->entries.end()) {
            entry.key = it->second.key; // bound again: no expiry
        } else {
            auto key = std::make_shared<Key>();
            const SecureAllocationScope secure; // the key's numbers and what OpenSSL caches for it
            key->pkey = pki::privateKeyFromPkcs8Der(der);
            key->kind = tls::sign::keyKind(key->pkey.get());
            entry.key = std::move(key);
        }
    }
    for (const auto& [id, entry] : current->entries) {
        if (keys.contains(id))
            continue;
        const auto until = entry.until.value_or(now + grace);
        if (until > now)
            next->entries[id] = {entry.key, until};
    }
    keys_.store(std::move(next));
}

UniqueFd Signer::newBroker()
{
    int pair[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0)
        throwErrno("socketpair");
    UniqueFd ours(pair[0]);
    UniqueFd theirs(pair[1]);
    ::fcntl(ours.get(), F_SETFL, ::fcntl(ours.get(), F_GETFL) | O_NONBLOCK);
    Thread& first = *threads_.front(); // the first thread takes the channels and deals them out
    {
        const std::lock_guard lock(first.mutex);
        first.newBrokers.push_back(std::move(ours));
    }
    first.post();
    return theirs;
}

Signer::Counters Signer::counters() const
{
    return {signatures_.load(), refused_.load(), channels_.load()};
}

void Signer::adopt(Thread& thread)
{
    std::vector<UniqueFd> channels;
    std::vector<UniqueFd> brokers;
    {
        const std::lock_guard lock(thread.mutex);
        channels.swap(thread.newChannels);
        brokers.swap(thread.newBrokers);
    }
    for (auto& fd : brokers) {
        thread.watch(fd.get(), Tag::Broker);
        const int raw = fd.get();
        thread.brokers[raw] = std::move(fd);
    }
    for (auto& fd : channels) {
        auto channel = std::make_unique<Channel>();
        channel->fd = std::move(fd);
        const int raw = channel->fd.get();
        thread.watch(raw, Tag::Channel);
        thread.channels[raw] = std::move(channel);
        // Requests may already wait: edge-triggered, the first edge may have come before the watch.
        serve(thread, *thread.channels[raw], EPOLLIN);
    }
}

void Signer::readBroker(Thread& thread, int fd)
{
    for (;;) {
        auto received = tls::sign::takeChannel(fd);
        if (received.wouldBlock)
            return;
        if (received.closed) { // the terminator that held the other end is gone
            ::epoll_ctl(thread.epoll.get(), EPOLL_CTL_DEL, fd, nullptr);
            thread.brokers.erase(fd);
            return;
        }
        if (!received.fd)
            continue; // a message without exactly one fd: nothing to take
        channels_.fetch_add(1, std::memory_order_relaxed);
        Thread& owner = *threads_[nextThread_.fetch_add(1) % threads_.size()];
        {
            const std::lock_guard lock(owner.mutex);
            owner.newChannels.push_back(std::move(received.fd));
        }
        owner.post();
    }
}

void Signer::serve(Thread& thread, Channel& channel, std::uint32_t events)
{
    bool closed = false;
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
        std::uint8_t buffer[16 * 1024];
        for (;;) {
            const ssize_t n = ::recv(channel.fd.get(), buffer, sizeof buffer, MSG_DONTWAIT);
            if (n > 0) {
                channel.in.insert(channel.in.end(), buffer, buffer + n);
                if (static_cast<std::size_t>(n) < sizeof buffer)
                    break; // drained: the next request brings a new edge
                continue;
            }
            if (n < 0 && errno == EINTR)
                continue;
            closed = n == 0 || errno != EAGAIN;
            break;
        }
        try {
            const auto table = keys_.load();
            const auto now = Clock::now();
            std::size_t offset = 0;
            while (auto request = tls::sign::takeRequest(channel.in, offset)) {
                const auto it = table->entries.find(request->keyId);
                tls::sign::Reply reply;
                if (it == table->entries.end() || (it->second.until && *it->second.until <= now)) {
                    reply.id = request->id;
                    reply.status = tls::sign::Status::UnknownKey;
                } else {
                    bool fresh = false;
                    EVP_PKEY_CTX* ctx = prepared(thread, table.get(), it->second.key, *request, fresh);
                    // What OpenSSL builds at a key's first signatures and keeps with it (RSA's
                    // Montgomery contexts hold p and q) comes from the secure heap. Later ones only
                    // make temporaries, which certd wipes when they are freed (wipe_on_free.cpp).
                    std::optional<SecureAllocationScope> secure;
                    if (fresh)
                        secure.emplace();
                    reply =
                        tls::sign::signWith(it->second.key->pkey.get(), it->second.key->kind, *request, ctx);
                    ERR_clear_error();
                }
                (reply.status == tls::sign::Status::Ok ? signatures_ : refused_)
                    .fetch_add(1, std::memory_order_relaxed);
                tls::sign::appendReply(channel.out, reply);
            }
            channel.in.erase(channel.in.begin(), channel.in.begin() + static_cast<std::ptrdiff_t>(offset));
        } catch (const Error& e) {
            log::warning(std::string("certd-tls's signing channel closed: ") + e.what());
            closed = true;
        }
    }
    if (!closed && !flush(thread, channel))
        closed = true;
    if (closed) {
        const int fd = channel.fd.get();
        ::epoll_ctl(thread.epoll.get(), EPOLL_CTL_DEL, fd, nullptr);
        thread.channels.erase(fd); // destroys `channel`
    }
}

EVP_PKEY_CTX* Signer::prepared(Thread& thread, const KeyTable* table, const std::shared_ptr<const Key>& key,
                               const tls::sign::Request& request, bool& fresh)
{
    if (thread.preparedFor != table) {
        thread.prepared.clear();
        thread.preparedFor = table;
    }
    const auto index = std::make_tuple(key.get(), request.scheme, request.hash);
    auto it = thread.prepared.find(index);
    fresh = it == thread.prepared.end();
    if (fresh) {
        const SecureAllocationScope secure;
        pki::EvpPkeyCtxPtr ctx(tls::sign::prepareSign(key->pkey.get(), request.scheme, request.hash));
        if (!ctx)
            return nullptr; // EdDSA, or a combination signWith() refuses anyway
        it = thread.prepared.emplace(index, Thread::Prepared{key, std::move(ctx)}).first;
    }
    return it->second.ctx.get();
}

bool Signer::flush(Thread& thread, Channel& channel)
{
    std::size_t sent = 0;
    while (sent < channel.out.size()) {
        const ssize_t n = ::send(channel.fd.get(), channel.out.data() + sent, channel.out.size() - sent,
                                 MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n > 0) {
            sent += static_cast<std::size_t>(n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            break; // the rest goes with the next EPOLLOUT edge
        return false;
    }
    channel.out.erase(channel.out.begin(), channel.out.begin() + static_cast<std::ptrdiff_t>(sent));
    if (channel.out.empty() == channel.wantsOut) {
        channel.wantsOut = !channel.out.empty();
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLRDHUP | EPOLLET | (channel.wantsOut ? EPOLLOUT : 0U);
        ev.data.u64 = tagged(channel.fd.get(), Tag::Channel);
        ::epoll_ctl(thread.epoll.get(), EPOLL_CTL_MOD, channel.fd.get(), &ev);
    }
    return true;
}

void Signer::run(Thread& thread)
{
    // SCHED_BATCH: a request does not preempt the terminator worker that sent it (no wake-up
    // preemption), so the worker finishes its turn and its other requests come in the same read;
    // an idle CPU still runs the signer at once.
    sched_param batch{};
    pthread_setschedparam(pthread_self(), SCHED_BATCH, &batch);
    constexpr int kMaxEvents = 64;
    epoll_event events[kMaxEvents];
    for (;;) {
        const int n = ::epoll_wait(thread.epoll.get(), events, kMaxEvents, -1);
        if (n < 0 && errno != EINTR) {
            log::error(std::string("signer: epoll_wait: ") + std::strerror(errno));
            return;
        }
        for (int i = 0; i < n; ++i) {
            const int fd = static_cast<int>(events[i].data.u64 & 0xffffffffU);
            switch (static_cast<Tag>(events[i].data.u64 >> 32)) {
            case Tag::Wake: {
                std::uint64_t value;
                [[maybe_unused]] const auto r = ::read(thread.wake.get(), &value, sizeof value);
                {
                    const std::lock_guard lock(thread.mutex);
                    if (thread.stop)
                        return;
                }
                adopt(thread);
                break;
            }
            case Tag::Broker:
                readBroker(thread, fd);
                break;
            case Tag::Channel:
                if (auto it = thread.channels.find(fd); it != thread.channels.end())
                    serve(thread, *it->second, events[i].events);
                break;
            }
        }
    }
}

} // namespace certd::terminator
