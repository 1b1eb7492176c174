#include "address_monitor.hpp"

#include "error.hpp"

#include <arpa/inet.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace certd {

AddressMonitor::AddressMonitor(std::vector<std::string> interfaces, Callback callback)
    : interfaces_(std::move(interfaces)), callback_(std::move(callback))
{
    fd_.reset(::socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE));
    if (!fd_)
        throw Error(ErrorCode::Internal,
                    std::string("cannot open rtnetlink: ") + std::strerror(errno) +
                        (errno == EAFNOSUPPORT ? " (discovery under certd.service needs the drop-in "
                                                 "RestrictAddressFamilies=AF_NETLINK; see config/certd.yaml)"
                                               : ""));
    sockaddr_nl local{};
    local.nl_family = AF_NETLINK;
    local.nl_groups = RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR;
    if (::bind(fd_.get(), reinterpret_cast<sockaddr*>(&local), sizeof(local)) != 0)
        throw Error(ErrorCode::Internal, std::string("cannot bind rtnetlink: ") + std::strerror(errno));
}

void AddressMonitor::requestDump()
{
    struct {
        nlmsghdr header;
        ifaddrmsg body;
    } request{};
    request.header.nlmsg_len = NLMSG_LENGTH(sizeof(ifaddrmsg));
    request.header.nlmsg_type = RTM_GETADDR;
    request.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    request.header.nlmsg_seq = 1;
    request.body.ifa_family = AF_UNSPEC;
    if (::send(fd_.get(), &request, request.header.nlmsg_len, 0) < 0)
        throw Error(ErrorCode::Internal, std::string("cannot query addresses: ") + std::strerror(errno));
}

void AddressMonitor::process()
{
    alignas(nlmsghdr) char buffer[16384];
    for (;;) {
        const ssize_t n = ::recv(fd_.get(), buffer, sizeof(buffer), 0);
        if (n <= 0)
            return; // EAGAIN: drained
        auto length = static_cast<unsigned int>(n);
        for (auto* h = reinterpret_cast<nlmsghdr*>(buffer); NLMSG_OK(h, length); h = NLMSG_NEXT(h, length))
            if (h->nlmsg_type == RTM_NEWADDR || h->nlmsg_type == RTM_DELADDR)
                handleMessage(h, h->nlmsg_len);
    }
}

void AddressMonitor::handleMessage(const void* message, std::size_t)
{
    const auto* header = static_cast<const nlmsghdr*>(message);
    const auto* info = static_cast<const ifaddrmsg*>(NLMSG_DATA(header));
    char name[IF_NAMESIZE] = {};
    if (::if_indextoname(info->ifa_index, name) == nullptr)
        name[0] = '\0';
    if (interfaces_.empty() ? std::strcmp(name, "lo") == 0
                            : std::find(interfaces_.begin(), interfaces_.end(), name) == interfaces_.end())
        return;
    if (info->ifa_family == AF_INET6 && info->ifa_scope == RT_SCOPE_LINK)
        return; // link-local addresses need a scope id to bind; not appliance addresses
    int attributesLength = static_cast<int>(IFA_PAYLOAD(header));
    const rtattr* local = nullptr;
    const rtattr* address = nullptr;
    for (auto* a = IFA_RTA(info); RTA_OK(a, attributesLength); a = RTA_NEXT(a, attributesLength)) {
        if (a->rta_type == IFA_LOCAL)
            local = a;
        else if (a->rta_type == IFA_ADDRESS)
            address = a;
    }
    const rtattr* chosen = local ? local : address;
    if (chosen == nullptr)
        return;
    char text[INET6_ADDRSTRLEN] = {};
    if (::inet_ntop(info->ifa_family, RTA_DATA(chosen), text, sizeof(text)) == nullptr)
        return;
    callback_(text, header->nlmsg_type == RTM_NEWADDR);
}

} // namespace certd
