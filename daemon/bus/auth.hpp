#pragma once

// Who is calling, from the bus's credentials (never from arguments), and what they may do.

#include <sys/types.h>

#include <string>

namespace sdbus {
class Message;
}

namespace certd::bus {

struct Caller {
    uid_t uid = static_cast<uid_t>(-1);
    pid_t pid = 0;
};

enum class Right {
    Read,             // open to every local user
    Manage,           // every mutation: uid 0 or the admin group
    ExportPrivateKey, // uid 0 or the key export group
};

struct AuthPolicy {
    std::string adminGroup;     // empty: root only
    std::string keyExportGroup; // empty: root only
};

Caller callerOf(const sdbus::Message& message);
// Whether the caller holds the right (what authorize() enforces; GetCallerRights reports it).
bool isAuthorized(const Caller& caller, Right right, const AuthPolicy& policy);
// Throws certd::Error(AccessDenied) naming the right.
void authorize(const Caller& caller, Right right, const AuthPolicy& policy);
// True when the user with `uid` belongs to the group named `group` (primary or supplementary).
bool userInGroup(uid_t uid, const std::string& group);

} // namespace certd::bus
