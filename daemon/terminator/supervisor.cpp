#include "supervisor.hpp"

#include "log.hpp"
#include "tls/listen_socket.hpp"

#include <systemd/sd-daemon.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>

namespace certd::terminator {
namespace {

using Clock = std::chrono::steady_clock;

std::uint64_t toUsec(std::chrono::milliseconds ms)
{
    return static_cast<std::uint64_t>(ms.count()) * 1000U;
}

// The terminator's secure heap (OpenSSL's mlock'ed arena for private keys, 16 MiB) needs this
// much lockable memory; an unprivileged account's default limit may be lower, so certd raises
// it before dropping privileges (certd.service sets LimitMEMLOCK= so that it can).
constexpr rlim_t kMemlockBytes = 20U << 20;

// Whether this process may switch to another uid and gid: root, or an ordinary uid holding
// CAP_SETUID and CAP_SETGID (certd.service: User=certd with AmbientCapabilities=).
bool canSwitchIdentity()
{
    if (::geteuid() == 0)
        return true;
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3]{};
    if (::syscall(SYS_capget, &header, data) < 0)
        return false;
    const auto effective = [&](int cap) {
        return (data[CAP_TO_INDEX(cap)].effective & CAP_TO_MASK(cap)) != 0;
    };
    return effective(CAP_SETUID) && effective(CAP_SETGID);
}

} // namespace

namespace {

// What the forked child reports, through a close-on-exec pipe, when it cannot become
// certd-tls: the step that failed and its errno. Nothing arrives when the exec succeeds.
enum class StartStep : int { Setup = 1, Credentials, Capabilities, Exec };
struct StartReport {
    StartStep step;
    int error;
};

// In the child: tells certd which step failed, with errno, and exits.
[[noreturn]] void failStart(int reportFd, StartStep step, int status)
{
    const StartReport report{step, errno};
    [[maybe_unused]] const auto n = write(reportFd, &report, sizeof report);
    _exit(status);
}

// Runs in the forked child before exec: async-signal-safe calls only (certd has threads).
// The binary is executed through `exeFd`, opened by certd before the fork, so the
// terminator's account never has to walk the path to it (a clone in a 0700 home works).
[[noreturn]] void execTerminator(int controlFd, int exeFd, int reportFd, char* const argv[],
                                 const std::optional<std::pair<uid_t, gid_t>>& dropTo, pid_t parent)
{
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr); // certd blocks signals for sd-event; the child must not
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    for (int sig : {SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGCHLD})
        sigaction(sig, &dfl, nullptr);
    if (controlFd == 3) {
        if (fcntl(3, F_SETFD, 0) < 0)
            failStart(reportFd, StartStep::Setup, 127);
    } else if (dup2(controlFd, 3) < 0) {
        failStart(reportFd, StartStep::Setup, 127);
    }
    // Everything else closes at exec; the binary and the report pipe are needed until then.
    if (syscall(SYS_close_range, 4U, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
        failStart(reportFd, StartStep::Setup, 127);
    if (dropTo) {
        rlimit memlock{};
        if (getrlimit(RLIMIT_MEMLOCK, &memlock) == 0 && memlock.rlim_cur < kMemlockBytes) {
            memlock.rlim_cur = kMemlockBytes;
            memlock.rlim_max = std::max(memlock.rlim_max, kMemlockBytes);
            setrlimit(RLIMIT_MEMLOCK, &memlock);
        }
        if (setgroups(0, nullptr) < 0 || setgid(dropTo->second) < 0 || setuid(dropTo->first) < 0)
            failStart(reportFd, StartStep::Credentials, 126);
        // From root the kernel clears every capability with the uid; from an ordinary uid
        // holding ambient capabilities it keeps them all, and execv would pass the ambient
        // set on. Clear the ambient, permitted, effective and inheritable sets either way.
        __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
        __user_cap_data_struct noCaps[_LINUX_CAPABILITY_U32S_3]{};
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 ||
            syscall(SYS_capset, &header, noCaps) < 0)
            failStart(reportFd, StartStep::Capabilities, 126);
        if (setuid(0) == 0) {
            errno = EPERM;
            failStart(reportFd, StartStep::Credentials, 126); // the drop did not stick
        }
    }
    // After the uid change: changing credentials clears the parent-death signal.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(0); // certd died before we could notice
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    syscall(SYS_execveat, exeFd, "", argv, environ, AT_EMPTY_PATH);
    failStart(reportFd, StartStep::Exec, 127);
}

// An fd number above 3, so that moving the control socket to 3 in the child clobbers nothing.
UniqueFd aboveThree(UniqueFd fd)
{
    if (!fd || fd.get() > 3)
        return fd;
    return UniqueFd(::fcntl(fd.get(), F_DUPFD_CLOEXEC, 4));
}

// systemd's file descriptor store names each listening socket; FDNAME= allows no ':'.
std::string storeName(std::string endpoint)
{
    std::replace(endpoint.begin(), endpoint.end(), ':', '_');
    return "tcp@" + endpoint;
}

// Outside systemd (no $NOTIFY_SOCKET) both are no-ops.
void storeSocket(const std::string& endpoint, int fd)
{
    const std::string message = "FDSTORE=1\nFDNAME=" + storeName(endpoint);
    if (sd_pid_notify_with_fds(0, 0, message.c_str(), &fd, 1) < 0)
        log::warning("certd: cannot keep listening socket " + endpoint +
                     " in systemd's file descriptor store");
}

void unstoreSocket(const std::string& endpoint)
{
    sd_notify(0, ("FDSTOREREMOVE=1\nFDNAME=" + storeName(endpoint)).c_str());
}

std::string describeExit(int status)
{
    if (WIFEXITED(status))
        return "exited with status " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status))
        return std::string("killed by signal ") + sigabbrev_np(WTERMSIG(status));
    return "stopped";
}

} // namespace

