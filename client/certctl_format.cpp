#include "certctl_format.hpp"

#include "text.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <ctime>
#include <iterator>
#include <limits>
#include <ostream>
#include <tuple>

namespace certd::certctl {
namespace {

// ---------------------------------------------------------------- UTF-8

constexpr std::string_view kReplacement = "\xEF\xBF\xBD"; // U+FFFD

std::string hex(std::uint32_t value, int digits)
{
    static constexpr std::string_view kDigits = "0123456789abcdef";
    std::string out(static_cast<std::size_t>(digits), '0');
    for (int i = digits - 1; i >= 0; --i) {
        out[static_cast<std::size_t>(i)] = kDigits[value & 0xF];
        value >>= 4;
    }
    return out;
}

// Characters that would let a certificate's text move the cursor, recolour the
// terminal or reorder what is shown (bidi controls).
bool isUnsafeForTerminal(char32_t cp)
{
    return cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp < 0xA0) || (cp >= 0x202A && cp <= 0x202E) ||
           (cp >= 0x2066 && cp <= 0x2069);
}

// ---------------------------------------------------------------- time

std::string pad(int value, std::size_t width)
{
    std::string s = std::to_string(value);
    return s.size() >= width ? s : std::string(width - s.size(), '0') + s;
}

// The UTC calendar time of `usec` (since the epoch), broken down; nullopt if out of range.
std::optional<std::tm> utc(std::uint64_t usec)
{
    const auto seconds = static_cast<std::time_t>(usec / 1000000);
    std::tm tm{};
    if (gmtime_r(&seconds, &tm) == nullptr)
        return std::nullopt;
    return tm;
}

std::string dateOf(const std::tm& tm)
{
    return pad(tm.tm_year + 1900, 4) + "-" + pad(tm.tm_mon + 1, 2) + "-" + pad(tm.tm_mday, 2);
}

std::string clockOf(const std::tm& tm)
{
    return pad(tm.tm_hour, 2) + ":" + pad(tm.tm_min, 2) + ":" + pad(tm.tm_sec, 2);
}

// ---------------------------------------------------------------- resolution

struct Candidate {
    ObjectKind kind;
    const std::string* path;
    const std::string* id;
    const std::string* friendlyName;
    const std::string* completedBy = nullptr; // a request's certificate
};

std::vector<Candidate> candidates(const client::Inventory& inv, std::span<const ObjectKind> kinds)
{
    static const std::string kNoName;
    std::vector<Candidate> out;
    for (const ObjectKind kind : kinds) {
        switch (kind) {
        case ObjectKind::Certificate:
            for (const auto& c : inv.certificates)
                out.push_back({kind, &c.path, &c.id, &c.friendlyName});
            break;
        case ObjectKind::Request:
            for (const auto& r : inv.requests)
                out.push_back({kind, &r.path, &r.id, &r.friendlyName, &r.certificate});
            break;
        case ObjectKind::Key:
            for (const auto& k : inv.keys)
                out.push_back({kind, &k.path, &k.id, &kNoName});
            break;
        }
    }
    return out;
}

ObjectRef toRef(const Candidate& c)
{
    return {c.kind, *c.path, *c.id, *c.friendlyName};
}

[[noreturn]] void throwAmbiguous(std::string_view ref, const std::vector<Candidate>& matches)
{
    constexpr std::size_t kShown = 10;
    std::string message = "'" + std::string(ref) + "' is ambiguous: it matches " +
                          std::to_string(matches.size()) + " objects: ";
    for (std::size_t i = 0; i < matches.size() && i < kShown; ++i) {
        if (i > 0)
            message += ", ";
        message += std::string(kindName(matches[i].kind)) + " " + *matches[i].id;
        if (!matches[i].friendlyName->empty())
            message += " (\"" + *matches[i].friendlyName + "\")";
    }
    if (matches.size() > kShown)
        message += ", and " + std::to_string(matches.size() - kShown) + " more";
    message += "; name one by its id";
    throw Error(ErrorCode::InvalidArgument, message);
}

std::string lower(std::string_view s)
{
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; });
    return out;
}

} // namespace

// ---------------------------------------------------------------- arguments

bool Arguments::has(std::string_view name) const
{
    return options.find(name) != options.end();
}

std::optional<std::string> Arguments::value(std::string_view name) const
{
    const auto it = options.find(name);
    if (it == options.end() || it->second.empty())
        return std::nullopt;
    return it->second.back();
}

std::vector<std::string> Arguments::values(std::string_view name) const
{
    const auto it = options.find(name);
    return it == options.end() ? std::vector<std::string>{} : it->second;
}

