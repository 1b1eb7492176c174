#pragma once

// Text for people: terminal-safe strings, aligned tables and fields, times and durations.

#include "client.hpp"

#include <cstdint>
#include <iosfwd>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace certd::certctl {

// Makes untrusted text (certificate subjects, friendly names) safe for a terminal:
// control characters become \xNN (or \u{NNNN}), invalid UTF-8 becomes U+FFFD.
// `multiline` keeps line feeds (for PEM).
std::string sanitize(std::string_view text, bool multiline = false);
// Columns a sanitized string occupies (UTF-8 code points; no wide-glyph tables).
std::size_t displayWidth(std::string_view text);

struct Table {
    std::vector<std::string> headers;
    std::vector<std::vector<std::string>> rows;
};
// Left-aligned columns, two spaces apart, cells sanitized, no trailing blanks.
void printTable(std::ostream& out, const Table& table);

// "Label:  value" lines with the values aligned; an empty value prints "-".
using Fields = std::vector<std::pair<std::string, std::string>>;
void printFields(std::ostream& out, const Fields& fields);

// "2025-03-01" (UTC).
std::string formatDate(std::uint64_t usec);
// "2025-03-01 12:00:00 UTC"; "-" for 0.
std::string formatTime(std::uint64_t usec);
// "2025-03-01T12:00:00Z", for JSON.
std::string formatIsoTime(std::uint64_t usec);
// "3d 4h 5m".
std::string formatDuration(std::uint64_t usec);
std::string join(const std::vector<std::string>& items, std::string_view separator);
// "DNS:www.example.com".
std::string formatAltName(const client::AltName& name);

} // namespace certd::certctl