Supervisor::Supervisor(sd_event* event, SupervisorOptions options)
    : event_(sd_event_ref(event)), options_(std::move(options)), backoff_(options_.minBackoff)
{
    adoptStoredSockets();
    if (!options_.socket.empty()) {
        // certd-tls.service has its own User=; certd needs no way to switch to it.
        if (options_.socket.string().size() >= sizeof(sockaddr_un{}.sun_path))
            throw Error(ErrorCode::InvalidArgument,
                        "terminator socket path too long: " + options_.socket.string());
        start();
        return;
    }
    const uid_t self = ::geteuid();
    if (self == 0 && options_.user.empty())
        throw Error(ErrorCode::InvalidArgument,
                    "terminator.user: certd runs as root, so certd-tls needs its own account");
    if (!options_.user.empty() && canSwitchIdentity()) {
        passwd pw{};
        passwd* found = nullptr;
        std::vector<char> buf(16384);
        if (::getpwnam_r(options_.user.c_str(), &pw, buf.data(), buf.size(), &found) != 0 || found == nullptr)
            throw Error(ErrorCode::InvalidArgument, "terminator.user: no account '" + options_.user +
                                                        "' (create it, e.g. with the sysusers snippet)");
        if (pw.pw_uid == 0)
            throw Error(ErrorCode::InvalidArgument, "terminator.user: '" + options_.user + "' is root");
        if (pw.pw_uid == self)
            throw Error(ErrorCode::InvalidArgument, "terminator.user: '" + options_.user +
                                                        "' is certd's own account; certd-tls needs another");
        dropTo_ = std::make_pair(pw.pw_uid, pw.pw_gid);
        account_ = "user " + options_.user + ", uid " + std::to_string(pw.pw_uid);
    } else if (!options_.user.empty()) {
        // A developer's unprivileged run: nothing to switch with, so certd-tls shares certd's uid.
        log::warning("certd-tls: runs as certd's own uid " + std::to_string(self) + ", not '" +
                     options_.user + "': certd has neither root nor CAP_SETUID and CAP_SETGID");
    }
    start();
}

