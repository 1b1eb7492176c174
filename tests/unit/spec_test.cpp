#include "error.hpp"
#include "pki/chain.hpp"
#include "pki/spec.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace certd;
using namespace certd::pki;

namespace {

using Type = SubjectAltName::Type;

CertificateSpec goodSpec()
{
    CertificateSpec spec;
    spec.friendlyName = "Web";
    spec.keyType = KeyType::EcP256;
    spec.subject.country = "DE";
    spec.subject.state = "Bavaria";
    spec.subject.locality = "Munich";
    spec.subject.organization = "Example";
    spec.subject.organizationalUnit = "IT";
    spec.subject.commonName = "www.example.com";
    spec.days = 365;
    return spec;
}

// The InvalidArgument message validateSpec throws for the spec, or "" when it accepts it.
std::string rejection(CertificateSpec spec)
{
    try {
        (void)validateSpec(spec);
    } catch (const Error& e) {
        CHECK(e.code() == ErrorCode::InvalidArgument);
        return e.what();
    }
    return {};
}

std::string sanRejection(const std::string& san)
{
    CertificateSpec spec = goodSpec();
    try {
        spec.subjectAltNames.push_back(parseSubjectAltName(san));
    } catch (const Error& e) {
        CHECK(e.code() == ErrorCode::InvalidArgument);
        return e.what();
    }
    // Also what a caller that builds SubjectAltName itself gets.
    return rejection(spec);
}

bool startsWith(const std::string& s, const std::string& prefix)
{
    return s.rfind(prefix, 0) == 0;
}

std::vector<std::string> codes(const std::vector<Warning>& warnings)
{
    std::vector<std::string> out;
    out.reserve(warnings.size());
    for (const auto& w : warnings)
        out.push_back(w.code);
    return out;
}

} // namespace

TEST_CASE("a complete good spec validates without warnings and keeps its fields")
{
    CertificateSpec spec = goodSpec();
    const auto warnings = validateSpec(spec);
    CHECK(warnings.empty());
    CHECK(spec.subject.country == "DE");
    CHECK(spec.subject.commonName == "www.example.com");
    REQUIRE(spec.subjectAltNames.size() == 1);
    CHECK(spec.subjectAltNames[0] == SubjectAltName{Type::Dns, "www.example.com"});
}

TEST_CASE("country codes: the official ISO 3166 list, upper-cased, empty allowed")
{
    CHECK(isIsoCountryCode("DE"));
    CHECK(isIsoCountryCode("US"));
    CHECK(isIsoCountryCode("GB"));
    CHECK(isIsoCountryCode("AX"));
    CHECK(isIsoCountryCode("ZW"));
    CHECK(isIsoCountryCode("SS")); // South Sudan, assigned 2011
    CHECK_FALSE(isIsoCountryCode("XX"));
    CHECK_FALSE(isIsoCountryCode("UK")); // reserved, not assigned
    CHECK_FALSE(isIsoCountryCode("EU"));
    CHECK_FALSE(isIsoCountryCode("de")); // the raw check is case-sensitive; validateSpec upper-cases

    CertificateSpec lower = goodSpec();
    lower.subject.country = "de";
    CHECK(validateSpec(lower).empty());
    CHECK(lower.subject.country == "DE");

    CertificateSpec none = goodSpec();
    none.subject.country.clear();
    CHECK_NOTHROW(validateSpec(none));
    CHECK(none.subject.country.empty());
}

TEST_CASE("bad country codes are InvalidArgument naming country")
{
    for (const char* bad : {"XX", "usa", "1A", "D", "UK", "D3", "ÄÖ"}) {
        CAPTURE(bad);
        CertificateSpec spec = goodSpec();
        spec.subject.country = bad;
        const std::string message = rejection(spec);
        CHECK(startsWith(message, "country: "));
        CHECK(message.find("ISO 3166") != std::string::npos);
    }
    CertificateSpec spec = goodSpec();
    spec.subject.country = "XX";
    CHECK(rejection(spec) == "country: 'XX' is not an ISO 3166 alpha-2 code (two letters, e.g. DE, US, GB)");
    spec.subject.country = "uk";
    CHECK(rejection(spec).find("GB") != std::string::npos);
}

