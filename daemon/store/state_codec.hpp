#pragma once

// state.yaml: the text of a StoreState and back, and the rules every state obeys
// (ids that are never paths, UTF-8 text), shared by the parser and Store::commit().

#include "store/state.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace certd {

// Ids are 1 to kMaxIdLength of [A-Za-z0-9_-] (hex digests qualify), so never a path.
inline constexpr std::size_t kMaxIdLength = 128;
bool isValidId(std::string_view id);
// "certificate id \"x/y\" is malformed: use 1 to 128 letters, digits, '-' or '_'".
std::string invalidIdReason(const char* noun, const std::string& id);
// Throws Error(InvalidArgument) with invalidIdReason().
void requireValidId(const char* noun, const std::string& id);
// "\"text\"", as messages about the store quote ids and names.
std::string inQuotes(const std::string& text);

// Throws Error(InvalidArgument) for what no state may hold: a malformed id, text that is
// not UTF-8, a binding with an empty address. (References between entries: Store.)
void validateState(const StoreState& state);

// state.yaml text for a state, and back. `journalGeneration` names the state.journal
// whose records continue this snapshot (0 in a schema 1 file).
std::string serializeState(const StoreState& state, std::uint64_t journalGeneration = 0);
// Throws Error(Internal) naming `origin`, line and reason.
StoreState parseState(std::string_view yaml, const std::string& origin,
                      std::uint64_t* journalGeneration = nullptr);

// The text of one state.journal record (YAML: the sets as in state.yaml, plus `removed`), and
// back. parseDelta throws Error(Internal) naming `origin` and reason.
std::string serializeDelta(const StateDelta& delta);
StateDelta parseDelta(std::string_view yaml, const std::string& origin);

} // namespace certd
