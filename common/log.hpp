#pragma once

// Logging to the journal with structured fields (stderr when there is no
// journal, e.g. in tests). Never pass key material or passphrases here.

#include <string>
#include <utility>
#include <vector>

#include <sys/types.h>

namespace certd::log {

enum class Level { Error = 3, Warning = 4, Notice = 5, Info = 6, Debug = 7 };

using Fields = std::vector<std::pair<std::string, std::string>>; // ("CERTD_OBJECT", "/org/certd1/…")

void write(Level level, const std::string& message, const Fields& fields = {});
inline void error(const std::string& m, const Fields& f = {})
{
    write(Level::Error, m, f);
}
inline void warning(const std::string& m, const Fields& f = {})
{
    write(Level::Warning, m, f);
}
inline void notice(const std::string& m, const Fields& f = {})
{
    write(Level::Notice, m, f);
}
inline void info(const std::string& m, const Fields& f = {})
{
    write(Level::Info, m, f);
}

// The audit record of one mutation: CERTD_ACTION, CERTD_OBJECT, CERTD_CALLER_UID,
// CERTD_CALLER_PID, CERTD_RESULT ("ok" or the error name).
void audit(const std::string& action, const std::string& object, uid_t uid, pid_t pid,
           const std::string& result, const Fields& extra = {});

} // namespace certd::log
