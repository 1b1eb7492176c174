#pragma once

// a{sv} arguments -> typed values. Unknown keys and wrong types are refused
// with InvalidArgument naming the key, so callers learn of typos at once.

#include "acme/service.hpp"
#include "manager/manager.hpp"

#include <sdbus-c++/Types.h>

#include <map>
#include <string>

namespace certd::bus {

using VariantMap = std::map<std::string, sdbus::Variant>;

// Spec of CreateSelfSigned / CreateRequest. Object paths (key, copy_from) are
// resolved to ids with the given prefixes' owners checked by the Manager.
CreateSpec parseCreateSpec(const VariantMap& spec, bool selfSigned);
ExportOptions parseExportOptions(const VariantMap& options);
// Import options: friendly_name.
std::string parseImportOptions(const VariantMap& options);
// Binding options (Assign, ReplaceCertificate, SetAddresses): force, flush.
struct BindingOptions {
    bool force = false; // override pre-flight errors
    bool flush = false; // rotate ticket keys, drop the session cache (compromise)
};
BindingOptions parseBindingOptions(const VariantMap& options);
// CreateAcmeOrder's spec (docs/api.md#acme); the key's path is resolved to its id, not checked.
acme::OrderSpec parseAcmeSpec(const VariantMap& spec);
// SetChain's mode: "automatic" or "manual", else InvalidArgument.
ChainMode parseChainModeArgument(const std::string& mode);

} // namespace certd::bus
