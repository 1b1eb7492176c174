#pragma once

// PROXY protocol v2 (haproxy's proxy-protocol.txt §2.2): the binary header the
// terminator sends first on each backend connection when proxy_protocol is v2.

#include "pki/ossl.hpp"

#include <sys/socket.h>

#include <string_view>

namespace certd::tls {

// PP2_TYPE_* values used.
inline constexpr std::uint8_t kPp2TypeAlpn = 0x01;
inline constexpr std::uint8_t kPp2TypeAuthority = 0x02;

// The header for a TCP connection from `client` to `local` (both AF_INET or both AF_INET6;
// anything else gives the LOCAL command with family UNSPEC), with ALPN and SNI (authority)
// TLVs when non-empty and they fit the header's 64 KiB.
Bytes proxyV2Header(const sockaddr* client, const sockaddr* local, std::string_view alpn,
                    std::string_view serverName);

} // namespace certd::tls
