#pragma once

// One event loop (epoll, edge-triggered) on its own thread. Every worker polls every
// listening socket with EPOLLEXCLUSIVE, so the kernel wakes one worker per new
// connection; a connection then stays on the worker that accepted it.
//
// Each worker is also the SignGate of its thread: a handshake with a forwarded key sends its
// signature request over the worker's own signing channel to certd and parks (an ASYNC job
// paused, SSL_ERROR_WANT_ASYNC) while the worker goes on with other connections; the reply, a
// lost key holder or kSignTimeout resumes it. Requests queued in one turn of the loop go out in
// one write. When certd goes (a restart), parked handshakes wait for the next certd's channel
// and their requests are sent again, within the same deadline.

#include "tls/forwarded_key.hpp"
#include "tls/terminator.hpp"

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <list>
#include <mutex>
#include <thread>

namespace certd::tls {

struct Connection;

class Worker final : public SignGate {
public:
    // The longest a handshake waits for its signature: then it fails with an alert.
    static constexpr std::chrono::milliseconds kSignTimeout = sign::kTimeout;

    Worker(Shared& shared, unsigned index);
    ~Worker() override; // stops the loop, closes its connections, joins
    Worker(const Worker&) = delete;
    Worker& operator=(const Worker&) = delete;

    void addListener(std::shared_ptr<Listener> listener);
    void removeListener(const Listener* listener);
    // A broker socket from certd: the worker hands it one end of a new signing channel.
    void attachSigner(UniqueFd broker);
    std::optional<Bytes> sign(sign::Request request) override; // on the worker thread, inside a handshake
    // Blocks until the worker has handled every command posted before; false on timeout.
    bool sync(std::chrono::milliseconds timeout);
    // A smaller worker count (a reload): the worker stops polling every listener and takes no
    // new connection; its thread ends once its last connection has (see finished()).
    void retire();
    // The thread of a retired worker has ended: destroying it now closes nothing.
    bool finished() const { return finished_.load(); }

private:
    struct Command {
        enum class Kind { Add, Remove, Barrier, Retire, Stop, Signer } kind;
        std::shared_ptr<Listener> listener;
        const Listener* key = nullptr;
        std::uint64_t sequence = 0;
        UniqueFd fd; // Signer: the broker
    };
    struct Registration {
        std::shared_ptr<Listener> listener;
        bool polled = false;
        bool removed = false; // unpolled; kept until the end of the batch of events that may name it
    };
    using Clock = std::chrono::steady_clock;

    void post(Command command);
    void run();
    bool drainCommands(); // false: stop
    void setAccepting(bool accepting);
    void accept(Registration& registration);
    void onClient(Connection& c);
    void onBackend(Connection& c);
    void pump(Connection& c);
    bool startBackend(Connection& c);
    bool toBackend(Connection& c, bool& progress);
    bool toClient(Connection& c, bool& progress);
    void touch(Connection& c);
    void close(Connection& c);
    void expire();
    int pollTimeout() const;
    void connectSigner(const UniqueFd& broker);
    void onChannel(std::uint32_t events);
    void flushChannel();
    void dropChannel();
    // The signature (or nullopt: none) is in; the next pump() resumes the handshake.
    void finishSign(Connection& c, std::optional<Bytes> result);
    void expireSigns();

    Shared& shared_;
    unsigned index_;
    UniqueFd epoll_;
    UniqueFd wake_;
    std::mutex mutex_;
    std::condition_variable done_;
    std::vector<Command> queue_;
    std::uint64_t posted_ = 0;    // guarded by mutex_
    std::uint64_t processed_ = 0; // guarded by mutex_

    // Owned by the worker thread.
    std::map<const Listener*, std::unique_ptr<Registration>> listeners_;
    bool accepting_ = true;
    bool retired_ = false;
    Clock::time_point acceptRetry_;     // after EMFILE/ENFILE, accepts resume no earlier than this
    std::list<Connection> handshaking_; // oldest first: handshake deadlines
    std::list<Connection> established_; // least recently active first: idle deadlines
    std::list<Connection> closed_;      // freed after each batch of events
    std::vector<std::unique_ptr<Registration>> unlisted_; // removed listeners, freed likewise
    std::vector<Connection*> ready_;                      // yielded while they still had work
    std::unique_ptr<std::uint8_t[]> scratch_;
    UniqueFd channel_;                             // to certd's signer; none while certd is away
    Bytes channelIn_;                              // replies, the last one maybe partial
    Bytes channelOut_;                             // requests not written yet
    bool channelWantsOut_ = false;                 // EPOLLOUT is watched (a write was short)
    std::map<std::uint64_t, Connection*> signing_; // parked handshakes by request id (= age)
    std::uint64_t nextSignId_ = 0;
    Connection* current_ = nullptr; // whose handshake step runs (the provider's sign() comes here)
    Clock::time_point now_;
    std::atomic<bool> finished_{false};
    std::thread thread_;
};

} // namespace certd::tls
