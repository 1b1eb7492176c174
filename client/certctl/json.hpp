#pragma once

// The JSON that certctl --json prints: values in insertion order, pretty-printed, strings
// escaped (invalid UTF-8 as U+FFFD).

#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace certd::certctl {

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

} // namespace certd::certctl
