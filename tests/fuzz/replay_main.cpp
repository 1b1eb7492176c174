// The normal build's stand-in for libFuzzer: runs every file of the folders (or the files)
// given once through the target's LLVMFuzzerTestOneInput, so the committed corpus, crashes
// found earlier included, is a regression test in every build, sanitizers or not.

#include "fuzz.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

namespace fs = std::filesystem;

namespace {

std::vector<std::uint8_t> readAll(const fs::path& file)
{
    std::ifstream in(file, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

} // namespace

int main(int argc, char** argv)
{
    std::vector<fs::path> inputs;
    for (int i = 1; i < argc; ++i) {
        if (fs::is_directory(argv[i])) {
            for (const auto& entry : fs::directory_iterator(argv[i]))
                if (entry.is_regular_file())
                    inputs.push_back(entry.path());
        } else {
            inputs.emplace_back(argv[i]);
        }
    }
    std::sort(inputs.begin(), inputs.end());
    if (inputs.empty()) {
        std::fprintf(stderr, "replay: no inputs (usage: %s CORPUS-DIR|FILE...)\n", argv[0]);
        return 1;
    }
    for (const auto& input : inputs) {
        // Printed first: if the input crashes, the log names it.
        std::printf("replay: %s\n", input.c_str());
        std::fflush(stdout);
        const auto data = readAll(input);
        LLVMFuzzerTestOneInput(data.data(), data.size());
    }
    std::printf("replay: %zu inputs, no finding\n", inputs.size());
    return 0;
}
