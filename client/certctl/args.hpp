#pragma once

// certctl's command line: options and positional arguments against a table of OptionSpecs,
// durations and positive numbers. A command line that breaks the usage is a UsageError (exit 2).

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace certd::certctl {

// A command line that does not follow the usage: exit code 2.
class UsageError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct OptionSpec {
    std::string_view name;      // "--name"
    std::string_view shortName; // "-o", or empty
    std::string_view valueName; // "FILE" when the option takes a value; empty for a flag
    std::string_view help;
    bool repeatable = false;
};

struct Arguments {
    std::vector<std::string> positional;
    // Keyed by long name ("--san"); a flag holds one empty string per occurrence.
    std::map<std::string, std::vector<std::string>, std::less<>> options;

    bool has(std::string_view name) const;
    // The value of a non-repeatable option, when given.
    std::optional<std::string> value(std::string_view name) const;
    // Every value of a repeatable option, in order.
    std::vector<std::string> values(std::string_view name) const;
};

// Parses options (long "--x v", "--x=v"; short "-o v", "-ov") and positional
// arguments ("--" ends options, "-" is positional). Throws UsageError for an unknown
// option, a missing value, a value given to a flag, or a repeated single option.
Arguments parseArguments(std::span<const std::string> args, std::span<const OptionSpec> options);

// "30d", "12h", "2w", "90m", "45s", or a bare number of days; returns seconds.
std::uint64_t parseDuration(std::string_view text);
// A positive 32-bit number, or UsageError naming `option`.
std::uint32_t parsePositive(std::string_view text, std::string_view option);

} // namespace certd::certctl