Supervisor::~Supervisor()
{
    onStateChanged = nullptr;
    restartTimer_.reset();
    ackWatchdog_.reset();
    controlSource_.reset();
    pidSource_.reset();
    control_.reset(); // the terminator exits when its socket closes
    if (pid_ > 0) {
        pollfd p{pidfd_.get(), POLLIN, 0};
        if (!pidfd_ || ::poll(&p, 1, 1000) <= 0)
            ::kill(pid_, SIGKILL);
        int status = 0;
        ::waitpid(pid_, &status, 0);
    }
    sd_event_unref(event_);
}

std::vector<UniqueFd> storedListeningSockets()
{
    std::vector<UniqueFd> kept;
    const int n = sd_listen_fds(1);
    for (int i = 0; i < std::max(n, 0); ++i) {
        UniqueFd fd(SD_LISTEN_FDS_START + i);
        if (sd_is_socket_inet(fd.get(), AF_UNSPEC, SOCK_STREAM, 1, 0) > 0)
            kept.push_back(std::move(fd));
    }
    return kept;
}

void Supervisor::adoptStoredSockets()
{
    for (auto& fd : options_.kept) {
        const std::string endpoint = tls::localEndpoint(fd.get());
        if (endpoint.empty() || sockets_.contains(endpoint))
            continue;
        ::fcntl(fd.get(), F_SETFD, FD_CLOEXEC);
        ::fcntl(fd.get(), F_SETFL, ::fcntl(fd.get(), F_GETFL) | O_NONBLOCK);
        log::info("certd-tls: kept listening socket " + endpoint + " across the restart");
        sockets_[endpoint] = Socket{std::move(fd), false};
    }
    options_.kept.clear();
}

void Supervisor::setState(TerminatorState state)
{
    if (state_ == state)
        return;
    state_ = state;
    log::info("certd-tls: " + std::string(terminatorStateName(state)));
    if (onStateChanged)
        onStateChanged();
}

void Supervisor::spawn()
{
    // Opened as certd (root, or the certd account), so only the file's own mode matters to the
    // terminator's account, not the folders above it.
    const std::string binary = options_.binary.string();
    UniqueFd exe = aboveThree(UniqueFd(::open(binary.c_str(), O_PATH | O_CLOEXEC)));
    if (!exe) {
        startFailed("cannot open " + binary + ": " + std::strerror(errno) +
                    " (terminator.binary in the configuration names it)");
        scheduleRestart();
        return;
    }
    int reportPipe[2];
    if (::pipe2(reportPipe, O_CLOEXEC) < 0)
        throw Error(ErrorCode::Internal, std::string("pipe: ") + std::strerror(errno));
    UniqueFd reportRead(reportPipe[0]);
    UniqueFd reportWrite = aboveThree(UniqueFd(reportPipe[1]));
    int pair[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0)
        throw Error(ErrorCode::Internal, std::string("socketpair: ") + std::strerror(errno));
    UniqueFd ours(pair[0]);
    UniqueFd theirs(pair[1]);
    if (!reportWrite)
        throw Error(ErrorCode::Internal, std::string("fcntl: ") + std::strerror(errno));
    std::string argv0 = binary;
    std::string flag = "--control-fd";
    std::string three = "3";
    char* const argv[] = {argv0.data(), flag.data(), three.data(), nullptr};
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid < 0)
        throw Error(ErrorCode::Internal, std::string("fork: ") + std::strerror(errno));
    if (pid == 0)
        execTerminator(theirs.get(), exe.get(), reportWrite.get(), argv, dropTo_, parent);

    pid_ = pid;
    theirs.reset();
    reportWrite.reset();
    startReport_ = std::move(reportRead);
    ::fcntl(startReport_.get(), F_SETFL, O_NONBLOCK);
    pidfd_.reset(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
    if (pidfd_) {
        const int r = sd_event_add_io(event_, adopt(pidSource_), pidfd_.get(), EPOLLIN, onPidfd, this);
        if (r < 0)
            throw Error(ErrorCode::Internal, std::string("sd-event: ") + std::strerror(-r));
    }
    // While it keeps failing, each attempt is only a debug line: startFailed() said why once.
    log::write(error_.empty() ? log::Level::Info : log::Level::Debug,
               "certd-tls: started as pid " + std::to_string(pid) +
                   (account_.empty() ? std::string() : " (" + account_ + ")"));
    attach(std::move(ours));
}

