#include "spec.hpp"

#include "error.hpp"
#include "chain.hpp"
#include "text.hpp"


#include <algorithm>
#include <array>
#include <cstring>

namespace certd::pki {
namespace {

// Every officially assigned ISO 3166-1 alpha-2 code (249, as in Debian's
// iso-codes). Exceptionally reserved codes such as UK and EU are left out:
// CAs reject them in a subject.
constexpr std::array<std::string_view, 249> kCountryCodes{
    "AD", "AE", "AF", "AG", "AI", "AL", "AM", "AO", "AQ", "AR", "AS", "AT", "AU", "AW", "AX", "AZ", "BA",
    "BB", "BD", "BE", "BF", "BG", "BH", "BI", "BJ", "BL", "BM", "BN", "BO", "BQ", "BR", "BS", "BT", "BV",
    "BW", "BY", "BZ", "CA", "CC", "CD", "CF", "CG", "CH", "CI", "CK", "CL", "CM", "CN", "CO", "CR", "CU",
    "CV", "CW", "CX", "CY", "CZ", "DE", "DJ", "DK", "DM", "DO", "DZ", "EC", "EE", "EG", "EH", "ER", "ES",
    "ET", "FI", "FJ", "FK", "FM", "FO", "FR", "GA", "GB", "GD", "GE", "GF", "GG", "GH", "GI", "GL", "GM",
    "GN", "GP", "GQ", "GR", "GS", "GT", "GU", "GW", "GY", "HK", "HM", "HN", "HR", "HT", "HU", "ID", "IE",
    "IL", "IM", "IN", "IO", "IQ", "IR", "IS", "IT", "JE", "JM", "JO", "JP", "KE", "KG", "KH", "KI", "KM",
    "KN", "KP", "KR", "KW", "KY", "KZ", "LA", "LB", "LC", "LI", "LK", "LR", "LS", "LT", "LU", "LV", "LY",
    "MA", "MC", "MD", "ME", "MF", "MG", "MH", "MK", "ML", "MM", "MN", "MO", "MP", "MQ", "MR", "MS", "MT",
    "MU", "MV", "MW", "MX", "MY", "MZ", "NA", "NC", "NE", "NF", "NG", "NI", "NL", "NO", "NP", "NR", "NU",
    "NZ", "OM", "PA", "PE", "PF", "PG", "PH", "PK", "PL", "PM", "PN", "PR", "PS", "PT", "PW", "PY", "QA",
    "RE", "RO", "RS", "RU", "RW", "SA", "SB", "SC", "SD", "SE", "SG", "SH", "SI", "SJ", "SK", "SL", "SM",
    "SN", "SO", "SR", "SS", "ST", "SV", "SX", "SY", "SZ", "TC", "TD", "TF", "TG", "TH", "TJ", "TK", "TL",
    "TM", "TN", "TO", "TR", "TT", "TV", "TW", "TZ", "UA", "UG", "UM", "US", "UY", "UZ", "VA", "VC", "VE",
    "VG", "VI", "VN", "VU", "WF", "WS", "YE", "YT", "ZA", "ZM", "ZW",
};

// X.520 upper bounds (RFC 5280 Appendix A), counted in characters.
constexpr std::size_t kMaxCountry = 2;
constexpr std::size_t kMaxState = 128;
constexpr std::size_t kMaxLocality = 128;
constexpr std::size_t kMaxOrganization = 64;
constexpr std::size_t kMaxOrganizationalUnit = 64;
constexpr std::size_t kMaxCommonName = 64;
// Not an ASN.1 field; a bound so a UI can lay it out and the state file stays sane.
constexpr std::size_t kMaxFriendlyName = 256;
// Far above what any CA issues (a few hundred at most) but bounds the work.
constexpr std::size_t kMaxSubjectAltNames = 1000;
// 100 years: a self-signed certificate for a closed network may be meant to
// "never" expire; longer is a typo. Below 1 day is never intended.
constexpr int kMinDays = 1;
constexpr int kMaxDays = 36500;

constexpr std::size_t kMaxDnsName = 253;
constexpr std::size_t kMaxDnsLabel = 63;

[[noreturn]] void invalid(std::string_view key, const std::string& message)
{
    throw Error(ErrorCode::InvalidArgument, std::string(key) + ": " + message);
}

char asciiLower(char c)
{
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}
char asciiUpper(char c)
{
    return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
}
bool isAsciiAlpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool isAsciiDigit(char c)
{
    return c >= '0' && c <= '9';
}

std::string lowerAscii(std::string_view s)
{
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), asciiLower);
    return out;
}

