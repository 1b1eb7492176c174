#include "store/state_codec.hpp"

#include "error.hpp"
#include "text.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>

namespace certd {

std::string_view chainModeName(ChainMode mode)
{
    return mode == ChainMode::Manual ? "manual" : "automatic";
}

std::optional<ChainMode> parseChainMode(std::string_view name)
{
    if (name == "automatic")
        return ChainMode::Automatic;
    if (name == "manual")
        return ChainMode::Manual;
    return std::nullopt;
}

std::string_view requestStateName(RequestState state)
{
    return state == RequestState::Completed ? "completed" : "pending";
}

std::optional<RequestState> parseRequestState(std::string_view name)
{
    if (name == "pending")
        return RequestState::Pending;
    if (name == "completed")
        return RequestState::Completed;
    return std::nullopt;
}

std::string inQuotes(const std::string& text)
{
    return "\"" + text + "\"";
}

bool isValidId(std::string_view id)
{
    return !id.empty() && id.size() <= kMaxIdLength && std::all_of(id.begin(), id.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
               c == '_';
    });
}

std::string invalidIdReason(const char* noun, const std::string& id)
{
    return std::string(noun) + " id " + inQuotes(id) + " is malformed: use 1 to " +
           std::to_string(kMaxIdLength) + " letters, digits, '-' or '_'";
}

void requireValidId(const char* noun, const std::string& id)
{
    if (!isValidId(id))
        throw Error(ErrorCode::InvalidArgument, invalidIdReason(noun, id));
}

namespace {

// `what` of `owner`, e.g. "friendly name" of "certificate \"ab\"".
void requireUtf8(const std::string& text, const char* what, const std::string& owner)
{
    if (!isUtf8(text))
        throw Error(ErrorCode::InvalidArgument,
                    std::string("the ") + what + " of " + owner + " is not valid UTF-8");
}

// Reads one state.yaml; every complaint names the file and line.
class StateParser {
public:
    explicit StateParser(const std::string& origin) : origin_(origin) {}

    [[noreturn]] void fail(const YAML::Mark& mark, const std::string& reason) const
    {
        throw Error(ErrorCode::Internal, origin_ + ", line " + std::to_string(std::max(mark.line, 0) + 1) +
                                             ": " + reason + "; repair the file or restore it from a backup");
    }

    StoreState parse(const YAML::Node& root) const
    {
        if (!root.IsMap())
            fail(root.Mark(), "expected a mapping that starts with schema_version");
        const YAML::Node version = root["schema_version"];
        if (!version)
            fail(root.Mark(), "schema_version is missing");
        int schema = 0;
        if (!YAML::convert<int>::decode(version, schema) || schema < 1)
            fail(version.Mark(), "schema_version must be a positive integer");
        if (schema > kSchemaVersion)
            throw Error(ErrorCode::Internal, origin_ + " schema " + std::to_string(schema) +
                                                 " is newer than this certd understands (schema " +
                                                 std::to_string(kSchemaVersion) +
                                                 "); run a newer certd or restore a backup made by this one");

        StoreState state;
        state.factoryCertificate = text(root, "factory_certificate");
        if (!state.factoryCertificate.empty() && !isValidId(state.factoryCertificate))
            fail(root["factory_certificate"].Mark(),
                 invalidIdReason("certificate", state.factoryCertificate));
        section(root, "certificates", "certificate", state.certificates, [&](const YAML::Node& node) {
            StoredCertificate certificate;
            certificate.friendlyName = text(node, "friendly_name");
            certificate.chainMode = oneOf(node, "chain_mode", parseChainMode);
            certificate.manualChain = ids(node, "manual_chain");
            certificate.addedUSec = number(node, "added_usec");
            return certificate;
        });
        section(root, "keys", "key", state.keys, [&](const YAML::Node& node) {
            StoredKey key;
            key.addedUSec = number(node, "added_usec");
            return key;
        });
        section(root, "requests", "request", state.requests, [&](const YAML::Node& node) {
            StoredRequest request;
            request.friendlyName = text(node, "friendly_name");
            request.keyId = text(node, "key");
            request.state = oneOf(node, "state", parseRequestState);
            request.certificateId = text(node, "certificate");
            request.createdUSec = number(node, "created_usec");
            return request;
        });
        const YAML::Node bindings = mapping(root, "bindings");
        for (const auto& entry : bindings) {
            const std::string address = scalar(entry.first, "binding address");
            if (!state.bindings.emplace(address, scalar(entry.second, "certificate id")).second)
                fail(entry.first.Mark(), "address " + inQuotes(address) + " is bound twice");
        }
        return state;
    }

private:
    std::string scalar(const YAML::Node& node, const std::string& what) const
    {
        if (node.IsNull())
            return {};
        if (!node.IsScalar())
            fail(node.Mark(), what + " must be a string");
        return node.Scalar();
    }