void Supervisor::connectService()
{
    const std::string path = options_.socket.string();
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
    // certd-tls.socket accepts for the service: this succeeds while systemd (re)starts certd-tls,
    // and the Hello comes once it runs.
    if (!fd || ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) < 0) {
        startFailed("cannot connect to certd-tls at " + path + ": " + std::strerror(errno) +
                    " (is certd-tls.socket active?)");
        scheduleRestart();
        return;
    }
    log::write(error_.empty() ? log::Level::Info : log::Level::Debug, "certd-tls: connected to " + path);
    attach(std::move(fd));
}

void Supervisor::start()
{
    if (options_.socket.empty())
        spawn();
    else
        connectService();
}

void Supervisor::attach(UniqueFd control)
{
    startedAt_ = Clock::now();
    control_ = std::move(control);
    ready_ = false;
    goneWhy_.clear();
    ::fcntl(control_.get(), F_SETFL, ::fcntl(control_.get(), F_GETFL) | O_NONBLOCK);
    reader_ = tls::wire::FrameReader();
    acked_ = 0;
    terminatorStatus_.clear();
    for (auto& [name, socket] : sockets_)
        socket.sentToChild = false;
    const int r = sd_event_add_io(event_, adopt(controlSource_), control_.get(), EPOLLIN, onControl, this);
    if (r < 0)
        throw Error(ErrorCode::Internal, std::string("sd-event: ") + std::strerror(-r));
    if (state_ == TerminatorState::Stopped)
        setState(TerminatorState::Starting);
    brokerSent_ = false;
    if (desired_)
        send(++generation_, Clock::now() + options_.ackTimeout);
    armAckWatchdog();
}

bool Supervisor::send(std::uint64_t generation, const tls::wire::Deadline& deadline)
{
    try {
        // The signing broker first, once per connection, and only with a state to send: the
        // signer has that state's keys by then (Link sets them before apply()), so a handshake
        // parked on a signature since certd went away is answered, never refused as unknown.
        if (options_.signer != nullptr && !brokerSent_) {
            const UniqueFd broker = options_.signer->newBroker();
            const int fds[] = {broker.get()};
            tls::wire::sendFrame(control_.get(), tls::wire::MessageType::Signer, {}, fds, deadline);
            brokerSent_ = true;
        }
        std::vector<std::string> names;
        std::vector<int> fds;
        std::vector<Socket*> batch;
        const auto flush = [&] {
            if (names.empty())
                return;
            tls::wire::sendFrame(control_.get(), tls::wire::MessageType::Sockets,
                                 tls::wire::encodeSockets(names), fds, deadline);
            for (auto* s : batch)
                s->sentToChild = true;
            names.clear();
            fds.clear();
            batch.clear();
        };
        for (auto& [name, socket] : sockets_) {
            if (socket.sentToChild)
                continue;
            names.push_back(name);
            fds.push_back(socket.fd.get());
            batch.push_back(&socket);
            if (names.size() == tls::wire::kMaxFdsPerFrame)
                flush();
        }
        flush();
        const auto body = tls::wire::encodeSnapshot({generation, *desired_});
        tls::wire::sendFrame(control_.get(), tls::wire::MessageType::Snapshot, body, {}, deadline);
        return true;
    } catch (const Error& e) {
        childGone(e.what());
        return false;
    }
}

