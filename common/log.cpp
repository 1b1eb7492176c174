#include "log.hpp"

#include <systemd/sd-journal.h>

#include <sys/stat.h>
#include <sys/uio.h>

#include <cstdio>
#include <mutex>

namespace certd::log {
namespace {

bool journalAvailable()
{
    // Under systemd the journal socket exists; elsewhere (tests, demos) print to stderr.
    static const bool available = [] {
        struct stat st {};
        return ::getenv("CERTD_LOG_STDERR") == nullptr && ::stat("/run/systemd/journal/socket", &st) == 0;
    }();
    return available;
}

std::mutex stderrMutex;

} // namespace

void write(Level level, const std::string& message, const Fields& fields)
{
    if (journalAvailable()) {
        std::vector<std::string> lines;
        lines.reserve(fields.size() + 3);
        lines.push_back("MESSAGE=" + message);
        lines.push_back("PRIORITY=" + std::to_string(static_cast<int>(level)));
        lines.push_back("SYSLOG_IDENTIFIER=certd");
        for (const auto& [k, v] : fields)
            lines.push_back(k + "=" + v);
        std::vector<iovec> iov;
        iov.reserve(lines.size());
        for (auto& l : lines)
            iov.push_back({l.data(), l.size()});
        if (sd_journal_sendv(iov.data(), static_cast<int>(iov.size())) >= 0)
            return;
    }
    std::string line = "<" + std::to_string(static_cast<int>(level)) + ">" + message;
    for (const auto& [k, v] : fields)
        line += " " + k + "=" + v;
    line += "\n";
    const std::lock_guard lock(stderrMutex);
    std::fputs(line.c_str(), stderr);
    std::fflush(stderr);
}

void audit(const std::string& action, const std::string& object, uid_t uid, pid_t pid,
           const std::string& result, const Fields& extra)
{
    Fields fields{{"CERTD_AUDIT", "1"},
                  {"CERTD_ACTION", action},
                  {"CERTD_OBJECT", object},
                  {"CERTD_CALLER_UID", std::to_string(uid)},
                  {"CERTD_CALLER_PID", std::to_string(pid)},
                  {"CERTD_RESULT", result}};
    fields.insert(fields.end(), extra.begin(), extra.end());
    write(result == "ok" ? Level::Notice : Level::Warning,
          action + " " + object + " by uid " + std::to_string(uid) + ": " + result, fields);
}

} // namespace certd::log