bool startsWithNoCase(std::string_view s, std::string_view prefix)
{
    if (s.size() < prefix.size())
        return false;
    for (std::size_t i = 0; i < prefix.size(); ++i)
        if (asciiLower(s[i]) != asciiLower(prefix[i]))
            return false;
    return true;
}

std::string_view trimSpaces(std::string_view s)
{
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
        s.remove_suffix(1);
    return s;
}

// A subject attribute: valid UTF-8, no control characters, within its bound.
void checkText(std::string_view key, std::string_view value, std::size_t maxChars)
{
    const auto length = utf8Length(value);
    if (!length)
        invalid(key, "is not valid UTF-8");
    for (const char c : value)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
            invalid(key, "must not contain control characters");
    if (*length > maxChars)
        invalid(key, "is " + std::to_string(*length) + " characters long; at most " +
                         std::to_string(maxChars) + " are allowed");
}

// Why `name` is not a valid DNS name, or nullopt when it is.
std::optional<std::string> dnsNameProblem(std::string_view name, bool allowWildcard)
{
    if (name.empty())
        return "is empty";
    if (name.size() > kMaxDnsName)
        return "is longer than " + std::to_string(kMaxDnsName) + " characters";
    if (name.back() == '.')
        return "must not end with a dot";
    std::vector<std::string_view> labels;
    for (std::size_t start = 0;;) {
        const std::size_t dot = name.find('.', start);
        labels.push_back(
            name.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start));
        if (dot == std::string_view::npos)
            break;
        start = dot + 1;
    }
    for (std::size_t i = 0; i < labels.size(); ++i) {
        const std::string_view label = labels[i];
        if (label.empty())
            return std::string("has an empty label (two dots in a row or a leading dot)");
        if (label == "*") {
            if (!allowWildcard)
                return std::string("must not contain a wildcard");
            if (i != 0)
                return std::string("may use '*' only as the whole leftmost label, as in *.example.com");
            // "*.com" would match every name under a public suffix; clients
            // refuse it, so ask for at least two labels after the wildcard.
            if (labels.size() < 3)
                return std::string("wildcard needs at least two labels after it, as in *.example.com");
            continue;
        }
        if (label.size() > kMaxDnsLabel)
            return "has a label longer than " + std::to_string(kMaxDnsLabel) + " characters";
        for (const char c : label) {
            if (c == '*')
                return std::string("may use '*' only as the whole leftmost label, as in *.example.com");
            if (static_cast<unsigned char>(c) >= 0x80)
                return std::string("has non-ASCII characters; write internationalised names in their "
                                   "xn-- (punycode) form");
            if (!isAsciiAlpha(c) && !isAsciiDigit(c) && c != '-')
                return std::string("may contain only letters, digits, hyphens and dots");
        }
        if (label.front() == '-' || label.back() == '-')
            return std::string("has a label that starts or ends with a hyphen");
    }
    // An all-numeric top label is an IP address gone wrong (999.1.1.1), never
    // a host name (RFC 3696 §2).
    const std::string_view top = labels.back();
    if (std::all_of(top.begin(), top.end(), isAsciiDigit))
        return std::string("ends in an all-numeric label; if this is an IP address, it is not a valid one");
    return std::nullopt;
}

SubjectAltName normalise(const SubjectAltName& san)
{
    const std::string_view value = trimSpaces(san.value);
    if (san.type == SubjectAltName::Type::Ip) {
        auto ip = canonicalIp(value);
        if (!ip)
            invalid("subject_alt_names", "'" + std::string(value) + "' is not an IPv4 or IPv6 address");
        return {SubjectAltName::Type::Ip, std::move(*ip)};
    }
    if (auto problem = dnsNameProblem(value, true))
        invalid("subject_alt_names", "'" + std::string(value) + "' is not a valid DNS name: it " + *problem);
    return {SubjectAltName::Type::Dns, lowerAscii(value)};
}

} // namespace

SubjectAltName parseSubjectAltName(std::string_view text)
{
    const std::string_view trimmed = trimSpaces(text);
    if (startsWithNoCase(trimmed, "DNS:"))
        return normalise({SubjectAltName::Type::Dns, std::string(trimmed.substr(4))});
    if (startsWithNoCase(trimmed, "IP:"))
        return normalise({SubjectAltName::Type::Ip, std::string(trimmed.substr(3))});
    // A bare IP literal is an IP SAN: nobody means the host name "192.0.2.1".
    if (auto ip = canonicalIp(trimmed))
        return {SubjectAltName::Type::Ip, std::move(*ip)};
    if (trimmed.find(':') != std::string_view::npos)
        invalid("subject_alt_names",
                "'" + std::string(trimmed) +
                    "' is neither a DNS name nor an IP address; write DNS:name or IP:address");
    return normalise({SubjectAltName::Type::Dns, std::string(trimmed)});
}