bool Supervisor::readMessages()
{
    if (!control_)
        return false;
    try {
        for (;;) {
            const auto fill = reader_.fill(control_.get());
            while (auto frame = reader_.next()) {
                if (frame->type == tls::wire::MessageType::Ack) {
                    handleAck(tls::wire::decodeAck(frame->body));
                } else if (frame->type == tls::wire::MessageType::Hello) {
                    ready_ = true;
                    loggedError_.clear();
                    if (!error_.empty()) {
                        log::info("certd-tls: running" +
                                  (pid_ > 0 ? " (pid " + std::to_string(pid_) + ")" : std::string()) +
                                  " after failing: " + error_);
                        error_.clear();
                        if (onStateChanged)
                            onStateChanged();
                    }
                    if (!desired_) {
                        ackWatchdog_.reset();
                        setState(TerminatorState::Running);
                    }
                } else {
                    throw Error(ErrorCode::Malformed, "unexpected message from certd-tls");
                }
            }
            if (fill == tls::wire::FrameReader::Fill::Eof)
                return false;
            if (fill == tls::wire::FrameReader::Fill::WouldBlock)
                return true;
        }
    } catch (const Error& e) {
        // From a child that never got going (e.g. its exec failed), reap() says more, once.
        if (ready_)
            log::error(std::string("certd-tls: ") + e.what());
        return false;
    }
}

void Supervisor::handleAck(const tls::wire::Ack& ack)
{
    acked_ = std::max(acked_, ack.generation);
    terminatorStatus_.clear();
    for (const auto& s : ack.listeners)
        terminatorStatus_[tls::endpointName(s.address, s.port)] = s;
    for (const auto& c : ack.certificates)
        log::warning("certd-tls rejected certificate " + c.id + ": " + c.message,
                     {{"CERTD_ERROR", std::string(errorName(c.code))}});
    if (!ack.error.empty())
        log::warning("certd-tls: " + ack.error);
    if (acked_ < generation_)
        return;
    ackWatchdog_.reset();
    if (!inApply_)
        statuses_ = composeStatuses(allListeners_);
    setState(TerminatorState::Running);
}

std::vector<tls::ListenerStatus>
Supervisor::composeStatuses(const std::vector<tls::ListenerSpec>& listeners) const
{
    std::vector<tls::ListenerStatus> out;
    for (const auto& l : listeners) {
        const std::string name = tls::endpointName(l.address, l.port);
        tls::ListenerStatus s;
        if (auto it = bindErrors_.find(name); it != bindErrors_.end()) {
            s.state = tls::ListenerState::Error;
            s.error = it->second;
            s.errorCode = ErrorCode::Internal;
        } else if (auto t = terminatorStatus_.find(name);
                   t != terminatorStatus_.end() && acked_ >= generation_) {
            s = t->second;
        } else {
            s.state = tls::ListenerState::Pending;
            s.error = state_ == TerminatorState::Running
                          ? "certd-tls has not acknowledged the change yet"
                          : "certd-tls is " + std::string(terminatorStateName(state_));
        }
        s.address = l.address;
        s.port = l.port;
        out.push_back(std::move(s));
    }
    return out;
}

