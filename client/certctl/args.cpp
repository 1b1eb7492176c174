#include "certctl/args.hpp"

#include <algorithm>
#include <charconv>
#include <limits>

namespace certd::certctl {

bool Arguments::has(std::string_view name) const
{
    return options.find(name) != options.end();
}

std::optional<std::string> Arguments::value(std::string_view name) const
{
    const auto it = options.find(name);
    if (it == options.end() || it->second.empty())
        return std::nullopt;
    return it->second.back();
}

std::vector<std::string> Arguments::values(std::string_view name) const
{
    const auto it = options.find(name);
    return it == options.end() ? std::vector<std::string>{} : it->second;
}

Arguments parseArguments(std::span<const std::string> args, std::span<const OptionSpec> options)
{
    Arguments out;
    const auto store = [&out](const OptionSpec& spec, std::string value) {
        auto& slot = out.options[std::string(spec.name)];
        if (!slot.empty() && !spec.repeatable)
            throw UsageError("option " + std::string(spec.name) + " given more than once");
        slot.push_back(std::move(value));
    };

    bool optionsEnded = false;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& arg = args[i];
        if (optionsEnded || arg.size() < 2 || arg[0] != '-') {
            out.positional.push_back(arg);
            continue;
        }
        if (arg == "--") {
            optionsEnded = true;
            continue;
        }
        const bool isLong = arg[1] == '-';
        const auto eq = isLong ? arg.find('=') : std::string::npos;
        const std::string_view name =
            isLong ? std::string_view(arg).substr(0, eq) : std::string_view(arg).substr(0, 2);
        const auto spec = std::find_if(options.begin(), options.end(), [&](const OptionSpec& o) {
            return isLong ? o.name == name : (!o.shortName.empty() && o.shortName == name);
        });
        if (spec == options.end())
            throw UsageError("unknown option " + std::string(isLong ? name : std::string_view(arg)));

        if (spec->valueName.empty()) {
            if (eq != std::string::npos || (!isLong && arg.size() > 2))
                throw UsageError("option " + std::string(spec->name) + " takes no value");
            store(*spec, {});
            continue;
        }
        if (eq != std::string::npos) {
            store(*spec, arg.substr(eq + 1));
        } else if (!isLong && arg.size() > 2) {
            store(*spec, arg.substr(2));
        } else if (i + 1 < args.size()) {
            store(*spec, args[++i]);
        } else {
            throw UsageError("option " + std::string(spec->name) + " needs a value (" +
                             std::string(spec->valueName) + ")");
        }
    }
    return out;
}

std::uint64_t parseDuration(std::string_view text)
{
    std::uint64_t number = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
    const std::string_view unit(end, static_cast<std::size_t>(text.data() + text.size() - end));
    std::uint64_t scale = 0;
    if (unit.empty() || unit == "d")
        scale = 86400;
    else if (unit == "w")
        scale = std::uint64_t{7} * 86400;
    else if (unit == "h")
        scale = 3600;
    else if (unit == "m")
        scale = 60;
    else if (unit == "s")
        scale = 1;
    if (ec != std::errc() || end == text.data() || scale == 0 ||
        number > std::numeric_limits<std::uint64_t>::max() / scale / 1000000)
        throw UsageError("'" + std::string(text) + "' is not a duration (e.g. 30d, 2w, 12h)");
    return number * scale;
}

std::uint32_t parsePositive(std::string_view text, std::string_view option)
{
    std::uint32_t n = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec != std::errc() || end != text.data() + text.size() || n == 0)
        throw UsageError(std::string(option) + " needs a positive number, not '" + std::string(text) + "'");
    return n;
}

} // namespace certd::certctl