TEST_CASE("common name is required")
{
    CertificateSpec spec = goodSpec();
    spec.subject.commonName.clear();
    CHECK(startsWith(rejection(spec), "common_name: is required"));
    spec.subject.commonName = "   ";
    CHECK(startsWith(rejection(spec), "common_name: "));
}

TEST_CASE("subject fields are limited to their ASN.1 upper bounds, counted in characters")
{
    struct Field {
        std::string SubjectSpec::*member;
        const char* key;
        std::size_t max;
    };
    const Field fields[] = {
        {&SubjectSpec::commonName, "common_name", 64},
        {&SubjectSpec::organization, "organization", 64},
        {&SubjectSpec::organizationalUnit, "organizational_unit", 64},
        {&SubjectSpec::locality, "locality", 128},
        {&SubjectSpec::state, "state", 128},
    };
    for (const auto& f : fields) {
        CAPTURE(f.key);
        CertificateSpec atLimit = goodSpec();
        atLimit.subject.*f.member = std::string(f.max, 'a');
        CHECK(rejection(atLimit).empty());

        CertificateSpec over = goodSpec();
        over.subject.*f.member = std::string(f.max + 1, 'a');
        const std::string message = rejection(over);
        CHECK(startsWith(message, std::string(f.key) + ": "));
        CHECK(message.find(std::to_string(f.max)) != std::string::npos);
    }
    // 64 two-byte characters are 128 bytes but still 64 characters.
    CertificateSpec umlauts = goodSpec();
    std::string o;
    for (int i = 0; i < 64; ++i)
        o += "ü";
    umlauts.subject.organization = o;
    CHECK(rejection(umlauts).empty());
    umlauts.subject.organization += "ü";
    CHECK(startsWith(rejection(umlauts), "organization: "));
}

TEST_CASE("subject fields reject invalid UTF-8 and control characters")
{
    CertificateSpec spec = goodSpec();
    spec.subject.organization = "Bad\xff";
    CHECK(startsWith(rejection(spec), "organization: is not valid UTF-8"));
    spec = goodSpec();
    spec.subject.locality = "Line\nbreak";
    CHECK(startsWith(rejection(spec), "locality: "));
    spec = goodSpec();
    spec.friendlyName = std::string(300, 'x');
    CHECK(startsWith(rejection(spec), "friendly_name: "));
}

TEST_CASE("days must lie between 1 and 36500")
{
    for (const int days : {0, -1, 36501}) {
        CAPTURE(days);
        CertificateSpec spec = goodSpec();
        spec.days = days;
        CHECK(startsWith(rejection(spec), "days: "));
    }
    for (const int days : {1, 36500}) {
        CertificateSpec spec = goodSpec();
        spec.days = days;
        CHECK(rejection(spec).empty());
    }
}

TEST_CASE("SAN parsing: DNS, wildcard, bare names, IPv4 and IPv6 in canonical form")
{
    CHECK(parseSubjectAltName("DNS:www.example.com") == SubjectAltName{Type::Dns, "www.example.com"});
    CHECK(parseSubjectAltName("dns:WWW.Example.COM") == SubjectAltName{Type::Dns, "www.example.com"});
    CHECK(parseSubjectAltName("api.example.com") == SubjectAltName{Type::Dns, "api.example.com"});
    CHECK(parseSubjectAltName("*.example.com") == SubjectAltName{Type::Dns, "*.example.com"});
    CHECK(parseSubjectAltName("localhost") == SubjectAltName{Type::Dns, "localhost"});
    CHECK(parseSubjectAltName("IP:192.0.2.1") == SubjectAltName{Type::Ip, "192.0.2.1"});
    CHECK(parseSubjectAltName("IP:2001:DB8:0:0::1") == SubjectAltName{Type::Ip, "2001:db8::1"});
    CHECK(parseSubjectAltName("ip:::1") == SubjectAltName{Type::Ip, "::1"});
    CHECK(parseSubjectAltName("192.0.2.7") == SubjectAltName{Type::Ip, "192.0.2.7"}); // bare IP is an IP SAN
    CHECK(parseSubjectAltName("fe80::1") == SubjectAltName{Type::Ip, "fe80::1"});
    CHECK(parseSubjectAltName(" DNS:spaced.example.com ") == SubjectAltName{Type::Dns, "spaced.example.com"});

    CHECK(formatSubjectAltName({Type::Dns, "www.example.com"}) == "DNS:www.example.com");
    CHECK(formatSubjectAltName({Type::Ip, "192.0.2.1"}) == "IP:192.0.2.1");
}

