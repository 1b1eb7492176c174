#include "certctl/resolve.hpp"

#include "text.hpp"

#include <algorithm>
#include <iterator>

namespace certd::certctl {
namespace {

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

} // namespace

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
        const std::string prefix = asciiLower(ref);
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

} // namespace certd::certctl
