#include "certctl/objects.hpp"

#include "text.hpp"

#include <algorithm>
#include <array>
#include <optional>
#include <tuple>

namespace certd::certctl {

namespace {

std::string yesNo(bool b)
{
    return b ? "yes" : "no";
}

std::vector<std::string> altNameValues(const std::vector<client::AltName>& names)
{
    std::vector<std::string> out;
    out.reserve(names.size());
    for (const auto& n : names)
        out.push_back(n.value);
    return out;
}

Json altNamesJson(const std::vector<client::AltName>& names)
{
    Json::Array a;
    a.reserve(names.size());
    for (const auto& n : names)
        a.emplace_back(formatAltName(n));
    return Json(std::move(a));
}

Json pathsJson(const std::vector<std::string>& paths)
{
    return jsonStrings(paths);
}

std::vector<std::string> names(const std::vector<std::string>& paths, const NameIndex& index)
{
    std::vector<std::string> out;
    out.reserve(paths.size());
    for (const auto& p : paths)
        out.push_back(index.name(p));
    return out;
}

void addWarnings(Fields& fields, const std::vector<client::Warning>& warnings)
{
    if (warnings.empty())
        fields.emplace_back("Warnings", "none");
    for (const auto& w : warnings)
        fields.emplace_back("Warning", w.code + ": " + w.text);
}

} // namespace

NameIndex::NameIndex(const client::Inventory& inventory)
{
    for (const auto& c : inventory.certificates)
        add(c.path, c.friendlyName);
    for (const auto& r : inventory.requests)
        add(r.path, r.friendlyName);
    for (const auto& k : inventory.keys)
        add(k.path, {});
}

void NameIndex::add(const std::string& path, const std::string& friendlyName)
{
    names_[path] = friendlyName.empty() ? client::objectId(path) : friendlyName;
}

std::string NameIndex::name(const std::string& path) const
{
    if (path.empty() || path == client::kNoObject)
        return {};
    const auto it = names_.find(path);
    return it == names_.end() ? client::objectId(path) : it->second;
}

Json toJson(const std::vector<client::Warning>& warnings)
{
    Json::Array a;
    a.reserve(warnings.size());
    for (const auto& w : warnings)
        a.push_back(Json::object().set("Code", w.code).set("Text", w.text));
    return Json(std::move(a));
}

Json toJson(const std::vector<client::Finding>& findings)
{
    Json::Array a;
    a.reserve(findings.size());
    for (const auto& f : findings)
        a.push_back(Json::object().set("Severity", f.severity).set("Code", f.code).set("Text", f.text));
    return Json(std::move(a));
}

Json toJson(const client::Certificate& c)
{
    Json j = Json::object();
    j.set("Path", c.path)
        .set("Id", c.id)
        .set("FriendlyName", c.friendlyName)
        .set("Subject", c.subject)
        .set("Issuer", c.issuer)
        .set("IssuedTo", c.issuedTo)
        .set("IssuedBy", c.issuedBy)
        .set("SerialNumber", c.serialNumber)
        .set("SignatureAlgorithm", c.signatureAlgorithm)
        .set("NotBeforeUSec", c.notBeforeUSec)
        .set("NotAfterUSec", c.notAfterUSec)
        .set("NotBefore", formatIsoTime(c.notBeforeUSec))
        .set("NotAfter", formatIsoTime(c.notAfterUSec))
        .set("Expiration", formatDate(c.notAfterUSec))
        .set("PublicKey", c.publicKey)
        .set("SubjectAlternativeNames", altNamesJson(c.subjectAltNames))
        .set("AuthorityInfoAccess", jsonStrings(c.authorityInfoAccess))
        .set("FingerprintSHA256", c.fingerprintSha256)
        .set("Key", jsonPath(c.key))
        .set("HasPrivateKey", c.hasPrivateKey)
        .set("Kind", c.kind)
        .set("Chain", pathsJson(c.chain))
        .set("ChainMode", c.chainMode)
        .set("Warnings", toJson(c.warnings))
        .set("Addresses", jsonStrings(c.addresses))
        .set("IsFactoryDefault", c.isFactoryDefault);
    return j;
}

Json toJson(const client::Request& r)
{
    Json j = Json::object();
    j.set("Path", r.path)
        .set("Id", r.id)
        .set("FriendlyName", r.friendlyName)
        .set("Subject", r.subject)
        .set("SubjectAlternativeNames", altNamesJson(r.subjectAltNames))
        .set("Key", jsonPath(r.key))
        .set("State", r.state)
        .set("Certificate", jsonPath(r.certificate))
        .set("CreatedUSec", r.createdUSec)
        .set("Created", formatIsoTime(r.createdUSec))
        .set("RequestPem", r.requestPem);
    return j;
}

Json toJson(const client::Key& k)
{
    Json j = Json::object();
    j.set("Path", k.path)
        .set("Id", k.id)
        .set("Algorithm", k.algorithm)
        .set("Bits", k.bits)
        .set("FingerprintSHA256", k.fingerprintSha256)
        .set("Certificates", pathsJson(k.certificates))
        .set("Requests", pathsJson(k.requests));
    return j;
}

Json toJson(const client::Address& a)
{
    Json j = Json::object();
    j.set("Path", a.path)
        .set("Address", a.address)
        .set("Port", a.port)
        .set("Certificate", jsonPath(a.certificate))
        .set("Origin", a.origin)
        .set("State", a.state)
        .set("Error", a.error);
    return j;
}

Json toJson(const client::Status& s)
{
    Json::Array bindings;
    bindings.reserve(s.addresses.size());
    for (const auto& b : s.addresses)
        bindings.push_back(Json::object()
                               .set("Address", b.address)
                               .set("State", b.state)
                               .set("Certificate", jsonPath(b.certificate)));
    Json j = Json::object();
    j.set("Hostname", s.hostname)
        .set("MachineId", s.machineId)
        .set("Version", s.version)
        .set("UptimeUSec", s.uptimeUSec)
        .set("Addresses", Json(std::move(bindings)))
        .set("TerminatorState", s.terminatorState)
        .set("TerminatorError", s.terminatorError)
        .set("SoonestExpiryUSec", s.soonestExpiryUSec ? Json(*s.soonestExpiryUSec) : Json(nullptr))
        .set("SoonestExpiry", jsonPath(s.soonestExpiry))
        .set("Certificates", s.certificates)
        .set("Keys", s.keys)
        .set("Requests", s.requests);
    return j;
}

Table certificateTable(const std::vector<client::Certificate>& certificates)
{
    constexpr std::size_t kIdWidth = 16;
    Table t{{"Id", "Friendly Name", "Issued To", "Issued By", "Expiration", "Alternative Names",
             "IP Addresses", "Private Key", "Warnings"},
            {}};
    t.rows.reserve(certificates.size());
    for (const auto& c : certificates) {
        std::vector<std::string> codes;
        codes.reserve(c.warnings.size());
        for (const auto& w : c.warnings)
            codes.push_back(w.code);
        t.rows.push_back({c.id.substr(0, kIdWidth), c.friendlyName, c.issuedTo, c.issuedBy,
                          formatDate(c.notAfterUSec), join(altNameValues(c.subjectAltNames), ", "),
                          join(c.addresses, ", "), yesNo(c.hasPrivateKey), join(codes, ",")});
    }
    return t;
}

Table requestTable(const std::vector<client::Request>& requests)
{
    Table t{{"Id", "Friendly Name", "Subject", "Alternative Names", "State", "Created"}, {}};
    t.rows.reserve(requests.size());
    for (const auto& r : requests)
        t.rows.push_back({r.id, r.friendlyName, r.subject, join(altNameValues(r.subjectAltNames), ", "),
                          r.state, r.createdUSec ? formatDate(r.createdUSec) : "-"});
    return t;
}

Table keyTable(const std::vector<client::Key>& keys, const NameIndex& index)
{
    Table t{{"Id", "Algorithm", "Bits", "Certificates", "Requests"}, {}};
    t.rows.reserve(keys.size());
    for (const auto& k : keys)
        t.rows.push_back({k.id, k.algorithm, std::to_string(k.bits), join(names(k.certificates, index), ", "),
                          join(names(k.requests, index), ", ")});
    return t;
}

Table addressTable(const std::vector<client::Address>& addresses, const NameIndex& index)
{
    Table t{{"Address", "Port", "Certificate", "Origin", "State", "Error"}, {}};
    t.rows.reserve(addresses.size());
    for (const auto& a : addresses)
        t.rows.push_back(
            {a.address, std::to_string(a.port), index.name(a.certificate), a.origin, a.state, a.error});
    return t;
}

Table findingTable(const std::vector<client::Finding>& findings)
{
    Table t{{"Severity", "Code", "Text"}, {}};
    t.rows.reserve(findings.size());
    for (const auto& f : findings)
        t.rows.push_back({f.severity, f.code, f.text});
    return t;
}

Table bindingTable(const std::vector<client::AddressBinding>& bindings, const NameIndex& index)
{
    Table t{{"Address", "State", "Certificate"}, {}};
    t.rows.reserve(bindings.size());
    for (const auto& b : bindings)
        t.rows.push_back({b.address, b.state, index.name(b.certificate)});
    return t;
}

Fields certificateFields(const client::Certificate& c, const NameIndex& index)
{
    std::vector<std::string> altNames;
    altNames.reserve(c.subjectAltNames.size());
    for (const auto& n : c.subjectAltNames)
        altNames.push_back(formatAltName(n));
    const bool hasKeyObject = !c.key.empty() && c.key != client::kNoObject;

    Fields f{
        {"Friendly Name", c.friendlyName},
        {"Id", c.id},
        {"Path", c.path},
        {"Kind", c.kind + (c.isFactoryDefault ? " (factory default)" : "")},
        {"Issued To", c.issuedTo},
        {"Issued By", c.issuedBy},
        {"Subject", c.subject},
        {"Issuer", c.issuer},
        {"Serial Number", c.serialNumber},
        {"Valid From", formatTime(c.notBeforeUSec)},
        {"Valid Until", formatTime(c.notAfterUSec)},
        {"Public Key", c.publicKey},
        {"Signature Algorithm", c.signatureAlgorithm},
        {"Alternative Names", join(altNames, ", ")},
        {"Authority Info Access", join(c.authorityInfoAccess, ", ")},
        {"SHA-256 Fingerprint", c.fingerprintSha256},
        {"Private Key", c.hasPrivateKey
                            ? "yes" + (hasKeyObject ? " (key " + client::objectId(c.key) + ")" : "")
                            : std::string("no")},
        {"Chain", c.chainMode + (c.chain.empty() ? "" : ": " + join(names(c.chain, index), " <- "))},
        {"IP Addresses", join(c.addresses, ", ")},
    };
    addWarnings(f, c.warnings);
    return f;
}

Fields requestFields(const client::Request& r, const NameIndex& index)
{
    std::vector<std::string> altNames;
    altNames.reserve(r.subjectAltNames.size());
    for (const auto& n : r.subjectAltNames)
        altNames.push_back(formatAltName(n));
    return {
        {"Friendly Name", r.friendlyName},
        {"Id", r.id},
        {"Path", r.path},
        {"State", r.state},
        {"Subject", r.subject},
        {"Alternative Names", join(altNames, ", ")},
        {"Key", index.name(r.key)},
        {"Certificate", index.name(r.certificate)},
        {"Created", formatTime(r.createdUSec)},
    };
}

Fields keyFields(const client::Key& k, const NameIndex& index)
{
    return {
        {"Id", k.id},
        {"Path", k.path},
        {"Algorithm", k.algorithm},
        {"Bits", std::to_string(k.bits)},
        {"SHA-256 Fingerprint", k.fingerprintSha256},
        {"Certificates", join(names(k.certificates, index), ", ")},
        {"Requests", join(names(k.requests, index), ", ")},
    };
}

Fields statusFields(const client::Status& s, const NameIndex& index)
{
    std::string soonest = "-";
    if (s.soonestExpiryUSec) {
        soonest = formatTime(*s.soonestExpiryUSec);
        if (const auto name = index.name(s.soonestExpiry); !name.empty())
            soonest += " (" + name + ")";
    }
    return {
        {"Hostname", s.hostname},
        {"Machine Id", s.machineId},
        {"Version", s.version},
        {"Uptime", formatDuration(s.uptimeUSec)},
        {"Terminator",
         s.terminatorError.empty() ? s.terminatorState : s.terminatorState + ": " + s.terminatorError},
        {"Certificates", std::to_string(s.certificates)},
        {"Keys", std::to_string(s.keys)},
        {"Requests", std::to_string(s.requests)},
        {"Soonest Expiry", soonest},
    };
}

void sortForDisplay(std::vector<client::Certificate>& certificates)
{
    std::sort(certificates.begin(), certificates.end(), [](const auto& a, const auto& b) {
        const std::string nameA = asciiLower(a.friendlyName);
        const std::string nameB = asciiLower(b.friendlyName);
        return std::tie(nameA, a.id) < std::tie(nameB, b.id);
    });
}

namespace {

// Sort key of an address: family, then the address bytes; text that is no IP literal last.
std::tuple<bool, std::optional<IpAddress>, std::string> addressKey(const std::string& text)
{
    const auto ip = parseIp(text, Brackets::Accept);
    return {!ip, ip, text};
}

} // namespace

void sortForDisplay(std::vector<client::Address>& addresses)
{
    std::sort(addresses.begin(), addresses.end(), [](const auto& a, const auto& b) {
        return std::pair(addressKey(a.address), a.port) < std::pair(addressKey(b.address), b.port);
    });
}

void sortForDisplay(std::vector<client::Request>& requests)
{
    std::sort(requests.begin(), requests.end(), [](const auto& a, const auto& b) {
        return std::tie(a.createdUSec, a.id) < std::tie(b.createdUSec, b.id);
    });
}

void sortForDisplay(std::vector<client::Key>& keys)
{
    std::sort(keys.begin(), keys.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
}

} // namespace certd::certctl
