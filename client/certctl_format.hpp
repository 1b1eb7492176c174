#pragma once

// The pure parts of certctl, kept apart so unit tests can link them without a bus:
// the argument parser, name resolution over an Inventory, the JSON writer, the
// table printer, and the JSON/text forms of certd's objects.

#include "client.hpp"

#include <cstdint>
#include <iosfwd>
#include <map>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace certd::certctl {

// ---------------------------------------------------------------- arguments

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

// ---------------------------------------------------------------- resolution

enum class ObjectKind { Certificate, Request, Key };

std::string_view kindName(ObjectKind kind);                   // "certificate", "request", "key"
std::string describeKinds(std::span<const ObjectKind> kinds); // "certificate, request or key"
// The kind an object path belongs to, from its prefix.
std::optional<ObjectKind> kindOfPath(std::string_view path);

struct ObjectRef {
    ObjectKind kind = ObjectKind::Certificate;
    std::string path;
    std::string id;
    std::string friendlyName;
};

// Shortest unique id prefix certctl accepts.
inline constexpr std::size_t kMinIdPrefix = 4;

// Finds the one object of the given kinds that `ref` names: an object path, an
// id, a friendly name, or a unique id prefix (at least kMinIdPrefix characters),
// in that order of precedence. Throws Error(NotFound) when nothing matches and
// Error(InvalidArgument) listing the candidates when several do.
ObjectRef resolveObject(const client::Inventory& inventory, std::string_view ref,
                        std::span<const ObjectKind> kinds);

// True when `ref` could be a complete id (lower-case hex, long enough) — worth a
// direct lookup before listing every object.
bool looksLikeId(std::string_view ref);

// ---------------------------------------------------------------- JSON

class Json {
public:
    using Array = std::vector<Json>;
    using Object = std::vector<std::pair<std::string, Json>>; // keeps insertion order

    Json() = default;
    Json(std::nullptr_t) {}
    Json(bool b) : value_(b) {}
    template <typename T>
    requires(std::is_integral_v<T> && !std::is_same_v<T, bool>) Json(T n)
    {
        if constexpr (std::is_signed_v<T>)
            value_ = static_cast<std::int64_t>(n);
        else
            value_ = static_cast<std::uint64_t>(n);
    }
    Json(std::string s) : value_(std::move(s)) {}
    Json(std::string_view s) : value_(std::string(s)) {}
    Json(const char* s) : value_(std::string(s)) {}
    Json(Array a) : value_(std::move(a)) {}
    Json(Object o) : value_(std::move(o)) {}

    static Json array() { return Json(Array{}); }
    static Json object() { return Json(Object{}); }

    // Appends a member (object) or element (array).
    Json& set(std::string key, Json value);
    Json& push(Json value);

    // Pretty-printed with two-space indents, no trailing newline.
    std::string dump() const;

private:
    void write(std::string& out, int indent) const;
    std::variant<std::nullptr_t, bool, std::int64_t, std::uint64_t, std::string, Array, Object> value_;
};

// Appends `s` as a JSON string literal: quotes, escapes, invalid UTF-8 as U+FFFD.
void appendJsonString(std::string& out, std::string_view s);

// A list of strings as a JSON array.
Json jsonStrings(const std::vector<std::string>& strings);
// An object path, or null for "/".
Json jsonPath(const std::string& path);

// ---------------------------------------------------------------- text output

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

// ---------------------------------------------------------------- certd objects

// Maps object paths to display names ("Appliance", or the id when unnamed).
class NameIndex {
public:
    NameIndex() = default;
    explicit NameIndex(const client::Inventory& inventory);
    void add(const std::string& path, const std::string& friendlyName);
    std::string name(const std::string& path) const;

private:
    std::map<std::string, std::string, std::less<>> names_;
};

Json toJson(const client::Certificate& c);
Json toJson(const client::Request& r);
Json toJson(const client::Key& k);
Json toJson(const client::Address& a);
Json toJson(const client::Status& s);
Json toJson(const std::vector<client::Warning>& warnings);
Json toJson(const std::vector<client::Finding>& findings);

// The appliance's certificate list: Friendly Name, Issued To, Issued By, Expiration,
// Alternative Names, IP Addresses (bound appliance addresses), Private Key, Warnings.
Table certificateTable(const std::vector<client::Certificate>& certificates);
Table requestTable(const std::vector<client::Request>& requests);
Table keyTable(const std::vector<client::Key>& keys, const NameIndex& names);
Table addressTable(const std::vector<client::Address>& addresses, const NameIndex& names);
Table findingTable(const std::vector<client::Finding>& findings);

Fields certificateFields(const client::Certificate& c, const NameIndex& names);
Fields requestFields(const client::Request& r, const NameIndex& names);
Fields keyFields(const client::Key& k, const NameIndex& names);
Fields statusFields(const client::Status& s, const NameIndex& names);
Table bindingTable(const std::vector<client::AddressBinding>& bindings, const NameIndex& names);

// Certificates sorted for people: by friendly name (ignoring case), then id.
void sortForDisplay(std::vector<client::Certificate>& certificates);
// Addresses in numeric order, IPv4 before IPv6.
void sortForDisplay(std::vector<client::Address>& addresses);
// Requests oldest first; keys by id.
void sortForDisplay(std::vector<client::Request>& requests);
void sortForDisplay(std::vector<client::Key>& keys);

} // namespace certd::certctl
