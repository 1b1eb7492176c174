#include "text.hpp"

#include <arpa/inet.h>

namespace certd {

std::string IpAddress::text() const
{
    char out[INET6_ADDRSTRLEN] = {};
    const int af = family == Family::V4 ? AF_INET : AF_INET6;
    if (::inet_ntop(af, bytes.data(), out, sizeof(out)) == nullptr)
        return {};
    return out;
}

std::optional<IpAddress> parseIp(std::string_view text, Brackets brackets)
{
    if (brackets == Brackets::Accept && text.size() > 2 && text.front() == '[' && text.back() == ']')
        text = text.substr(1, text.size() - 2);
    const std::string s(text); // inet_pton wants a NUL-terminated string
    if (s.size() != text.size() || s.find('\0') != std::string::npos)
        return std::nullopt;
    IpAddress ip;
    if (::inet_pton(AF_INET, s.c_str(), ip.bytes.data()) == 1) {
        ip.family = IpAddress::Family::V4;
        return ip;
    }
    if (::inet_pton(AF_INET6, s.c_str(), ip.bytes.data()) == 1) {
        ip.family = IpAddress::Family::V6;
        return ip;
    }
    return std::nullopt;
}

std::optional<std::string> canonicalIp(std::string_view text, Brackets brackets)
{
    const auto ip = parseIp(text, brackets);
    if (!ip)
        return std::nullopt;
    return ip->text();
}

std::string asciiLower(std::string_view s)
{
    std::string out(s);
    for (char& c : out)
        if (c >= 'A' && c <= 'Z')
            c = static_cast<char>(c - 'A' + 'a');
    return out;
}

std::string hexDigits(std::uint32_t value, int digits)
{
    static constexpr std::string_view kDigits = "0123456789abcdef";
    std::string out(static_cast<std::size_t>(digits), '0');
    for (int i = digits - 1; i >= 0; --i) {
        out[static_cast<std::size_t>(i)] = kDigits[value & 0xF];
        value >>= 4;
    }
    return out;
}

char32_t decodeUtf8(std::string_view s, std::size_t pos, std::size_t& length)
{
    const auto b0 = static_cast<unsigned char>(s[pos]);
    length = 1;
    if (b0 < 0x80)
        return b0;
    std::size_t n = 0;
    char32_t cp = 0;
    char32_t min = 0;
    if ((b0 & 0xE0) == 0xC0) {
        n = 2;
        cp = b0 & 0x1F;
        min = 0x80;
    } else if ((b0 & 0xF0) == 0xE0) {
        n = 3;
        cp = b0 & 0x0F;
        min = 0x800;
    } else if ((b0 & 0xF8) == 0xF0) {
        n = 4;
        cp = b0 & 0x07;
        min = 0x10000;
    } else {
        return kInvalidCodePoint;
    }
    if (pos + n > s.size())
        return kInvalidCodePoint;
    for (std::size_t i = 1; i < n; ++i) {
        const auto b = static_cast<unsigned char>(s[pos + i]);
        if ((b & 0xC0) != 0x80)
            return kInvalidCodePoint;
        cp = (cp << 6) | (b & 0x3F);
    }
    // Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return kInvalidCodePoint;
    length = n;
    return cp;
}

std::optional<std::size_t> utf8Length(std::string_view s)
{
    std::size_t count = 0;
    for (std::size_t i = 0; i < s.size(); ++count) {
        std::size_t length = 0;
        if (decodeUtf8(s, i, length) == kInvalidCodePoint)
            return std::nullopt;
        i += length;
    }
    return count;
}

} // namespace certd
