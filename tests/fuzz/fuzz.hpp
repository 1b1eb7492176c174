#pragma once

// What the fuzz targets share: libFuzzer's entry point, which replay_main.cpp also
// calls in the normal build, and the check that turns a broken promise into a crash.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

extern "C" int
LLVMFuzzerTestOneInput(const std::uint8_t* data, // NOLINT(readability-identifier-naming): libFuzzer's
                       std::size_t size);

namespace certd::fuzz {

// A finding: prints what broke and aborts, so libFuzzer saves the input as a crash.
[[noreturn]] inline void fail(std::string_view what, std::string_view detail = {})
{
    std::string line = "fuzz: " + std::string(what);
    if (!detail.empty())
        line += ": " + std::string(detail);
    std::fprintf(stderr, "%s\n", line.c_str());
    std::abort();
}

inline void require(bool ok, std::string_view what)
{
    if (!ok)
        fail(what);
}

} // namespace certd::fuzz