    // An optional string field ("" when absent).
    std::string text(const YAML::Node& parent, const char* key) const
    {
        const YAML::Node node = parent[key];
        return node ? scalar(node, key) : std::string();
    }

    template <typename T>
    T oneOf(const YAML::Node& parent, const char* key, std::optional<T> (*parseName)(std::string_view)) const
    {
        const std::string value = text(parent, key);
        if (const auto parsed = parseName(value))
            return *parsed;
        fail(parent[key] ? parent[key].Mark() : parent.Mark(),
             std::string(key) + " " + inQuotes(value) + " is unknown");
    }

    std::uint64_t number(const YAML::Node& parent, const char* key) const
    {
        const YAML::Node node = parent[key];
        std::uint64_t value = 0;
        if (node && !YAML::convert<std::uint64_t>::decode(node, value))
            fail(node.Mark(), std::string(key) + " must be a non-negative integer");
        return value;
    }

    std::vector<std::string> ids(const YAML::Node& parent, const char* key) const
    {
        std::vector<std::string> out;
        const YAML::Node node = parent[key];
        if (!node || node.IsNull())
            return out;
        if (!node.IsSequence())
            fail(node.Mark(), std::string(key) + " must be a list of certificate ids");
        for (const auto& item : node) {
            out.push_back(scalar(item, "a certificate id"));
            if (!isValidId(out.back()))
                fail(item.Mark(), invalidIdReason("certificate", out.back()));
        }
        return out;
    }

    // A mapping field; an empty node when absent or null.
    YAML::Node mapping(const YAML::Node& parent, const char* key) const
    {
        const YAML::Node node = parent[key];
        if (!node || node.IsNull())
            return YAML::Node(YAML::NodeType::Map);
        if (!node.IsMap())
            fail(node.Mark(), std::string(key) + " must be a mapping of id to entry");
        return node;
    }

    template <typename Entry, typename ParseEntry>
    void section(const YAML::Node& root, const char* key, const char* noun, std::map<std::string, Entry>& out,
                 ParseEntry&& parseEntry) const
    {
        for (const auto& entry : mapping(root, key)) {
            const std::string id = scalar(entry.first, std::string(noun) + " id");
            if (!isValidId(id))
                fail(entry.first.Mark(), invalidIdReason(noun, id));
            if (!entry.second.IsMap())
                fail(entry.second.Mark(), std::string(noun) + " " + inQuotes(id) + " must be a mapping");
            if (!out.emplace(id, parseEntry(entry.second)).second)
                fail(entry.first.Mark(), std::string(noun) + " " + inQuotes(id) + " appears twice");
        }
    }

    const std::string& origin_;
};

} // namespace

