#pragma once

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

// Writes a file (for handing data to the openssl CLI in tests).
void writeTestFile(const std::string& path, const std::string& data);
std::string readTestFile(const std::string& path);

} // namespace certd::test
