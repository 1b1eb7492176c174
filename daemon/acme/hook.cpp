#include "acme/hook.hpp"

#include "error.hpp"
#include "log.hpp"
#include "unique_fd.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

extern char** environ;

namespace certd::acme {

std::string dnsRecordName(const std::string& identifier)
{
    const std::string name = identifier.rfind("*.", 0) == 0 ? identifier.substr(2) : identifier;
    return "_acme-challenge." + name + ".";
}

void runDnsHook(const std::filesystem::path& hook, const std::string& action, const DnsRecord& record,
                const HookLimits& limits)
{
    const std::string who = "the dns-01 hook " + hook.string() + " (" + action + " " + record.name + ")";
    int pipeFds[2];
    if (::pipe2(pipeFds, O_CLOEXEC) != 0)
        throw Error(ErrorCode::Internal, who + ": pipe: " + std::strerror(errno));
    UniqueFd readEnd(pipeFds[0]);
    UniqueFd writeEnd(pipeFds[1]);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, writeEnd.get(), STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, writeEnd.get(), STDERR_FILENO);
    posix_spawnattr_t attributes;
    posix_spawnattr_init(&attributes);
    // certd blocks signals for its event loop; the hook gets the defaults.
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&attributes, &none);
    // A group of its own (pgid = its pid): a timeout or a stop kills what the hook started too.
    posix_spawnattr_setpgroup(&attributes, 0);
    posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP);
    std::vector<std::string> args{hook.string(), action, record.identifier, record.name, record.value};
    std::vector<char*> argv;
    argv.reserve(args.size() + 1);
    for (auto& a : args)
        argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid = 0;
    const int spawned = posix_spawn(&pid, hook.c_str(), &actions, &attributes, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attributes);
    writeEnd.reset();
    if (spawned != 0)
        throw Error(ErrorCode::AcmeFailed, who + " cannot run: " + std::strerror(spawned));

    // Its output, for the error message (the first 4 KiB), until it closes its end or the time is
    // up. The poll wakes at least once a second to see a cancellation.
    std::string output;
    auto deadline = std::chrono::steady_clock::now() + limits.timeout;
    bool cancelled = false;
    bool timedOut = false;
    for (;;) {
        if (!cancelled && limits.cancel != nullptr && limits.cancel->load()) {
            cancelled = true;
            deadline = std::min(deadline, std::chrono::steady_clock::now() + limits.graceOnCancel);
        }
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            timedOut = true;
            break;
        }
        pollfd p{readEnd.get(), POLLIN, 0};
        const int r = ::poll(&p, 1, static_cast<int>(std::min<long long>(left.count(), 1000)));
        if (r < 0 && errno != EINTR)
            break;
        if (r <= 0)
            continue;
        char buf[512];
        const ssize_t n = ::read(readEnd.get(), buf, sizeof buf);
        if (n <= 0)
            break;
        if (output.size() < 4096)
            output.append(buf, static_cast<std::size_t>(n));
    }
    if (timedOut && cancelled)
        log::notice(who + ": stopped, certd is stopping");
    if (timedOut)
        ::kill(-pid, SIGKILL);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (timedOut && cancelled)
        throw Error(ErrorCode::AcmeFailed, who + " was stopped: certd is stopping");
    if (timedOut)
        throw Error(ErrorCode::AcmeFailed,
                    who + " did not finish within " + std::to_string(limits.timeout.count()) + " s");
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return;
    std::string line = output.substr(0, output.find('\n'));
    std::string reason = WIFEXITED(status) ? "exited with status " + std::to_string(WEXITSTATUS(status))
                                           : "was killed by signal " + std::to_string(WTERMSIG(status));
    throw Error(ErrorCode::AcmeFailed, who + " " + reason + (line.empty() ? "" : ": " + line));
}

} // namespace certd::acme