TEST_CASE("DNS name rules: LDH labels of 1-63, 253 total, wildcard only as the whole leftmost label")
{
    CHECK(isValidDnsName("a.example", false));
    CHECK(isValidDnsName("xn--mnchen-3ya.de", false));
    CHECK(isValidDnsName("a-b.example", false));
    CHECK(isValidDnsName(std::string(63, 'a') + ".example", false));
    CHECK_FALSE(isValidDnsName(std::string(64, 'a') + ".example", false));
    std::string longName;
    while (longName.size() < 250)
        longName += "abcdefghi.";
    longName += "com"; // 253 characters
    CHECK(longName.size() == 253);
    CHECK(isValidDnsName(longName, false));
    CHECK_FALSE(isValidDnsName("a" + longName, false));

    CHECK(isValidDnsName("*.example.com", true));
    CHECK_FALSE(isValidDnsName("*.example.com", false));
    CHECK_FALSE(isValidDnsName("*.com", true)); // at least two labels after the wildcard
    CHECK_FALSE(isValidDnsName("*", true));
    CHECK_FALSE(isValidDnsName("*.*.example.com", true));
    CHECK_FALSE(isValidDnsName("foo.*.example.com", true));
    CHECK_FALSE(isValidDnsName("f*o.example.com", true));
    CHECK_FALSE(isValidDnsName("a..b", false));
    CHECK_FALSE(isValidDnsName(".a.b", false));
    CHECK_FALSE(isValidDnsName("a.b.", false));
    CHECK_FALSE(isValidDnsName("-a.example", false));
    CHECK_FALSE(isValidDnsName("a-.example", false));
    CHECK_FALSE(isValidDnsName("under_score.example", false));
    CHECK_FALSE(isValidDnsName("münchen.de", false));
    CHECK_FALSE(isValidDnsName("999.1.1.1", false));
    CHECK_FALSE(isValidDnsName("", false));
}

TEST_CASE("every bad SAN is InvalidArgument naming subject_alt_names")
{
    for (const char* bad : {"*.*.example.com", "foo.*.example.com", "a..b", "-a.example", "IP:999.1.1.1",
                            "999.1.1.1", "IP:zz::zz::1", "DNS:", "IP:", "*.com", "email:root@example.com",
                            "DNS:a b.example", "IP:fe80::1%eth0", "IP:www.example.com"}) {
        CAPTURE(bad);
        const std::string message = sanRejection(bad);
        CHECK(startsWith(message, "subject_alt_names: "));
    }
    const std::string tooLong = "DNS:" + std::string(64, 'a') + ".example.com";
    CHECK(startsWith(sanRejection(tooLong), "subject_alt_names: '"));
    CHECK(sanRejection(tooLong).find("longer than 63") != std::string::npos);

    // Structs built by the caller are validated too.
    CertificateSpec spec = goodSpec();
    spec.subjectAltNames = {{Type::Ip, "300.0.0.1"}};
    CHECK(startsWith(rejection(spec), "subject_alt_names: '300.0.0.1' is not an IPv4 or IPv6 address"));
    spec.subjectAltNames = {{Type::Dns, "bad..name"}};
    CHECK(startsWith(rejection(spec), "subject_alt_names: 'bad..name' is not a valid DNS name"));
}

TEST_CASE("a DNS common name becomes the first SAN when not listed")
{
    CertificateSpec spec = goodSpec();
    spec.subjectAltNames = {{Type::Dns, "api.example.com"}, {Type::Ip, "192.0.2.1"}};
    (void)validateSpec(spec);
    REQUIRE(spec.subjectAltNames.size() == 3);
    CHECK(spec.subjectAltNames[0] == SubjectAltName{Type::Dns, "www.example.com"});
    CHECK(spec.subjectAltNames[1] == SubjectAltName{Type::Dns, "api.example.com"});
    CHECK(spec.subjectAltNames[2] == SubjectAltName{Type::Ip, "192.0.2.1"});
}

