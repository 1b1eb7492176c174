#include "tls/listen_socket.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace certd::tls {

std::string endpointName(const std::string& address, std::uint16_t port)
{
    if (address.find(':') != std::string::npos)
        return "[" + address + "]:" + std::to_string(port);
    return address + ":" + std::to_string(port);
}

// certd binds, so the terminator needs no privilege; the socket outlives every certificate swap.
UniqueFd bindListener(const std::string& address, std::uint16_t port, bool freebind, std::string& error)
{
    sockaddr_storage storage{};
    socklen_t length = 0;
    int family = AF_INET;
    if (auto* v4 = reinterpret_cast<sockaddr_in*>(&storage);
        ::inet_pton(AF_INET, address.c_str(), &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
        length = sizeof(sockaddr_in);
    } else if (auto* v6 = reinterpret_cast<sockaddr_in6*>(&storage);
               ::inet_pton(AF_INET6, address.c_str(), &v6->sin6_addr) == 1) {
        family = AF_INET6;
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        length = sizeof(sockaddr_in6);
    } else {
        error = "'" + address + "' is not an IP address";
        return {};
    }
    UniqueFd fd(::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    const auto fail = [&](const char* what) {
        error = std::string(what) + " " + endpointName(address, port) + ": " + std::strerror(errno);
        return UniqueFd();
    };
    if (!fd)
        return fail("socket for");
    const int one = 1;
    if (::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0)
        return fail("SO_REUSEADDR on");
    // One socket per family: an IPv6 listener never swallows IPv4 clients of another address.
    if (family == AF_INET6 && ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) < 0)
        return fail("IPV6_V6ONLY on");
    if (freebind) {
        const int r = family == AF_INET6
                          ? ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_FREEBIND, &one, sizeof one)
                          : ::setsockopt(fd.get(), IPPROTO_IP, IP_FREEBIND, &one, sizeof one);
        if (r < 0)
            return fail("FREEBIND on");
    }
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&storage), length) < 0)
        return fail("bind");
    if (::listen(fd.get(), 4096) < 0)
        return fail("listen on");
    return fd;
}

std::string localEndpoint(int fd)
{
    sockaddr_storage storage{};
    socklen_t length = sizeof storage;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&storage), &length) < 0)
        return {};
    char text[INET6_ADDRSTRLEN] = {};
    if (storage.ss_family == AF_INET) {
        const auto* v4 = reinterpret_cast<const sockaddr_in*>(&storage);
        if (::inet_ntop(AF_INET, &v4->sin_addr, text, sizeof text))
            return endpointName(text, ntohs(v4->sin_port));
    } else if (storage.ss_family == AF_INET6) {
        const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&storage);
        if (::inet_ntop(AF_INET6, &v6->sin6_addr, text, sizeof text))
            return endpointName(text, ntohs(v6->sin6_port));
    }
    return {};
}

} // namespace certd::tls
