#pragma once

// Text helpers every part of certd shares: one copy of IP literal and UTF-8 handling.

#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace certd {

// ---------------------------------------------------------------- IP literals

struct IpAddress {
    enum class Family : std::uint8_t { V4 = 4, V6 = 6 };
    Family family = Family::V4;
    std::array<std::uint8_t, 16> bytes{}; // network order; an IPv4 address uses the first 4
    // The canonical text (inet_ntop): "127.0.0.2", "::1", "2001:db8::1".
    std::string text() const;
    // NOLINTNEXTLINE(modernize-use-nullptr): clang-tidy 14 misreads the defaulted comparison
    auto operator<=>(const IpAddress&) const = default;
};

// Whether "[::1]" (an IPv6 literal in brackets, as in URLs and certctl) is accepted too.
enum class Brackets { Refuse, Accept };

// An IPv4 or IPv6 literal; nullopt for anything else (host names, ports, garbage).
std::optional<IpAddress> parseIp(std::string_view text, Brackets brackets = Brackets::Refuse);
// The canonical text of an IP literal, as parseIp(text)->text(); nullopt when it is none.
std::optional<std::string> canonicalIp(std::string_view text, Brackets brackets = Brackets::Refuse);

// ---------------------------------------------------------------- ASCII

// Lower case of the ASCII letters; every other byte (UTF-8 included) unchanged.
std::string asciiLower(std::string_view s);
// `value` as exactly `digits` lower-case hex digits (the low ones): for \xNN and \uNNNN escapes.
std::string hexDigits(std::uint32_t value, int digits);

// ---------------------------------------------------------------- UTF-8

inline constexpr char32_t kInvalidCodePoint = 0xFFFFFFFF;
// U+FFFD, what invalid UTF-8 is shown as.
inline constexpr std::string_view kReplacementCharacter = "\xEF\xBF\xBD";

// Decodes the code point at s[pos]; `length` gets the bytes consumed (1 for an invalid byte,
// which yields kInvalidCodePoint). Rejects overlong forms, surrogates and values past U+10FFFF.
char32_t decodeUtf8(std::string_view s, std::size_t pos, std::size_t& length);
// Code points in well-formed UTF-8; nullopt when the bytes are not.
std::optional<std::size_t> utf8Length(std::string_view s);
inline bool isUtf8(std::string_view s)
{
    return utf8Length(s).has_value();
}

} // namespace certd
