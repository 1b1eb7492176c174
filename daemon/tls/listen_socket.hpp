#pragma once

// The listening sockets certd binds and hands to certd-tls (which binds its own when it runs
// standalone or as certd-tls.service), and how both sides name them.

#include "unique_fd.hpp"

#include <cstdint>
#include <string>

namespace certd::tls {

// "127.0.0.2:443", "[::1]:443": how logs and the socketpair name a listener.
std::string endpointName(const std::string& address, std::uint16_t port);

// A listening socket: SO_REUSEADDR, IPV6_V6ONLY for IPv6, IP(V6)_FREEBIND when asked,
// non-blocking, backlog 4096. Empty, with `error` set ("bind 127.0.0.9:443: ..."), on failure.
UniqueFd bindListener(const std::string& address, std::uint16_t port, bool freebind, std::string& error);

// endpointName() of the address a socket is bound to; "" if it is not an IPv4/IPv6 socket.
std::string localEndpoint(int fd);

} // namespace certd::tls