std::vector<tls::ListenerStatus> Supervisor::apply(const tls::DesiredState& state)
{
    inApply_ = true;
    struct Reset {
        bool& flag;
        ~Reset() { flag = false; }
    } reset{inApply_};

    std::set<std::string> wanted;
    bindErrors_.clear();
    tls::DesiredState served = state;
    served.listeners.clear();
    for (const auto& l : state.listeners) {
        const std::string name = tls::endpointName(l.address, l.port);
        wanted.insert(name);
        if (!sockets_.contains(name)) {
            std::string error;
            UniqueFd fd = tls::bindListener(l.address, l.port, options_.freebind, error);
            if (!fd) {
                log::warning("certd-tls: " + error);
                bindErrors_[name] = error;
                continue;
            }
            storeSocket(name, fd.get());
            sockets_[name] = Socket{std::move(fd), false};
        }
        served.listeners.push_back(l);
    }
    // ACME http-01: plain HTTP at the challenge port of every served address, while an order
    // needs it (bound here: certd-tls has no privilege for port 80).
    if (state.httpChallengePort != 0)
        for (const auto& l : served.listeners) {
            const std::string name = tls::endpointName(l.address, state.httpChallengePort);
            if (!wanted.insert(name).second || sockets_.contains(name))
                continue;
            std::string error;
            UniqueFd fd = tls::bindListener(l.address, state.httpChallengePort, options_.freebind, error);
            if (!fd) {
                wanted.erase(name);
                log::warning("certd-tls: ACME http-01: " + error);
                continue;
            }
            storeSocket(name, fd.get());
            sockets_[name] = Socket{std::move(fd), false};
        }
    allListeners_ = state.listeners;
    desired_ = std::move(served);
    const std::uint64_t generation = ++generation_;

    if (control_) {
        const auto deadline = Clock::now() + options_.ackTimeout;
        if (send(generation, deadline)) {
            armAckWatchdog();
            while (control_ && acked_ < generation) {
                const auto left =
                    std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
                if (left.count() <= 0) {
                    log::warning("certd-tls did not acknowledge generation " + std::to_string(generation) +
                                 " within " + std::to_string(options_.ackTimeout.count()) + " ms");
                    break;
                }
                pollfd p{control_.get(), POLLIN, 0};
                const int r = ::poll(&p, 1, static_cast<int>(left.count()) + 1);
                if (r < 0 && errno != EINTR) {
                    childGone(std::string("poll: ") + std::strerror(errno));
                    break;
                }
                if (r > 0 && !readMessages())
                    childGone("closed its socket");
            }
        }
    }
    // A restarted terminator starts with fresh ticket keys and an empty cache anyway.
    desired_->flush = false;
    // Our copy of a dropped listener's socket goes now; the terminator closed its own on applying.
    std::erase_if(sockets_, [&](const auto& entry) {
        if (wanted.contains(entry.first))
            return false;
        unstoreSocket(entry.first);
        return true;
    });
    statuses_ = composeStatuses(allListeners_);
    return statuses_;
}

void Supervisor::childGone(const std::string& why)
{
    if (!control_)
        return;
    controlSource_.reset();
    ackWatchdog_.reset();
    control_.reset();
    if (pid_ > 0)
        ::kill(pid_, SIGKILL); // reaped by onPidfd, which schedules the restart
    terminatorStatus_.clear();
    if (!options_.socket.empty()) {
        // Service mode: systemd restarts certd-tls (if it died) and rate-limits that; certd connects
        // again at once, and the connection waits in certd-tls.socket's backlog until it runs.
        backoff_ = options_.minBackoff;
        scheduleRestart();
        if (!ready_) {
            startFailed("certd-tls at " + options_.socket.string() + " " + why +
                        " before it was ready (journalctl -u certd-tls says why)");
            return;
        }
    }
    if (!ready_) {
        // A child that never said Hello: what it reports, or its exit, says more than a broken
        // pipe; reap() tells, once.
        goneWhy_ = why;
        if (!inApply_)
            statuses_ = composeStatuses(allListeners_);
        return;
    }
    log::warning("certd-tls: " + why + "; restarting it");
    setState(TerminatorState::Restarting);
    if (!inApply_)
        statuses_ = composeStatuses(allListeners_);
}

std::string Supervisor::readStartReport()
{
    StartReport report{};
    if (!startReport_ || ::read(startReport_.get(), &report, sizeof report) != sizeof report)
        return {};
    const std::string binary = options_.binary.string();
    const std::string as = account_.empty() ? std::string() : " as " + account_;
    const std::string reason = std::strerror(report.error);
    switch (report.step) {
    case StartStep::Exec:
        return "cannot execute " + binary + as + ": " + reason +
               (report.error == EACCES ? " (the file must be executable by that account)" : "");
    case StartStep::Credentials:
        return "cannot switch to " + (account_.empty() ? options_.user : account_) + ": " + reason;
    case StartStep::Capabilities:
        return "cannot drop capabilities for " + binary + ": " + reason;
    case StartStep::Setup:
        break;
    }
    return "cannot prepare to start " + binary + ": " + reason;
}

