#pragma once

// certd's view of its terminator process, as the bus shows it (TerminatorState).

#include <string_view>

namespace certd {

// starting: first start, not ready yet; running; restarting: it died after it had run and is
// being started again; failed: no certd-tls could be started (the error says why, certd keeps
// trying); stopped: certd is not running one.
enum class TerminatorState { Starting, Running, Restarting, Failed, Stopped };

constexpr std::string_view terminatorStateName(TerminatorState state)
{
    switch (state) {
    case TerminatorState::Starting:
        return "starting";
    case TerminatorState::Running:
        return "running";
    case TerminatorState::Restarting:
        return "restarting";
    case TerminatorState::Failed:
        return "failed";
    case TerminatorState::Stopped:
        break;
    }
    return "stopped";
}

} // namespace certd