TEST_CASE("a common name already among the SANs is not duplicated and keeps the caller's order")
{
    CertificateSpec spec = goodSpec();
    spec.subjectAltNames = {{Type::Dns, "api.example.com"}, {Type::Dns, "WWW.example.com"}};
    (void)validateSpec(spec);
    REQUIRE(spec.subjectAltNames.size() == 2);
    CHECK(spec.subjectAltNames[0] == SubjectAltName{Type::Dns, "api.example.com"});
    CHECK(spec.subjectAltNames[1] == SubjectAltName{Type::Dns, "www.example.com"});

    CertificateSpec dup = goodSpec();
    dup.subjectAltNames = {
        {Type::Dns, "a.example"}, {Type::Dns, "A.example"}, {Type::Ip, "::0:1"}, {Type::Ip, "::1"}};
    (void)validateSpec(dup);
    CHECK(dup.subjectAltNames.size() == 3); // www.example.com, a.example, ::1
}

TEST_CASE("an IP common name becomes an IP SAN; a wildcard CN a DNS SAN; a plain word none")
{
    CertificateSpec ip = goodSpec();
    ip.subject.commonName = "192.0.2.10";
    (void)validateSpec(ip);
    REQUIRE(ip.subjectAltNames.size() == 1);
    CHECK(ip.subjectAltNames[0] == SubjectAltName{Type::Ip, "192.0.2.10"});

    CertificateSpec wildcard = goodSpec();
    wildcard.subject.commonName = "*.example.com";
    (void)validateSpec(wildcard);
    REQUIRE(wildcard.subjectAltNames.size() == 1);
    CHECK(wildcard.subjectAltNames[0] == SubjectAltName{Type::Dns, "*.example.com"});

    CertificateSpec word = goodSpec();
    word.subject.commonName = "Appliance";
    (void)validateSpec(word);
    CHECK(word.subjectAltNames.empty());
}

TEST_CASE("a two-letter state is a state-abbreviated warning, not an error")
{
    CertificateSpec spec = goodSpec();
    spec.subject.state = "CA";
    const auto warnings = validateSpec(spec);
    REQUIRE(warnings.size() == 1);
    CHECK(warnings[0].code == warning::kStateAbbreviated);
    CHECK(warnings[0].text.find("in full") != std::string::npos);
    CHECK(warnings[0].text.find("'CA'") != std::string::npos);

    CertificateSpec full = goodSpec();
    full.subject.state = "California";
    CHECK(validateSpec(full).empty());
}

TEST_CASE("IP SANs give one ip-subject-alt-name warning that lists them")
{
    CertificateSpec spec = goodSpec();
    spec.subjectAltNames = {{Type::Ip, "192.0.2.1"}, {Type::Ip, "2001:db8::1"}};
    const auto warnings = validateSpec(spec);
    CHECK(codes(warnings) == std::vector<std::string>{std::string(warning::kIpSubjectAltName)});
    CHECK(warnings[0].text.find("192.0.2.1") != std::string::npos);
    CHECK(warnings[0].text.find("2001:db8::1") != std::string::npos);

    CertificateSpec both = goodSpec();
    both.subject.state = "BY";
    both.subject.commonName = "10.0.0.1";
    CHECK(codes(validateSpec(both)) == std::vector<std::string>{std::string(warning::kStateAbbreviated),
                                                                std::string(warning::kIpSubjectAltName)});
}

TEST_CASE("subject fields are trimmed of surrounding spaces")
{
    CertificateSpec spec = goodSpec();
    spec.subject.commonName = "  www.example.com ";
    spec.subject.country = " de";
    (void)validateSpec(spec);
    CHECK(spec.subject.commonName == "www.example.com");
    CHECK(spec.subject.country == "DE");
    CHECK(spec.subjectAltNames.at(0).value == "www.example.com");
}
