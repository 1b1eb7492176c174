#include "auth.hpp"

#include "error.hpp"

#include <sdbus-c++/Message.h>

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

namespace certd::bus {

Caller callerOf(const sdbus::Message& message)
{
    // sd-bus asks the bus daemon for the sender's credentials (not /proc), so they cannot be forged.
    Caller caller;
    caller.uid = message.getCredsUid();
    caller.pid = message.getCredsPid();
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