Arguments parseArguments(std::span<const std::string> args, std::span<const OptionSpec> options)
{
    Arguments out;
    const auto store = [&out](const OptionSpec& spec, std::string value) {
        auto& slot = out.options[std::string(spec.name)];
        if (!slot.empty() && !spec.repeatable)
            throw UsageError("option " + std::string(spec.name) + " given more than once");
        slot.push_back(std::move(value));
    };

    bool optionsEnded = false;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& arg = args[i];
        if (optionsEnded || arg.size() < 2 || arg[0] != '-') {
            out.positional.push_back(arg);
            continue;
        }
        if (arg == "--") {
            optionsEnded = true;
            continue;
        }
        const bool isLong = arg[1] == '-';
        const auto eq = isLong ? arg.find('=') : std::string::npos;
        const std::string_view name =
            isLong ? std::string_view(arg).substr(0, eq) : std::string_view(arg).substr(0, 2);
        const auto spec = std::find_if(options.begin(), options.end(), [&](const OptionSpec& o) {
            return isLong ? o.name == name : (!o.shortName.empty() && o.shortName == name);
        });
        if (spec == options.end())
            throw UsageError("unknown option " + std::string(isLong ? name : std::string_view(arg)));

        if (spec->valueName.empty()) {
            if (eq != std::string::npos || (!isLong && arg.size() > 2))
                throw UsageError("option " + std::string(spec->name) + " takes no value");
            store(*spec, {});
            continue;
        }
        if (eq != std::string::npos) {
            store(*spec, arg.substr(eq + 1));
        } else if (!isLong && arg.size() > 2) {
            store(*spec, arg.substr(2));
        } else if (i + 1 < args.size()) {
            store(*spec, args[++i]);
        } else {
            throw UsageError("option " + std::string(spec->name) + " needs a value (" +
                             std::string(spec->valueName) + ")");
        }
    }
    return out;
}

std::uint64_t parseDuration(std::string_view text)
{
    std::uint64_t number = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
    const std::string_view unit(end, static_cast<std::size_t>(text.data() + text.size() - end));
    std::uint64_t scale = 0;
    if (unit.empty() || unit == "d")
        scale = 86400;
    else if (unit == "w")
        scale = std::uint64_t{7} * 86400;
    else if (unit == "h")
        scale = 3600;
    else if (unit == "m")
        scale = 60;
    else if (unit == "s")
        scale = 1;
    if (ec != std::errc() || end == text.data() || scale == 0 ||
        number > std::numeric_limits<std::uint64_t>::max() / scale / 1000000)
        throw UsageError("'" + std::string(text) + "' is not a duration (e.g. 30d, 2w, 12h)");
    return number * scale;
}

std::uint32_t parsePositive(std::string_view text, std::string_view option)
{
    std::uint32_t n = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec != std::errc() || end != text.data() + text.size() || n == 0)
        throw UsageError(std::string(option) + " needs a positive number, not '" + std::string(text) + "'");
    return n;
}

// ---------------------------------------------------------------- resolution

std::string_view kindName(ObjectKind kind)
{
    switch (kind) {
    case ObjectKind::Certificate:
        return "certificate";
    case ObjectKind::Request:
        return "request";
    case ObjectKind::Key:
        return "key";
    }
    return "object";
}

std::string describeKinds(std::span<const ObjectKind> kinds)
{
    std::string out;
    for (std::size_t i = 0; i < kinds.size(); ++i) {
        if (i > 0)
            out += i + 1 == kinds.size() ? " or " : ", ";
        out += kindName(kinds[i]);
    }
    return out;
}

std::optional<ObjectKind> kindOfPath(std::string_view path)
{
    if (path.starts_with(client::kCertificatePathPrefix))
        return ObjectKind::Certificate;
    if (path.starts_with(client::kRequestPathPrefix))
        return ObjectKind::Request;
    if (path.starts_with(client::kKeyPathPrefix))
        return ObjectKind::Key;
    return std::nullopt;
}

bool looksLikeId(std::string_view ref)
{
    return ref.size() >= 8 && std::all_of(ref.begin(), ref.end(), [](char c) {
               return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
           });
}

