#include "arguments.hpp"

#include "error.hpp"
#include "service.hpp"

#include <set>

namespace certd::bus {
namespace {

template <typename T>
T get(const VariantMap& map, const std::string& key, T fallback)
{
    const auto it = map.find(key);
    if (it == map.end())
        return fallback;
    if (!it->second.containsValueOfType<T>())
        throw Error(ErrorCode::InvalidArgument, key + ": expected type '" + sdbus::signature_of<T>::str() +
                                                    "', got '" + it->second.peekValueType() + "'");
    return it->second.get<T>();
}

void refuseUnknown(const VariantMap& map, const std::set<std::string>& known, const char* what)
{
    for (const auto& [key, value] : map)
        if (!known.count(key))
            throw Error(ErrorCode::InvalidArgument, std::string(what) + ": unknown key '" + key + "'");
}

// Integers from busctl scripts arrive as whatever type the script wrote; accept any unsigned/signed width.
std::int64_t getInteger(const VariantMap& map, const std::string& key, std::int64_t fallback)
{
    const auto it = map.find(key);
    if (it == map.end())
        return fallback;
    const auto& v = it->second;
    if (v.containsValueOfType<std::uint32_t>())
        return v.get<std::uint32_t>();
    if (v.containsValueOfType<std::int32_t>())
        return v.get<std::int32_t>();
    if (v.containsValueOfType<std::uint16_t>())
        return v.get<std::uint16_t>();
    if (v.containsValueOfType<std::int16_t>())
        return v.get<std::int16_t>();
    if (v.containsValueOfType<std::uint64_t>()) {
        const auto u = v.get<std::uint64_t>();
        if (u > 1000000)
            throw Error(ErrorCode::InvalidArgument, key + ": out of range");
        return static_cast<std::int64_t>(u);
    }
    if (v.containsValueOfType<std::int64_t>())
        return v.get<std::int64_t>();
    throw Error(ErrorCode::InvalidArgument, key + ": expected an integer, got '" + v.peekValueType() + "'");
}

} // namespace

acme::OrderSpec parseAcmeSpec(const VariantMap& map)
{
    refuseUnknown(map,
                  {"directory_url", "identifiers", "challenge", "key_type", "key", "contact", "ca_bundle",
                   "assign", "friendly_name", "renew_percent", "renew_after_seconds", "eab_kid",
                   "eab_hmac_key"},
                  "spec");
    acme::OrderSpec out;
    StoredAcmeOrder& order = out.order;
    order.directoryUrl = get<std::string>(map, "directory_url", {});
    if (order.directoryUrl.empty())
        throw Error(ErrorCode::InvalidArgument, "directory_url: required (the ACME server's directory URL)");
    order.identifiers = get<std::vector<std::string>>(map, "identifiers", {});
    order.challenge = get<std::string>(map, "challenge", "tls-alpn-01");
    order.keyType = get<std::string>(map, "key_type", {});
    const auto key = get<sdbus::ObjectPath>(map, "key", sdbus::ObjectPath());
    if (!key.empty()) {
        if (!order.keyType.empty())
            throw Error(ErrorCode::InvalidArgument, "key: give either key or key_type, not both");
        order.fixedKeyId = idFromPath(key, "/org/certd1/key/", "key");
    }
    order.contact = get<std::string>(map, "contact", {});
    if (order.contact.find_first_of(" \t\r\n,") != std::string::npos)
        throw Error(ErrorCode::InvalidArgument, "contact: one e-mail address");
    const auto bundle = get<std::vector<std::uint8_t>>(map, "ca_bundle", {});
    order.caBundle.assign(bundle.begin(), bundle.end());
    order.assign = get<std::vector<std::string>>(map, "assign", {});
    order.friendlyName = get<std::string>(map, "friendly_name", {});
    const std::int64_t percent = getInteger(map, "renew_percent", 0);
    const std::int64_t after = getInteger(map, "renew_after_seconds", 0);
    if (percent < 0 || percent > 99)
        throw Error(ErrorCode::InvalidArgument, "renew_percent: 1 to 99");
    if (after < 0)
        throw Error(ErrorCode::InvalidArgument, "renew_after_seconds: must not be negative");
    order.renewPercent = static_cast<std::uint64_t>(percent);
    order.renewAfterSeconds = static_cast<std::uint64_t>(after);
    const auto eabKid = get<std::string>(map, "eab_kid", {});
    const auto eabKey = get<std::string>(map, "eab_hmac_key", {});
    if (eabKid.empty() != eabKey.empty())
        throw Error(ErrorCode::InvalidArgument, "eab_kid and eab_hmac_key: give both or neither");
    if (!eabKid.empty()) {
        Bytes macKey;
        try {
            macKey = acme::fromBase64Url(eabKey);
        } catch (const Error&) {
            throw Error(ErrorCode::InvalidArgument, "eab_hmac_key: not base64url");
        }
        if (macKey.size() < 16)
            throw Error(ErrorCode::InvalidArgument, "eab_hmac_key: shorter than 128 bits");
        out.eab = acme::ExternalAccountBinding{eabKid, std::move(macKey)};
    }
    return out;
}

CreateSpec parseCreateSpec(const VariantMap& map, bool selfSigned)
{
    std::set<std::string> known{"friendly_name", "key_type",          "key",          "country",
                                "state",         "locality",          "organization", "organizational_unit",
                                "common_name",   "subject_alt_names", "copy_from"};
    if (selfSigned)
        known.insert("days");
    refuseUnknown(map, known, "spec");

    CreateSpec out;
    auto& spec = out.spec;
    spec.friendlyName = get<std::string>(map, "friendly_name", {});
    const auto keyType = get<std::string>(map, "key_type", {});
    if (!keyType.empty()) {
        spec.keyType = pki::parseKeyType(keyType);
        if (!spec.keyType)
            throw Error(ErrorCode::InvalidArgument,
                        "key_type: '" + keyType + "' is not one of " + pki::keyTypeNames());
    }
    const auto key = get<sdbus::ObjectPath>(map, "key", sdbus::ObjectPath());
    if (!key.empty()) {
        if (spec.keyType)
            throw Error(ErrorCode::InvalidArgument, "key: give either key or key_type, not both");
        out.keyId = idFromPath(key, "/org/certd1/key/", "key");
    }
    spec.subject.country = get<std::string>(map, "country", {});
    spec.subject.state = get<std::string>(map, "state", {});
    spec.subject.locality = get<std::string>(map, "locality", {});
    spec.subject.organization = get<std::string>(map, "organization", {});
    spec.subject.organizationalUnit = get<std::string>(map, "organizational_unit", {});
    spec.subject.commonName = get<std::string>(map, "common_name", {});
    for (const auto& san : get<std::vector<std::string>>(map, "subject_alt_names", {}))
        spec.subjectAltNames.push_back(pki::parseSubjectAltName(san));
    const auto days = getInteger(map, "days", 365);
    if (days < 1 || days > 36500)
        throw Error(ErrorCode::InvalidArgument, "days: must be between 1 and 36500");
    spec.days = static_cast<int>(days);

    const auto copyFrom = get<sdbus::ObjectPath>(map, "copy_from", sdbus::ObjectPath());
    if (!copyFrom.empty()) {
        for (const char* k : {"country", "state", "locality", "organization", "organizational_unit",
                              "common_name", "subject_alt_names"})
            if (map.count(k))
                throw Error(ErrorCode::InvalidArgument,
                            std::string(k) + ": copy_from takes the subject and SANs from the certificate; "
                                             "leave out subject fields");
        if (out.keyId)
            throw Error(ErrorCode::InvalidArgument, "copy_from: a re-key makes a new key; leave out key");
        out.copyFrom = idFromPath(copyFrom, "/org/certd1/certificate/", "copy_from");
    }
    return out;
}

ExportOptions parseExportOptions(const VariantMap& map)
{
    refuseUnknown(map,
                  {"format", "include_certificate", "include_private_key", "include_chain", "passphrase"},
                  "options");
    ExportOptions out;
    const auto format = get<std::string>(map, "format", "auto");
    const auto parsed = pki::parseExportFormat(format);
    if (!parsed)
        throw Error(ErrorCode::InvalidArgument,
                    "format: '" + format + "' is not one of auto, der, pem, pkcs7, pkcs8, pkcs12");
    out.format = *parsed;
    out.includeCertificate = get<bool>(map, "include_certificate", true);
    out.includePrivateKey = get<bool>(map, "include_private_key", false);
    out.includeChain = get<bool>(map, "include_chain", false);
    const auto it = map.find("passphrase");
    if (it != map.end()) {
        if (!it->second.containsValueOfType<std::string>())
            throw Error(ErrorCode::InvalidArgument, "passphrase: expected type 's'");
        out.passphrase = Secret(it->second.get<std::string>());
    }
    return out;
}

std::string parseImportOptions(const VariantMap& map)
{
    refuseUnknown(map, {"friendly_name"}, "options");
    return get<std::string>(map, "friendly_name", {});
}

BindingOptions parseBindingOptions(const VariantMap& map)
{
    refuseUnknown(map, {"force", "flush"}, "options");
    return BindingOptions{get<bool>(map, "force", false), get<bool>(map, "flush", false)};
}

ChainMode parseChainModeArgument(const std::string& mode)
{
    if (const auto parsed = parseChainMode(mode))
        return *parsed;
    throw Error(ErrorCode::InvalidArgument, "mode: must be 'automatic' or 'manual'");
}

} // namespace certd::bus
