// common/text: the one copy of IP literal and UTF-8 handling that certd, certd-tls, the
// client and certctl share.
#include "text.hpp"

#include <doctest/doctest.h>

using namespace certd;

TEST_CASE("IP literals are canonicalised; brackets only where asked")
{
    CHECK(canonicalIp("127.0.0.2") == "127.0.0.2");
    CHECK(canonicalIp("0:0::1") == "::1");
    CHECK(canonicalIp("2001:DB8:0:0::1") == "2001:db8::1");
    CHECK_FALSE(canonicalIp("[::1]").has_value());
    CHECK(canonicalIp("[::1]", Brackets::Accept) == "::1");
    CHECK(canonicalIp("[127.0.0.2]", Brackets::Accept) == "127.0.0.2");
    for (const char* bad :
         {"", "localhost", "127.0.0.256", "1.2.3", "::1%lo", "[::1", "127.0.0.1:80", " 127.0.0.1"})
        CHECK_MESSAGE(!canonicalIp(bad, Brackets::Accept).has_value(), bad);
    CHECK_FALSE(canonicalIp(std::string_view("127.0.0.1\0x", 11)).has_value());
}

TEST_CASE("parsed addresses sort by family, then bytes")
{
    const auto a = parseIp("10.0.0.2");
    const auto b = parseIp("10.0.0.10");
    const auto c = parseIp("::1");
    REQUIRE((a && b && c));
    CHECK(*a < *b); // numeric, not text order
    CHECK(*b < *c); // IPv4 before IPv6
    CHECK(c->family == IpAddress::Family::V6);
    CHECK(c->text() == "::1");
}

TEST_CASE("UTF-8: code points counted, malformed input refused")
{
    CHECK(utf8Length("") == 0u);
    CHECK(utf8Length("Zürich") == 6u);
    CHECK(utf8Length("\xF0\x9F\x94\x92") == 1u); // U+1F512
    CHECK_FALSE(isUtf8("\xC0\xAF"));             // overlong '/'
    CHECK_FALSE(isUtf8("\xED\xA0\x80"));         // surrogate U+D800
    CHECK_FALSE(isUtf8("\xF4\x90\x80\x80"));     // past U+10FFFF
    CHECK_FALSE(isUtf8("\xE2\x82"));             // truncated
    CHECK_FALSE(isUtf8("\x80"));                 // lone continuation
    std::size_t length = 0;
    CHECK(decodeUtf8("\xC3\xBC!", 0, length) == U'\u00FC');
    CHECK(length == 2u);
    CHECK(decodeUtf8("\xFF", 0, length) == kInvalidCodePoint);
    CHECK(length == 1u);
}