ObjectRef resolveObject(const client::Inventory& inventory, std::string_view ref,
                        std::span<const ObjectKind> kinds)
{
    const auto all = candidates(inventory, kinds);
    const auto matching = [&all](auto predicate) {
        std::vector<Candidate> out;
        std::copy_if(all.begin(), all.end(), std::back_inserter(out), predicate);
        return out;
    };

    if (ref.starts_with('/')) {
        const auto byPath = matching([&](const Candidate& c) { return *c.path == ref; });
        if (byPath.empty())
            throw Error(ErrorCode::NotFound, "no " + describeKinds(kinds) + " at " + std::string(ref));
        return toRef(byPath.front());
    }

    const auto byId = matching([&](const Candidate& c) { return *c.id == ref; });
    if (byId.size() == 1)
        return toRef(byId.front());
    if (byId.size() > 1)
        throwAmbiguous(ref, byId);

    auto byName = matching([&](const Candidate& c) { return !ref.empty() && *c.friendlyName == ref; });
    // The certificate that completed a request takes the request's name: that name then means
    // the certificate (the request stays reachable by its id).
    std::erase_if(byName, [&byName](const Candidate& c) {
        return c.completedBy && std::any_of(byName.begin(), byName.end(), [&c](const Candidate& other) {
                   return other.kind == ObjectKind::Certificate && *other.path == *c.completedBy;
               });
    });
    if (byName.size() == 1)
        return toRef(byName.front());
    if (byName.size() > 1)
        throwAmbiguous(ref, byName);

    if (ref.size() >= kMinIdPrefix) {
        const std::string prefix = lower(ref);
        const auto byPrefix = matching([&](const Candidate& c) { return c.id->starts_with(prefix); });
        if (byPrefix.size() == 1)
            return toRef(byPrefix.front());
        if (byPrefix.size() > 1)
            throwAmbiguous(ref, byPrefix);
    }

    throw Error(ErrorCode::NotFound, "no " + describeKinds(kinds) + " is called '" + std::string(ref) +
                                         "' (give a friendly name, an id, an id prefix of at least " +
                                         std::to_string(kMinIdPrefix) + " characters or an object path)");
}

// ---------------------------------------------------------------- JSON

Json& Json::set(std::string key, Json value)
{
    std::get<Object>(value_).emplace_back(std::move(key), std::move(value));
    return *this;
}

Json& Json::push(Json value)
{
    std::get<Array>(value_).push_back(std::move(value));
    return *this;
}

std::string Json::dump() const
{
    std::string out;
    write(out, 0);
    return out;
}

void Json::write(std::string& out, int indent) const
{
    const auto newline = [&out](int n) {
        out += '\n';
        out.append(static_cast<std::size_t>(n), ' ');
    };
    std::visit(
        [&](const auto& v) {
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, std::nullptr_t>) {
                out += "null";
            } else if constexpr (std::is_same_v<T, bool>) {
                out += v ? "true" : "false";
            } else if constexpr (std::is_same_v<T, std::int64_t> || std::is_same_v<T, std::uint64_t>) {
                out += std::to_string(v);
            } else if constexpr (std::is_same_v<T, std::string>) {
                appendJsonString(out, v);
            } else if constexpr (std::is_same_v<T, Array>) {
                if (v.empty()) {
                    out += "[]";
                    return;
                }
                out += '[';
                for (std::size_t i = 0; i < v.size(); ++i) {
                    if (i > 0)
                        out += ',';
                    newline(indent + 2);
                    v[i].write(out, indent + 2);
                }
                newline(indent);
                out += ']';
            } else {
                if (v.empty()) {
                    out += "{}";
                    return;
                }
                out += '{';
                for (std::size_t i = 0; i < v.size(); ++i) {
                    if (i > 0)
                        out += ',';
                    newline(indent + 2);
                    appendJsonString(out, v[i].first);
                    out += ": ";
                    v[i].second.write(out, indent + 2);
                }
                newline(indent);
                out += '}';
            }
        },
        value_);
}

void appendJsonString(std::string& out, std::string_view s)
{
    out += '"';
    for (std::size_t i = 0; i < s.size();) {
        std::size_t length = 0;
        const char32_t cp = decodeUtf8(s, i, length);
        switch (cp) {
        case '"':
            out += "\\\"";
            break;
        case '\\':
            out += "\\\\";
            break;
        case '\b':
            out += "\\b";
            break;
        case '\f':
            out += "\\f";
            break;
        case '\n':
            out += "\\n";
            break;
        case '\r':
            out += "\\r";
            break;
        case '\t':
            out += "\\t";
            break;
        case kInvalidCodePoint:
            out += "\\ufffd";
            break;
        default:
            // U+2028/2029 are valid JSON but end a line in JavaScript source.
            if (cp < 0x20 || cp == 0x2028 || cp == 0x2029)
                out += "\\u" + hex(static_cast<std::uint32_t>(cp), 4);
            else
                out.append(s.substr(i, length));
        }
        i += length;
    }
    out += '"';
}

Json jsonStrings(const std::vector<std::string>& strings)
{
    Json::Array a;
    a.reserve(strings.size());
    for (const auto& s : strings)
        a.emplace_back(s);
    return Json(std::move(a));
}

Json jsonPath(const std::string& path)
{
    if (path.empty() || path == client::kNoObject)
        return nullptr;
    return path;
}

// ---------------------------------------------------------------- text output

