#include "store/state_codec.hpp"

#include "error.hpp"
#include "store/yaml_tree.hpp"
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

std::string_view acmeOrderStateName(AcmeOrderState state)
{
    switch (state) {
    case AcmeOrderState::Pending:
        return "pending";
    case AcmeOrderState::Processing:
        return "processing";
    case AcmeOrderState::Valid:
        return "valid";
    case AcmeOrderState::Invalid:
        return "invalid";
    case AcmeOrderState::Failed:
        break;
    }
    return "failed";
}

std::optional<AcmeOrderState> parseAcmeOrderState(std::string_view name)
{
    for (const auto state : {AcmeOrderState::Pending, AcmeOrderState::Processing, AcmeOrderState::Valid,
                             AcmeOrderState::Invalid, AcmeOrderState::Failed})
        if (acmeOrderStateName(state) == name)
            return state;
    return std::nullopt;
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

    [[noreturn]] void fail(std::size_t line, const std::string& reason) const
    {
        throw Error(ErrorCode::Internal, origin_ + ", line " + std::to_string(line + 1) + ": " + reason +
                                             "; repair the file or restore it from a backup");
    }
    [[noreturn]] void fail(const YamlNode& node, const std::string& reason) const { fail(node.line, reason); }

    StoreState parse(const YamlNode& root, std::uint64_t* journalGeneration) const
    {
        if (!root.isMap())
            fail(root, "expected a mapping that starts with schema_version");
        const YamlNode* version = root.find("schema_version");
        if (!version)
            fail(root, "schema_version is missing");
        std::uint64_t schema = 0;
        if (!toNumber(*version, schema) || schema < 1)
            fail(*version, "schema_version must be a positive integer");
        if (schema > kSchemaVersion)
            throw Error(ErrorCode::Internal, origin_ + " schema " + std::to_string(schema) +
                                                 " is newer than this certd understands (schema " +
                                                 std::to_string(kSchemaVersion) +
                                                 "); run a newer certd or restore a backup made by this one");
        if (journalGeneration)
            *journalGeneration = number(root, "journal_generation");

        StoreState state;
        state.factoryCertificate = factory(root);
        entries(root, state.certificates, state.keys, state.requests, state.bindings);
        acmeOrders(root, state.acmeOrders);
        return state;
    }

    StateDelta parseDelta(const YamlNode& root) const
    {
        if (!root.isMap())
            fail(root, "expected a mapping");
        StateDelta delta;
        if (root.find("factory_certificate"))
            delta.factoryCertificate = factory(root);
        entries(root, delta.certificates, delta.keys, delta.requests, delta.bindings);
        acmeOrders(root, delta.acmeOrders);
        const YamlNode& removed = mapping(root, "removed");
        delta.removedAcmeOrders = ids(removed, "acme_orders", "ACME order");
        delta.removedCertificates = ids(removed, "certificates", "certificate");
        delta.removedKeys = ids(removed, "keys", "key");
        delta.removedRequests = ids(removed, "requests", "request");
        const YamlNode* bindings = removed.find("bindings");
        if (bindings && !bindings->isNull()) {
            if (!bindings->isSequence())
                fail(*bindings, "removed bindings must be a list of addresses");
            for (const auto& item : bindings->items)
                delta.removedBindings.push_back(scalar(item, "binding address"));
        }
        return delta;
    }

private:
    std::string factory(const YamlNode& root) const
    {
        std::string id = text(root, "factory_certificate");
        if (!id.empty() && !isValidId(id))
            fail(*root.find("factory_certificate"), invalidIdReason("certificate", id));
        return id;
    }

    // The four maps, as state.yaml and journal records spell them.
    void entries(const YamlNode& root, std::map<std::string, StoredCertificate>& certificates,
                 std::map<std::string, StoredKey>& keys, std::map<std::string, StoredRequest>& requests,
                 std::map<std::string, std::string>& bindingsOut) const
    {
        section(root, "certificates", "certificate", certificates, [&](const YamlNode& node) {
            StoredCertificate certificate;
            certificate.friendlyName = text(node, "friendly_name");
            certificate.chainMode = oneOf(node, "chain_mode", parseChainMode);
            certificate.manualChain = ids(node, "manual_chain", "certificate");
            certificate.addedUSec = number(node, "added_usec");
            return certificate;
        });
        section(root, "keys", "key", keys, [&](const YamlNode& node) {
            StoredKey key;
            key.addedUSec = number(node, "added_usec");
            key.algorithm = text(node, "algorithm");
            const std::uint64_t bits = number(node, "bits");
            if (bits > 65536)
                fail(*node.find("bits"), "bits " + std::to_string(bits) + " is not a key size");
            key.bits = static_cast<unsigned>(bits);
            key.spkiSha256 = text(node, "spki_sha256");
            if (!key.spkiSha256.empty() &&
                (key.spkiSha256.size() != 64 ||
                 !std::all_of(key.spkiSha256.begin(), key.spkiSha256.end(),
                              [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); })))
                fail(*node.find("spki_sha256"), "spki_sha256 must be 64 lower-case hex digits");
            return key;
        });
        section(root, "requests", "request", requests, [&](const YamlNode& node) {
            StoredRequest request;
            request.friendlyName = text(node, "friendly_name");
            request.keyId = text(node, "key");
            request.state = oneOf(node, "state", parseRequestState);
            request.certificateId = text(node, "certificate");
            request.createdUSec = number(node, "created_usec");
            return request;
        });
        const YamlNode& bindings = mapping(root, "bindings");
        for (std::size_t i = 0; i + 1 < bindings.items.size(); i += 2) {
            const std::string address = scalar(bindings.items[i], "binding address");
            if (!bindingsOut.emplace(address, scalar(bindings.items[i + 1], "certificate id")).second)
                fail(bindings.items[i], "address " + inQuotes(address) + " is bound twice");
        }
    }

    // Written only when there are any: a store without ACME reads as before.
    void acmeOrders(const YamlNode& root, std::map<std::string, StoredAcmeOrder>& orders) const
    {
        section(root, "acme_orders", "ACME order", orders, [&](const YamlNode& node) {
            StoredAcmeOrder order;
            order.friendlyName = text(node, "friendly_name");
            order.directoryUrl = text(node, "directory_url");
            order.identifiers = strings(node, "identifiers");
            order.challenge = text(node, "challenge");
            order.keyType = text(node, "key_type");
            order.fixedKeyId = text(node, "fixed_key");
            order.contact = text(node, "contact");
            order.caBundle = text(node, "ca_bundle");
            order.assign = strings(node, "assign");
            order.renewPercent = number(node, "renew_percent");
            order.renewAfterSeconds = number(node, "renew_after_seconds");
            order.accountKeyId = text(node, "account_key");
            order.accountUrl = text(node, "account_url");
            order.orderUrl = text(node, "order_url");
            order.keyId = text(node, "key");
            order.state = oneOf(node, "state", parseAcmeOrderState);
            order.errorName = text(node, "error_name");
            order.error = text(node, "error");
            order.certificateId = text(node, "certificate");
            order.createdUSec = number(node, "created_usec");
            order.nextRenewalUSec = number(node, "next_renewal_usec");
            return order;
        });
    }

    std::vector<std::string> strings(const YamlNode& node, const char* key) const
    {
        std::vector<std::string> out;
        const YamlNode* list = node.find(key);
        if (list == nullptr || list->isNull())
            return out;
        if (!list->isSequence())
            fail(*list, std::string(key) + " must be a list");
        for (const auto& item : list->items)
            out.push_back(scalar(item, key));
        return out;
    }

    std::string scalar(const YamlNode& node, const std::string& what) const
    {
        if (node.isNull())
            return {};
        if (!node.isScalar())
            fail(node, what + " must be a string");
        return node.scalar;
    }

    // A non-negative decimal integer that fits.
    static bool toNumber(const YamlNode& node, std::uint64_t& value)
    {
        if (!node.isScalar() || node.scalar.empty() || node.scalar.size() > 20)
            return false;
        std::uint64_t out = 0;
        for (const char c : node.scalar) {
            if (c < '0' || c > '9')
                return false;
            const auto digit = static_cast<std::uint64_t>(c - '0');
            if (out > (UINT64_MAX - digit) / 10)
                return false;
            out = out * 10 + digit;
        }
        value = out;
        return true;
    }

    // An optional string field ("" when absent).
    std::string text(const YamlNode& parent, const char* key) const
    {
        const YamlNode* node = parent.find(key);
        return node ? scalar(*node, key) : std::string();
    }

    template <typename T>
    T oneOf(const YamlNode& parent, const char* key, std::optional<T> (*parseName)(std::string_view)) const
    {
        const std::string value = text(parent, key);
        if (const auto parsed = parseName(value))
            return *parsed;
        const YamlNode* node = parent.find(key);
        fail(node ? *node : parent, std::string(key) + " " + inQuotes(value) + " is unknown");
    }

    std::uint64_t number(const YamlNode& parent, const char* key) const
    {
        const YamlNode* node = parent.find(key);
        std::uint64_t value = 0;
        if (node && !toNumber(*node, value))
            fail(*node, std::string(key) + " must be a non-negative integer");
        return value;
    }

    std::vector<std::string> ids(const YamlNode& parent, const char* key, const char* noun) const
    {
        std::vector<std::string> out;
        const YamlNode* node = parent.find(key);
        if (!node || node->isNull())
            return out;
        if (!node->isSequence())
            fail(*node, std::string(key) + " must be a list of " + noun + " ids");
        for (const auto& item : node->items) {
            out.push_back(scalar(item, std::string("a ") + noun + " id"));
            if (!isValidId(out.back()))
                fail(item, invalidIdReason(noun, out.back()));
        }
        return out;
    }

    // A mapping field; an empty mapping when absent or null.
    const YamlNode& mapping(const YamlNode& parent, const char* key) const
    {
        static const YamlNode empty{YamlNode::Kind::Map, {}, {}, 0};
        const YamlNode* node = parent.find(key);
        if (!node || node->isNull())
            return empty;
        if (!node->isMap())
            fail(*node, std::string(key) + " must be a mapping of id to entry");
        return *node;
    }

    template <typename Entry, typename ParseEntry>
    void section(const YamlNode& root, const char* key, const char* noun, std::map<std::string, Entry>& out,
                 ParseEntry&& parseEntry) const
    {
        const auto& items = mapping(root, key).items;
        for (std::size_t i = 0; i + 1 < items.size(); i += 2) {
            const std::string id = scalar(items[i], std::string(noun) + " id");
            if (!isValidId(id))
                fail(items[i], invalidIdReason(noun, id));
            if (!items[i + 1].isMap())
                fail(items[i + 1], std::string(noun) + " " + inQuotes(id) + " must be a mapping");
            // state.yaml lists ids in order: each goes at the end, without a search.
            const std::size_t before = out.size();
            out.emplace_hint(out.end(), id, parseEntry(items[i + 1]));
            if (out.size() == before)
                fail(items[i], std::string(noun) + " " + inQuotes(id) + " appears twice");
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
    for (const auto& [id, order] : state.acmeOrders) {
        requireValidId("ACME order", id);
        requireUtf8(order.friendlyName, "friendly name", "ACME order " + inQuotes(id));
        for (const std::string* key : {&order.accountKeyId, &order.keyId, &order.fixedKeyId})
            if (!key->empty())
                requireValidId("key", *key);
        if (!order.certificateId.empty())
            requireValidId("certificate", order.certificateId);
    }
    for (const auto& [address, id] : state.bindings) {
        if (address.empty())
            throw Error(ErrorCode::InvalidArgument, "a binding has an empty address");
        requireUtf8(address, "address", "a binding");
    }
}

namespace {

// Writes the parts state.yaml and journal records share. Every string double-quoted: ids
// such as "null" stay strings, and any friendly name (quotes, colons, newlines) reads back.
class StateWriter {
public:
    void field(const char* key, const std::string& value)
    {
        out_ << YAML::Key << key << YAML::Value << YAML::DoubleQuoted << value;
    }

    void number(const char* key, std::uint64_t value) { out_ << YAML::Key << key << YAML::Value << value; }

    void entries(const std::map<std::string, StoredCertificate>& certificates,
                 const std::map<std::string, StoredKey>& keys,
                 const std::map<std::string, StoredRequest>& requests,
                 const std::map<std::string, std::string>& bindings)
    {
        out_ << YAML::Key << "certificates" << YAML::Value << YAML::BeginMap;
        for (const auto& [id, certificate] : certificates) {
            out_ << YAML::Key << YAML::DoubleQuoted << id << YAML::Value << YAML::BeginMap;
            field("friendly_name", certificate.friendlyName);
            field("chain_mode", std::string(chainModeName(certificate.chainMode)));
            list("manual_chain", certificate.manualChain);
            number("added_usec", certificate.addedUSec);
            out_ << YAML::EndMap;
        }
        out_ << YAML::EndMap;

        out_ << YAML::Key << "keys" << YAML::Value << YAML::BeginMap;
        for (const auto& [id, key] : keys) {
            out_ << YAML::Key << YAML::DoubleQuoted << id << YAML::Value << YAML::BeginMap;
            number("added_usec", key.addedUSec);
            if (!key.spkiSha256.empty()) {
                field("algorithm", key.algorithm);
                number("bits", key.bits);
                field("spki_sha256", key.spkiSha256);
            }
            out_ << YAML::EndMap;
        }
        out_ << YAML::EndMap;

        out_ << YAML::Key << "requests" << YAML::Value << YAML::BeginMap;
        for (const auto& [id, request] : requests) {
            out_ << YAML::Key << YAML::DoubleQuoted << id << YAML::Value << YAML::BeginMap;
            field("friendly_name", request.friendlyName);
            field("key", request.keyId);
            field("state", std::string(requestStateName(request.state)));
            field("certificate", request.certificateId);
            number("created_usec", request.createdUSec);
            out_ << YAML::EndMap;
        }
        out_ << YAML::EndMap;

        out_ << YAML::Key << "bindings" << YAML::Value << YAML::BeginMap;
        for (const auto& [address, id] : bindings) {
            out_ << YAML::Key << YAML::DoubleQuoted << address;
            out_ << YAML::Value << YAML::DoubleQuoted << id;
        }
        out_ << YAML::EndMap;
    }

    void acmeOrders(const std::map<std::string, StoredAcmeOrder>& orders)
    {
        if (orders.empty())
            return;
        out_ << YAML::Key << "acme_orders" << YAML::Value << YAML::BeginMap;
        for (const auto& [id, order] : orders) {
            out_ << YAML::Key << YAML::DoubleQuoted << id << YAML::Value << YAML::BeginMap;
            field("friendly_name", order.friendlyName);
            field("directory_url", order.directoryUrl);
            list("identifiers", order.identifiers);
            field("challenge", order.challenge);
            field("key_type", order.keyType);
            field("fixed_key", order.fixedKeyId);
            field("contact", order.contact);
            field("ca_bundle", order.caBundle);
            list("assign", order.assign);
            number("renew_percent", order.renewPercent);
            number("renew_after_seconds", order.renewAfterSeconds);
            field("account_key", order.accountKeyId);
            field("account_url", order.accountUrl);
            field("order_url", order.orderUrl);
            field("key", order.keyId);
            field("state", std::string(acmeOrderStateName(order.state)));
            field("error_name", order.errorName);
            field("error", order.error);
            field("certificate", order.certificateId);
            number("created_usec", order.createdUSec);
            number("next_renewal_usec", order.nextRenewalUSec);
            out_ << YAML::EndMap;
        }
        out_ << YAML::EndMap;
    }

    void list(const char* key, const std::vector<std::string>& items)
    {
        out_ << YAML::Key << key << YAML::Value << YAML::Flow << YAML::BeginSeq;
        for (const std::string& item : items)
            out_ << YAML::DoubleQuoted << item;
        out_ << YAML::EndSeq;
    }

    YAML::Emitter& out() { return out_; }

    std::string text()
    {
        if (!out_.good())
            throw Error(ErrorCode::Internal, "cannot write the store state: " + out_.GetLastError());
        return std::string(out_.c_str(), out_.size()) + "\n";
    }

private:
    YAML::Emitter out_;
};

// Ordered walk of two maps: `set` for entries new or different in `after`, `removed` for
// entries only in `before`.
template <typename Value>
void diffMap(const std::map<std::string, Value>& before, const std::map<std::string, Value>& after,
             std::map<std::string, Value>& set, std::vector<std::string>& removed)
{
    auto b = before.begin();
    auto a = after.begin();
    while (b != before.end() || a != after.end()) {
        if (a == after.end() || (b != before.end() && b->first < a->first)) {
            removed.push_back(b->first);
            ++b;
        } else if (b == before.end() || a->first < b->first) {
            set.emplace_hint(set.end(), a->first, a->second);
            ++a;
        } else {
            if (!(a->second == b->second))
                set.emplace_hint(set.end(), a->first, a->second);
            ++a;
            ++b;
        }
    }
}

template <typename Value>
void applyMap(std::map<std::string, Value>& target, const std::map<std::string, Value>& set,
              const std::vector<std::string>& removed)
{
    for (const auto& id : removed)
        target.erase(id);
    for (const auto& [id, value] : set)
        target.insert_or_assign(id, value);
}

} // namespace

StateDelta diffStates(const StoreState& before, const StoreState& after)
{
    StateDelta delta;
    diffMap(before.certificates, after.certificates, delta.certificates, delta.removedCertificates);
    diffMap(before.keys, after.keys, delta.keys, delta.removedKeys);
    diffMap(before.requests, after.requests, delta.requests, delta.removedRequests);
    diffMap(before.bindings, after.bindings, delta.bindings, delta.removedBindings);
    diffMap(before.acmeOrders, after.acmeOrders, delta.acmeOrders, delta.removedAcmeOrders);
    if (before.factoryCertificate != after.factoryCertificate)
        delta.factoryCertificate = after.factoryCertificate;
    return delta;
}

void applyDelta(StoreState& state, const StateDelta& delta)
{
    applyMap(state.certificates, delta.certificates, delta.removedCertificates);
    applyMap(state.keys, delta.keys, delta.removedKeys);
    applyMap(state.requests, delta.requests, delta.removedRequests);
    applyMap(state.bindings, delta.bindings, delta.removedBindings);
    applyMap(state.acmeOrders, delta.acmeOrders, delta.removedAcmeOrders);
    if (delta.factoryCertificate)
        state.factoryCertificate = *delta.factoryCertificate;
}

std::string serializeState(const StoreState& state, std::uint64_t journalGeneration)
{
    StateWriter writer;
    writer.out() << YAML::BeginMap;
    writer.out() << YAML::Key << "schema_version" << YAML::Value << kSchemaVersion;
    writer.number("journal_generation", journalGeneration);
    writer.field("factory_certificate", state.factoryCertificate);
    writer.entries(state.certificates, state.keys, state.requests, state.bindings);
    writer.acmeOrders(state.acmeOrders);
    writer.out() << YAML::EndMap;
    return writer.text();
}

std::string serializeDelta(const StateDelta& delta)
{
    StateWriter writer;
    writer.out() << YAML::BeginMap;
    if (delta.factoryCertificate)
        writer.field("factory_certificate", *delta.factoryCertificate);
    writer.entries(delta.certificates, delta.keys, delta.requests, delta.bindings);
    writer.acmeOrders(delta.acmeOrders);
    writer.out() << YAML::Key << "removed" << YAML::Value << YAML::BeginMap;
    writer.list("certificates", delta.removedCertificates);
    writer.list("keys", delta.removedKeys);
    writer.list("requests", delta.removedRequests);
    writer.list("bindings", delta.removedBindings);
    if (!delta.removedAcmeOrders.empty())
        writer.list("acme_orders", delta.removedAcmeOrders);
    writer.out() << YAML::EndMap << YAML::EndMap;
    return writer.text();
}

StateDelta parseDelta(std::string_view yaml, const std::string& origin)
{
    const StateParser parser(origin);
    try {
        return parser.parseDelta(parseYaml(yaml));
    } catch (const YamlError& e) {
        parser.fail(e.line, e.reason);
    }
}

StoreState parseState(std::string_view yaml, const std::string& origin, std::uint64_t* journalGeneration)
{
    const StateParser parser(origin);
    StoreState state;
    try {
        state = parser.parse(parseYaml(yaml), journalGeneration);
    } catch (const YamlError& e) {
        parser.fail(e.line, e.reason);
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