void validateState(const StoreState& state)
{
    for (const auto& [id, key] : state.keys)
        requireValidId("key", id);
    for (const auto& [id, certificate] : state.certificates) {
        requireValidId("certificate", id);
        requireUtf8(certificate.friendlyName, "friendly name", "certificate " + inQuotes(id));
        for (const std::string& issuer : certificate.manualChain)
            requireValidId("certificate", issuer);
    }
    for (const auto& [id, request] : state.requests) {
        requireValidId("request", id);
        requireUtf8(request.friendlyName, "friendly name", "request " + inQuotes(id));
        if (!request.certificateId.empty())
            requireValidId("certificate", request.certificateId);
    }
    for (const auto& [address, id] : state.bindings) {
        if (address.empty())
            throw Error(ErrorCode::InvalidArgument, "a binding has an empty address");
        requireUtf8(address, "address", "a binding");
    }
}

std::string serializeState(const StoreState& state)
{
    YAML::Emitter out;
    // Every string double-quoted: ids such as "null" stay strings, and any
    // friendly name (quotes, colons, newlines) reads back as it was.
    const auto field = [&](const char* key, const std::string& value) {
        out << YAML::Key << key << YAML::Value << YAML::DoubleQuoted << value;
    };
    out << YAML::BeginMap;
    out << YAML::Key << "schema_version" << YAML::Value << kSchemaVersion;
    field("factory_certificate", state.factoryCertificate);

    out << YAML::Key << "certificates" << YAML::Value << YAML::BeginMap;
    for (const auto& [id, certificate] : state.certificates) {
        out << YAML::Key << YAML::DoubleQuoted << id << YAML::Value << YAML::BeginMap;
        field("friendly_name", certificate.friendlyName);
        field("chain_mode", std::string(chainModeName(certificate.chainMode)));
        out << YAML::Key << "manual_chain" << YAML::Value << YAML::Flow << YAML::BeginSeq;
        for (const std::string& issuer : certificate.manualChain)
            out << YAML::DoubleQuoted << issuer;
        out << YAML::EndSeq;
        out << YAML::Key << "added_usec" << YAML::Value << certificate.addedUSec;
        out << YAML::EndMap;
    }
    out << YAML::EndMap;

    out << YAML::Key << "keys" << YAML::Value << YAML::BeginMap;
    for (const auto& [id, key] : state.keys) {
        out << YAML::Key << YAML::DoubleQuoted << id << YAML::Value << YAML::BeginMap;
        out << YAML::Key << "added_usec" << YAML::Value << key.addedUSec;
        out << YAML::EndMap;
    }
    out << YAML::EndMap;

    out << YAML::Key << "requests" << YAML::Value << YAML::BeginMap;
    for (const auto& [id, request] : state.requests) {
        out << YAML::Key << YAML::DoubleQuoted << id << YAML::Value << YAML::BeginMap;
        field("friendly_name", request.friendlyName);
        field("key", request.keyId);
        field("state", std::string(requestStateName(request.state)));
        field("certificate", request.certificateId);
        out << YAML::Key << "created_usec" << YAML::Value << request.createdUSec;
        out << YAML::EndMap;
    }
    out << YAML::EndMap;

    out << YAML::Key << "bindings" << YAML::Value << YAML::BeginMap;
    for (const auto& [address, id] : state.bindings) {
        out << YAML::Key << YAML::DoubleQuoted << address;
        out << YAML::Value << YAML::DoubleQuoted << id;
    }
    out << YAML::EndMap;
    out << YAML::EndMap;

    if (!out.good())
        throw Error(ErrorCode::Internal, "cannot write the store state: " + out.GetLastError());
    return std::string(out.c_str(), out.size()) + "\n";
}

StoreState parseState(std::string_view yaml, const std::string& origin)
{
    const StateParser parser(origin);
    StoreState state;
    try {
        state = parser.parse(YAML::Load(std::string(yaml)));
    } catch (const YAML::Exception& e) {
        parser.fail(e.mark, e.msg);
    }
    // Whatever commit() would refuse must not load either, or every later commit would fail.
    try {
        validateState(state);
    } catch (const Error& e) {
        throw Error(ErrorCode::Internal,
                    origin + ": " + e.what() + "; repair the file or restore it from a backup");
    }
    return state;
}

} // namespace certd