std::string sanitize(std::string_view text, bool multiline)
{
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size();) {
        std::size_t length = 0;
        const char32_t cp = decodeUtf8(text, i, length);
        if (cp == kInvalidCodePoint)
            out += kReplacement;
        else if (multiline && cp == '\n')
            out += '\n';
        else if (cp < 0x80 && isUnsafeForTerminal(cp))
            out += "\\x" + hex(static_cast<std::uint32_t>(cp), 2);
        else if (isUnsafeForTerminal(cp))
            out += "\\u{" + hex(static_cast<std::uint32_t>(cp), 4) + "}";
        else
            out.append(text.substr(i, length));
        i += length;
    }
    return out;
}

std::size_t displayWidth(std::string_view text)
{
    std::size_t width = 0;
    for (std::size_t i = 0; i < text.size();) {
        std::size_t length = 0;
        decodeUtf8(text, i, length);
        i += length;
        ++width;
    }
    return width;
}

void printTable(std::ostream& out, const Table& table)
{
    const std::size_t columns = table.headers.size();
    std::vector<std::vector<std::string>> cells;
    cells.reserve(table.rows.size() + 1);
    cells.push_back(table.headers);
    for (const auto& row : table.rows) {
        std::vector<std::string> clean;
        clean.reserve(columns);
        for (std::size_t c = 0; c < columns; ++c)
            clean.push_back(c < row.size() ? sanitize(row[c]) : std::string());
        cells.push_back(std::move(clean));
    }

    std::vector<std::size_t> widths(columns, 0);
    for (const auto& row : cells)
        for (std::size_t c = 0; c < columns; ++c)
            widths[c] = std::max(widths[c], displayWidth(row[c]));

    std::string line;
    for (const auto& row : cells) {
        line.clear();
        for (std::size_t c = 0; c < columns; ++c) {
            if (c > 0)
                line += "  ";
            line += row[c];
            if (c + 1 < columns)
                line.append(widths[c] - displayWidth(row[c]), ' ');
        }
        while (!line.empty() && line.back() == ' ')
            line.pop_back();
        out << line << '\n';
    }
}

void printFields(std::ostream& out, const Fields& fields)
{
    std::size_t width = 0;
    for (const auto& [label, value] : fields)
        width = std::max(width, displayWidth(label));
    for (const auto& [label, value] : fields) {
        out << label << ':' << std::string(width - displayWidth(label) + 2, ' ')
            << (value.empty() ? std::string("-") : sanitize(value)) << '\n';
    }
}

std::string formatDate(std::uint64_t usec)
{
    const auto tm = utc(usec);
    return tm ? dateOf(*tm) : "?";
}

std::string formatTime(std::uint64_t usec)
{
    const auto tm = utc(usec);
    if (usec == 0 || !tm)
        return "-";
    return dateOf(*tm) + " " + clockOf(*tm) + " UTC";
}

std::string formatIsoTime(std::uint64_t usec)
{
    const auto tm = utc(usec);
    return tm ? dateOf(*tm) + "T" + clockOf(*tm) + "Z" : "?";
}

std::string formatDuration(std::uint64_t usec)
{
    const std::uint64_t s = usec / 1000000;
    const std::uint64_t days = s / 86400;
    const std::uint64_t hours = s % 86400 / 3600;
    const std::uint64_t minutes = s % 3600 / 60;
    const std::uint64_t seconds = s % 60;
    const auto part = [](std::uint64_t n, char unit) { return std::to_string(n) + unit; };
    if (days > 0)
        return part(days, 'd') + " " + part(hours, 'h') + " " + part(minutes, 'm');
    if (hours > 0)
        return part(hours, 'h') + " " + part(minutes, 'm');
    if (minutes > 0)
        return part(minutes, 'm') + " " + part(seconds, 's');
    return part(seconds, 's');
}

std::string join(const std::vector<std::string>& items, std::string_view separator)
{
    std::string out;
    for (std::size_t i = 0; i < items.size(); ++i) {
        if (i > 0)
            out += separator;
        out += items[i];
    }
    return out;
}

std::string formatAltName(const client::AltName& name)
{
    return name.type + ":" + name.value;
}

// ---------------------------------------------------------------- certd objects

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
        {"Terminator", s.terminatorError.empty() ? s.terminatorState
                                                 : s.terminatorState + ": " + s.terminatorError},
        {"Certificates", std::to_string(s.certificates)},
        {"Keys", std::to_string(s.keys)},
        {"Requests", std::to_string(s.requests)},
        {"Soonest Expiry", soonest},
    };
}

void sortForDisplay(std::vector<client::Certificate>& certificates)
{
    std::sort(certificates.begin(), certificates.end(), [](const auto& a, const auto& b) {
        const std::string nameA = lower(a.friendlyName);
        const std::string nameB = lower(b.friendlyName);
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
