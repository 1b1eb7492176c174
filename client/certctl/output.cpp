#include "certctl/output.hpp"

#include "text.hpp"

#include <algorithm>
#include <ctime>
#include <optional>
#include <ostream>

namespace certd::certctl {
namespace {

// Characters that would let a certificate's text move the cursor, recolour the
// terminal or reorder what is shown (bidi controls).
bool isUnsafeForTerminal(char32_t cp)
{
    return cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp < 0xA0) || (cp >= 0x202A && cp <= 0x202E) ||
           (cp >= 0x2066 && cp <= 0x2069);
}

std::string pad(int value, std::size_t width)
{
    std::string s = std::to_string(value);
    return s.size() >= width ? s : std::string(width - s.size(), '0') + s;
}

// The UTC calendar time of `usec` (since the epoch), broken down; nullopt if out of range.
std::optional<std::tm> utc(std::uint64_t usec)
{
    const auto seconds = static_cast<std::time_t>(usec / 1000000);
    std::tm tm{};
    if (gmtime_r(&seconds, &tm) == nullptr)
        return std::nullopt;
    return tm;
}

std::string dateOf(const std::tm& tm)
{
    return pad(tm.tm_year + 1900, 4) + "-" + pad(tm.tm_mon + 1, 2) + "-" + pad(tm.tm_mday, 2);
}

std::string clockOf(const std::tm& tm)
{
    return pad(tm.tm_hour, 2) + ":" + pad(tm.tm_min, 2) + ":" + pad(tm.tm_sec, 2);
}

} // namespace

std::string sanitize(std::string_view text, bool multiline)
{
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size();) {
        std::size_t length = 0;
        const char32_t cp = decodeUtf8(text, i, length);
        if (cp == kInvalidCodePoint)
            out += kReplacementCharacter;
        else if (multiline && cp == '\n')
            out += '\n';
        else if (cp < 0x80 && isUnsafeForTerminal(cp))
            out += "\\x" + hexDigits(static_cast<std::uint32_t>(cp), 2);
        else if (isUnsafeForTerminal(cp))
            out += "\\u{" + hexDigits(static_cast<std::uint32_t>(cp), 4) + "}";
        else
            out.append(text.substr(i, length));
        i += length;
    }
    return out;
}

std::size_t displayWidth(std::string_view text)
{
    std::size_t width = 0;
    for (std::size_t i = 0; i < text.size();) {
        std::size_t length = 0;
        decodeUtf8(text, i, length);
        i += length;
        ++width;
    }
    return width;
}

void printTable(std::ostream& out, const Table& table)
{
    const std::size_t columns = table.headers.size();
    std::vector<std::vector<std::string>> cells;
    cells.reserve(table.rows.size() + 1);
    cells.push_back(table.headers);
    for (const auto& row : table.rows) {
        std::vector<std::string> clean;
        clean.reserve(columns);
        for (std::size_t c = 0; c < columns; ++c)
            clean.push_back(c < row.size() ? sanitize(row[c]) : std::string());
        cells.push_back(std::move(clean));
    }

    std::vector<std::size_t> widths(columns, 0);
    for (const auto& row : cells)
        for (std::size_t c = 0; c < columns; ++c)
            widths[c] = std::max(widths[c], displayWidth(row[c]));

    std::string line;
    for (const auto& row : cells) {
        line.clear();
        for (std::size_t c = 0; c < columns; ++c) {
            if (c > 0)
                line += "  ";
            line += row[c];
            if (c + 1 < columns)
                line.append(widths[c] - displayWidth(row[c]), ' ');
        }
        while (!line.empty() && line.back() == ' ')
            line.pop_back();
        out << line << '\n';
    }
}

void printFields(std::ostream& out, const Fields& fields)
{
    std::size_t width = 0;
    for (const auto& [label, value] : fields)
        width = std::max(width, displayWidth(label));
    for (const auto& [label, value] : fields) {
        out << label << ':' << std::string(width - displayWidth(label) + 2, ' ')
            << (value.empty() ? std::string("-") : sanitize(value)) << '\n';
    }
}

std::string formatDate(std::uint64_t usec)
{
    const auto tm = utc(usec);
    return tm ? dateOf(*tm) : "?";
}

std::string formatTime(std::uint64_t usec)
{
    const auto tm = utc(usec);
    if (usec == 0 || !tm)
        return "-";
    return dateOf(*tm) + " " + clockOf(*tm) + " UTC";
}

std::string formatIsoTime(std::uint64_t usec)
{
    const auto tm = utc(usec);
    return tm ? dateOf(*tm) + "T" + clockOf(*tm) + "Z" : "?";
}

std::string formatDuration(std::uint64_t usec)
{
    const std::uint64_t s = usec / 1000000;
    const std::uint64_t days = s / 86400;
    const std::uint64_t hours = s % 86400 / 3600;
    const std::uint64_t minutes = s % 3600 / 60;
    const std::uint64_t seconds = s % 60;
    const auto part = [](std::uint64_t n, char unit) { return std::to_string(n) + unit; };
    if (days > 0)
        return part(days, 'd') + " " + part(hours, 'h') + " " + part(minutes, 'm');
    if (hours > 0)
        return part(hours, 'h') + " " + part(minutes, 'm');
    if (minutes > 0)
        return part(minutes, 'm') + " " + part(seconds, 's');
    return part(seconds, 's');
}

std::string join(const std::vector<std::string>& items, std::string_view separator)
{
    std::string out;
    for (std::size_t i = 0; i < items.size(); ++i) {
        if (i > 0)
            out += separator;
        out += items[i];
    }
    return out;
}

std::string formatAltName(const client::AltName& name)
{
    return name.type + ":" + name.value;
}

} // namespace certd::certctl
