#pragma once

#include "key.hpp"

#include <optional>
#include <string>
#include <vector>

namespace certd::pki {

// A warning shown beside an object: a stable machine code and a sentence for people.
struct Warning {
    std::string code;
    std::string text;
    bool operator==(const Warning&) const = default;
};

struct SubjectSpec {
    std::string country; // ISO 3166-1 alpha-2, upper case after validation
    std::string state;
    std::string locality;
    std::string organization;
    std::string organizationalUnit;
    std::string commonName;
    bool operator==(const SubjectSpec&) const = default;
};

struct SubjectAltName {
    enum class Type { Dns, Ip };
    Type type = Type::Dns;
    std::string value; // IP literals in canonical text form after validation
    bool operator==(const SubjectAltName&) const = default;
};

// What CreateSelfSigned / CreateRequest take (after the bus layer has resolved
// `key` and `copy_from` to objects).
struct CertificateSpec {
    std::string friendlyName;
    std::optional<KeyType> keyType; // unset when an existing key is used
    SubjectSpec subject;
    std::vector<SubjectAltName> subjectAltNames;
    int days = 365; // self-signed validity
    bool operator==(const CertificateSpec&) const = default;
};

// Parses "DNS:name", "IP:addr" or a bare name (DNS). Throws
// Error(InvalidArgument) naming subject_alt_names on bad syntax.
SubjectAltName parseSubjectAltName(std::string_view text);
// "DNS:www.example.com", "IP:192.0.2.1".
std::string formatSubjectAltName(const SubjectAltName& san);

bool isIsoCountryCode(std::string_view code);
bool isValidDnsName(std::string_view name, bool allowWildcard);

// Validates and normalises a spec in place: throws Error(InvalidArgument)
// whose message names the spec key (country, common_name, subject_alt_names,
// days, ...); puts a DNS common name first among the SANs when missing;
// returns warnings (2-letter state, IP SANs).
std::vector<Warning> validateSpec(CertificateSpec& spec);

} // namespace certd::pki
