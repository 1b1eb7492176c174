#include "auth.hpp"

#include "error.hpp"
#include "tree.hpp"

#include <sdbus-c++/Message.h>
#include <systemd/sd-bus.h>

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

namespace certd::bus {

Caller callerOf(const sdbus::Message& message)
{
    // What the bus daemon took from the sender's socket when it connected (SO_PEERCRED: the
    // effective uid, and the pid), so it cannot be forged. Not sdbus-c++'s getCredsUid(): it asks
    // for the real uid with SD_BUS_CREDS_AUGMENT, which sd-bus can only read from /proc/PID,
    // racy, and invisible under the unit's ProtectProc=invisible/ProcSubset=pid (every call
    // failed there: tests/system).
    sd_bus_creds* creds = nullptr;
    if (const int r =
            sd_bus_query_sender_creds(rawMessageOf(message), SD_BUS_CREDS_EUID | SD_BUS_CREDS_PID, &creds);
        r < 0)
        throw Error(ErrorCode::Internal,
                    std::string("cannot get the caller's credentials: ") + std::strerror(-r));
    const std::unique_ptr<sd_bus_creds, sd_bus_creds* (*)(sd_bus_creds*)> owner(creds, sd_bus_creds_unref);
    Caller caller;
    if (const int r = sd_bus_creds_get_euid(creds, &caller.uid); r < 0)
        throw Error(ErrorCode::Internal, std::string("cannot get the caller's uid: ") + std::strerror(-r));
    if (const int r = sd_bus_creds_get_pid(creds, &caller.pid); r < 0)
        caller.pid = 0; // only for the audit record
    return caller;
}

bool userInGroup(uid_t uid, const std::string& group)
{
    if (group.empty())
        return false;
    long size = ::sysconf(_SC_GETPW_R_SIZE_MAX);
    std::vector<char> buf(static_cast<std::size_t>(size > 0 ? size : 16384));
    passwd pw{};
    passwd* pwResult = nullptr;
    if (::getpwuid_r(uid, &pw, buf.data(), buf.size(), &pwResult) != 0 || pwResult == nullptr)
        return false;
    size = ::sysconf(_SC_GETGR_R_SIZE_MAX);
    std::vector<char> grBuf(static_cast<std::size_t>(size > 0 ? size : 16384));
    struct group gr {};
    struct group* grResult = nullptr;
    if (::getgrnam_r(group.c_str(), &gr, grBuf.data(), grBuf.size(), &grResult) != 0 || grResult == nullptr)
        return false;
    int count = 64;
    std::vector<gid_t> groups(static_cast<std::size_t>(count));
    if (::getgrouplist(pw.pw_name, pw.pw_gid, groups.data(), &count) < 0) {
        groups.resize(static_cast<std::size_t>(count));
        if (::getgrouplist(pw.pw_name, pw.pw_gid, groups.data(), &count) < 0)
            return false;
    }
    groups.resize(static_cast<std::size_t>(count));
    return std::find(groups.begin(), groups.end(), gr.gr_gid) != groups.end();
}

bool isAuthorized(const Caller& caller, Right right, const AuthPolicy& policy)
{
    if (right == Right::Read || caller.uid == 0)
        return true;
    if (right == Right::Manage)
        return userInGroup(caller.uid, policy.adminGroup);
    return userInGroup(caller.uid, policy.keyExportGroup);
}

void authorize(const Caller& caller, Right right, const AuthPolicy& policy)
{
    if (isAuthorized(caller, right, policy))
        return;
    throw Error(ErrorCode::AccessDenied, right == Right::Manage
                                             ? "changing certd's state needs root or membership of the '" +
                                                   policy.adminGroup + "' group"
                                             : "exporting a private key needs root or membership of the '" +
                                                   policy.keyExportGroup + "' group");
}

} // namespace certd::bus
