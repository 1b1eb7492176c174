#pragma once

// Which certificate, request or key a name on the command line means: an object path, an id,
// a friendly name or a unique id prefix, over the Inventory certd listed.

#include "client.hpp"

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace certd::certctl {

enum class ObjectKind { Certificate, Request, Key };

std::string_view kindName(ObjectKind kind);                   // "certificate", "request", "key"
std::string describeKinds(std::span<const ObjectKind> kinds); // "certificate, request or key"
// The kind an object path belongs to, from its prefix.
std::optional<ObjectKind> kindOfPath(std::string_view path);

struct ObjectRef {
    ObjectKind kind = ObjectKind::Certificate;
    std::string path;
    std::string id;
    std::string friendlyName;
};

// Shortest unique id prefix certctl accepts.
inline constexpr std::size_t kMinIdPrefix = 4;

// Finds the one object of the given kinds that `ref` names: an object path, an
// id, a friendly name, or a unique id prefix (at least kMinIdPrefix characters),
// in that order of precedence. Throws Error(NotFound) when nothing matches and
// Error(InvalidArgument) listing the candidates when several do.
ObjectRef resolveObject(const client::Inventory& inventory, std::string_view ref,
                        std::span<const ObjectKind> kinds);

// True when `ref` could be a complete id (lower-case hex, long enough) — worth a
// direct lookup before listing every object.
bool looksLikeId(std::string_view ref);

} // namespace certd::certctl