void Supervisor::startFailed(const std::string& why)
{
    const bool changed = error_ != why;
    error_ = why;
    if (loggedError_ != why) {
        loggedError_ = why;
        log::error("certd-tls: " + why + "; retrying with backoff, up to every " +
                       std::to_string(
                           std::chrono::duration_cast<std::chrono::seconds>(options_.maxBackoff).count()) +
                       " s",
                   {{"CERTD_TERMINATOR_ERROR", why}});
    }
    if (!inApply_)
        statuses_ = composeStatuses(allListeners_);
    if (state_ != TerminatorState::Failed)
        setState(TerminatorState::Failed);
    else if (changed && onStateChanged)
        onStateChanged();
}

void Supervisor::reap()
{
    int status = 0;
    const pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == 0)
        return;
    const bool wasReady = ready_;
    const pid_t pid = pid_;
    pidSource_.reset();
    pidfd_.reset();
    pid_ = 0; // reaped: the number may belong to someone else now, never signal it again
    if (wasReady) {
        if (r == pid)
            log::warning("certd-tls (pid " + std::to_string(pid) + ") " + describeExit(status));
        childGone("exited");
    } else {
        childGone("exited");
        std::string why = readStartReport();
        // SIGKILL with a reason: certd stopped it (e.g. it did not answer in time).
        if (why.empty() && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL && !goneWhy_.empty())
            why = "certd-tls " + goneWhy_ + " while starting, so it was stopped";
        if (why.empty())
            why = "certd-tls " + describeExit(status) +
                  " before it was ready (its own message, if any, is logged before this one)";
        startFailed(why);
    }
    startReport_.reset();
    if (Clock::now() - startedAt_ >= options_.stableAfter)
        backoff_ = options_.minBackoff;
    scheduleRestart();
}

void Supervisor::scheduleRestart()
{
    if (sd_event_get_state(event_) == SD_EVENT_FINISHED)
        return; // certd is stopping
    const int r = sd_event_add_time_relative(event_, adopt(restartTimer_), CLOCK_MONOTONIC, toUsec(backoff_),
                                             1000, onRestartTimer, this);
    if (r < 0)
        log::error(std::string("certd-tls: cannot schedule restart: ") + std::strerror(-r));
    backoff_ = std::min(backoff_ * 2, options_.maxBackoff);
}

void Supervisor::armAckWatchdog()
{
    // Twice the apply() wait: a terminator that answers late is tolerated once, a hung one is
    // killed and restarted so that the state reaches the clients eventually.
    sd_event_add_time_relative(event_, adopt(ackWatchdog_), CLOCK_MONOTONIC, 2 * toUsec(options_.ackTimeout),
                               1000, onAckWatchdog, this);
}

int Supervisor::onControl(sd_event_source* /*s*/, int /*fd*/, std::uint32_t /*revents*/, void* userdata)
{
    auto* self = static_cast<Supervisor*>(userdata);
    if (!self->readMessages())
        self->childGone("closed its socket");
    return 0;
}

int Supervisor::onPidfd(sd_event_source* /*s*/, int /*fd*/, std::uint32_t /*revents*/, void* userdata)
{
    static_cast<Supervisor*>(userdata)->reap();
    return 0;
}

int Supervisor::onRestartTimer(sd_event_source* /*s*/, std::uint64_t /*usec*/, void* userdata)
{
    auto* self = static_cast<Supervisor*>(userdata);
    self->restartTimer_.reset();
    try {
        self->start();
    } catch (const Error& e) {
        self->startFailed(e.what());
        self->scheduleRestart();
    }
    return 0;
}

int Supervisor::onAckWatchdog(sd_event_source* /*s*/, std::uint64_t /*usec*/, void* userdata)
{
    auto* self = static_cast<Supervisor*>(userdata);
    self->ackWatchdog_.reset();
    if (self->control_ && (self->acked_ < self->generation_ || self->state_ != TerminatorState::Running))
        self->childGone("did not answer in time");
    return 0;
}

} // namespace certd::terminator
