#pragma once

// certd's side of the terminator, in one of two modes:
// - spawned (certd run by hand, the tests): spawns certd-tls (unprivileged when certd is root)
//   and restarts it with backoff when it dies;
// - service (certd.service): certd-tls is its own unit, certd-tls.service, which systemd starts
//   through certd-tls.socket and restarts. certd connects to that socket, and again whenever the
//   connection closes; certd-tls serves on with the last state while certd is away.
// Either way certd binds the listening sockets (certd-tls needs no privilege), sends them and
// desired-state snapshots, and waits (bounded) for each acknowledgement. Under systemd it also
// keeps each listening socket in its file descriptor store and takes them back at start-up, so a
// restart of certd closes none: connection attempts meanwhile wait in the backlog.
// Everything runs on certd's sd-event loop thread.

#include "event_source.hpp"
#include "terminator/signer.hpp"
#include "terminator/state.hpp"
#include "tls/desired_state.hpp"
#include "tls/wire.hpp"

#include <systemd/sd-event.h>

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace certd::terminator {

struct SupervisorOptions {
    std::filesystem::path socket;               // non-empty: service mode, certd-tls listens here
    std::filesystem::path binary;               // certd-tls (spawned mode)
    std::string user;                           // the account it runs as when certd is root
    bool freebind = false;                      // bind addresses not (yet) on the host
    std::chrono::milliseconds ackTimeout{5000}; // longest apply() waits for the terminator
    std::chrono::milliseconds minBackoff{100};  // first restart delay, doubled per quick death
    std::chrono::milliseconds maxBackoff{5000};
    std::chrono::milliseconds stableAfter{10'000}; // a run this long resets the backoff
    std::vector<UniqueFd> kept;                    // from storedListeningSockets()
    Signer* signer = nullptr; // signs for the terminator (a broker per connection); null: it holds the keys
};

// The listening sockets systemd kept for certd in its file descriptor store (LISTEN_FDS), to be
// passed to the Supervisor. Call it first thing in main(): it closes every other descriptor in
// that range, which must not be one certd has opened meanwhile.
std::vector<UniqueFd> storedListeningSockets();

class Supervisor {
public:
    // Takes back the listening sockets in options.kept, then spawns certd-tls or connects to it. Throws
    // Error(InvalidArgument) when it would spawn it as root and `user` does not exist, or is root itself.
    Supervisor(sd_event* event, SupervisorOptions options);
    // Spawned: stops the terminator (closes its socket, then SIGKILL after a short grace period).
    // Service mode: closes the connection; certd-tls serves on with the last state it got.
    ~Supervisor();
    Supervisor(const Supervisor&) = delete;
    Supervisor& operator=(const Supervisor&) = delete;

    // Binds sockets for new listeners, sends the whole state as a new generation (with the new
    // sockets) and waits, at most ackTimeout, for the terminator to acknowledge it: when this
    // returns, the next handshake on each listed address gets its listed certificate. Sockets
    // of listeners no longer listed are closed afterwards. One status per listener, in order:
    // Listening; Error (bind failed, or its certificate was rejected and there was no earlier
    // one to keep serving; error/errorCode say why); Pending (the terminator is restarting or
    // did not answer in time; it gets this state when it is back). A listener whose new
    // certificate was rejected keeps serving the old one: Listening with error/errorCode set
    // and servingCertificateId naming what is served.
    std::vector<tls::ListenerStatus> apply(const tls::DesiredState& state);

    // Failed: no terminator could be started (error() says why; certd keeps trying with backoff).
    TerminatorState state() const { return state_; }
    // Why the terminator could not be started ("" while it runs, or before anything failed).
    const std::string& error() const { return error_; }
    // The spawned terminator's pid; 0 when none is running, and in service mode.
    pid_t pid() const { return pid_; }
    // Listener statuses as of the last acknowledgement (after a restart too).
    const std::vector<tls::ListenerStatus>& listenerStatus() const { return statuses_; }
    // Called on the event loop thread whenever state() or error() changed (also from inside apply(), e.g.
    // when the terminator dies during it). After a restart, listenerStatus() is current when
    // the state turns "running".
    std::function<void()> onStateChanged;

private:
    struct Socket {
        UniqueFd fd;
        bool sentToChild = false; // the current terminator process has this fd
    };

    // Spawns certd-tls or connects to it, by mode.
    void start();
    void spawn();
    void connectService();
    // options_.kept, by endpoint, into sockets_.
    void adoptStoredSockets();
    // Takes `control` as the connection to a new terminator and sends it the desired state.
    void attach(UniqueFd control);
    void setState(TerminatorState state);
    // Sends the sockets the child lacks and the snapshot; false (and the child killed) on failure.
    bool send(std::uint64_t generation, const tls::wire::Deadline& deadline);
    // Reads and handles everything the child sent; false on EOF or a protocol error.
    bool readMessages();
    void handleAck(const tls::wire::Ack& ack);
    void childGone(const std::string& why);
    void reap();
    // Records why no terminator runs (logged once per distinct reason) and turns "failed".
    void startFailed(const std::string& why);
    // What the child reported through the start pipe before it died, or "".
    std::string readStartReport();
    void scheduleRestart();
    void armAckWatchdog();
    std::vector<tls::ListenerStatus> composeStatuses(const std::vector<tls::ListenerSpec>& listeners) const;

    static int onControl(sd_event_source* s, int fd, std::uint32_t revents, void* userdata);
    static int onPidfd(sd_event_source* s, int fd, std::uint32_t revents, void* userdata);
    static int onRestartTimer(sd_event_source* s, std::uint64_t usec, void* userdata);
    static int onAckWatchdog(sd_event_source* s, std::uint64_t usec, void* userdata);

    sd_event* event_;
    SupervisorOptions options_;
    std::optional<std::pair<uid_t, gid_t>> dropTo_;

    pid_t pid_ = 0; // spawned mode; 0 in service mode
    UniqueFd control_;
    UniqueFd pidfd_;
    UniqueFd startReport_;    // read end of the child's close-on-exec report pipe
    bool ready_ = false;      // the current child said Hello
    bool brokerSent_ = false; // the current child has a signing broker
    std::string goneWhy_;     // why certd gave up on a child that was not ready yet
    std::string error_;       // why no terminator runs, for the bus
    std::string loggedError_; // the last start failure logged, to log each reason once
    EventSourcePtr controlSource_;
    EventSourcePtr pidSource_;
    EventSourcePtr restartTimer_;
    EventSourcePtr ackWatchdog_;
    tls::wire::FrameReader reader_;
    std::chrono::steady_clock::time_point startedAt_;
    std::chrono::milliseconds backoff_;
    TerminatorState state_ = TerminatorState::Stopped;
    std::string account_; // "user nobody (uid 65534)", for messages; "" when certd does not switch

    std::map<std::string, Socket> sockets_; // by tls::endpointName()
    std::map<std::string, std::string> bindErrors_;
    std::vector<tls::ListenerSpec> allListeners_; // as the last apply() listed them
    std::optional<tls::DesiredState> desired_;    // what the terminator must serve (flush cleared once sent)
    std::uint64_t generation_ = 0;                // last sent
    std::uint64_t acked_ = 0;                     // last acknowledged by the current child
    std::vector<tls::ListenerStatus> statuses_;   // as of the last ack (or pending)
    std::map<std::string, tls::ListenerStatus> terminatorStatus_; // by endpoint, from the last ack
    bool inApply_ = false;
};

} // namespace certd::terminator
