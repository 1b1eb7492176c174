#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace certd::test {

struct ProcessResult {
    int exitCode = -1; // -1 when killed by a signal
    std::string out;
    std::string err;
};

// Runs argv[0] (looked up in PATH) with `input` on stdin; waits, bounded by
// timeoutSeconds (then SIGKILL). Never throws for a non-zero exit.
ProcessResult runProcess(const std::vector<std::string>& argv, const std::string& input = {},
                         int timeoutSeconds = 60);

// Polls `condition` until it returns true (then true) or `limit` passes (then false): how a test
// waits for an event (a socket, a line in a file, an answer on the bus), never a fixed sleep.
// `limit` is a generous bound that only decides how long a broken run takes to fail.
bool waitUntil(const std::function<bool()>& condition, std::chrono::milliseconds limit);

// Writes a file (for handing data to the openssl CLI in tests).
void writeTestFile(const std::string& path, const std::string& data);
std::string readTestFile(const std::string& path);

} // namespace certd::test