std::string formatSubjectAltName(const SubjectAltName& san)
{
    return (san.type == SubjectAltName::Type::Ip ? "IP:" : "DNS:") + san.value;
}

bool isIsoCountryCode(std::string_view code)
{
    return std::find(kCountryCodes.begin(), kCountryCodes.end(), code) != kCountryCodes.end();
}

bool isValidDnsName(std::string_view name, bool allowWildcard)
{
    return !dnsNameProblem(name, allowWildcard).has_value();
}

std::vector<Warning> validateSpec(CertificateSpec& spec)
{
    std::vector<Warning> warnings;
    SubjectSpec& subject = spec.subject;

    checkText("friendly_name", spec.friendlyName, kMaxFriendlyName);

    // Stray spaces from a web form would end up in the certificate for good.
    for (std::string* field : {&subject.country, &subject.state, &subject.locality, &subject.organization,
                               &subject.organizationalUnit, &subject.commonName})
        *field = std::string(trimSpaces(*field));

    if (!subject.country.empty()) {
        std::string upper = subject.country;
        std::transform(upper.begin(), upper.end(), upper.begin(), asciiUpper);
        if (upper.size() != kMaxCountry || !isAsciiAlpha(upper[0]) || !isAsciiAlpha(upper[1]) ||
            !isIsoCountryCode(upper)) {
            std::string message = "'" + subject.country + "' is not an ISO 3166 alpha-2 code";
            if (upper == "UK")
                message += " (the United Kingdom is GB)";
            else
                message += " (two letters, e.g. DE, US, GB)";
            invalid("country", message);
        }
        subject.country = upper;
    }
    checkText("state", subject.state, kMaxState);
    checkText("locality", subject.locality, kMaxLocality);
    checkText("organization", subject.organization, kMaxOrganization);
    checkText("organizational_unit", subject.organizationalUnit, kMaxOrganizationalUnit);
    if (subject.commonName.empty())
        invalid("common_name", "is required (the name clients connect to, e.g. www.example.com)");
    checkText("common_name", subject.commonName, kMaxCommonName);

    if (subject.state.size() == 2 && isAsciiAlpha(subject.state[0]) && isAsciiAlpha(subject.state[1]))
        warnings.push_back({std::string(warning::kStateAbbreviated),
                            "state '" + subject.state +
                                "' looks abbreviated; write the state or province name in full, as "
                                "certificate authorities require"});

    if (spec.days < kMinDays || spec.days > kMaxDays)
        invalid("days", std::to_string(spec.days) + " is out of range; use " + std::to_string(kMinDays) +
                            " to " + std::to_string(kMaxDays));

    if (spec.subjectAltNames.size() > kMaxSubjectAltNames)
        invalid("subject_alt_names", "at most " + std::to_string(kMaxSubjectAltNames) + " names are allowed");
    // Normalise, then drop repeats (the same name twice adds nothing to a
    // certificate), keeping the caller's order.
    std::vector<SubjectAltName> sans;
    for (const auto& san : spec.subjectAltNames) {
        SubjectAltName n = normalise(san);
        if (std::find(sans.begin(), sans.end(), n) == sans.end())
            sans.push_back(std::move(n));
    }

    // Promote the CN only when it is meant as a host name: an IP literal or a
    // DNS name with at least one dot. A single word ("Appliance") is a label
    // for people, and making it a SAN would claim a name nobody resolves.
    const std::string_view cn = subject.commonName;
    std::optional<SubjectAltName> cnSan;
    if (auto ip = canonicalIp(cn))
        cnSan = SubjectAltName{SubjectAltName::Type::Ip, std::move(*ip)};
    else if (cn.find('.') != std::string_view::npos && isValidDnsName(cn, true))
        cnSan = SubjectAltName{SubjectAltName::Type::Dns, lowerAscii(cn)};
    if (cnSan && std::find(sans.begin(), sans.end(), *cnSan) == sans.end())
        sans.insert(sans.begin(), std::move(*cnSan));
    spec.subjectAltNames = std::move(sans);

    std::string ips;
    for (const auto& san : spec.subjectAltNames)
        if (san.type == SubjectAltName::Type::Ip)
            ips += (ips.empty() ? "" : ", ") + san.value;
    if (!ips.empty())
        warnings.push_back({std::string(warning::kIpSubjectAltName),
                            "subject alternative names include IP addresses (" + ips +
                                "); public certificate authorities do not issue these for private addresses, "
                                "so prefer a DNS name that clients can use instead"});
    return warnings;
}

} // namespace certd::pki
