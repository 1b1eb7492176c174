#include "tls/proxy_header.hpp"

#include <netinet/in.h>

#include <cstring>

namespace certd::tls {
namespace {

constexpr std::uint8_t kSignature[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                         0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

void append(Bytes& out, const void* data, std::size_t n)
{
    const auto* p = static_cast<const std::uint8_t*>(data);
    out.insert(out.end(), p, p + n);
}

// `out` is the header's body, whose length goes in a 16-bit field: a TLV that would not fit is
// left out (found by fuzz-proxy-header; the length used to wrap, so the backend would have read
// the rest of the header as the client's data).
void appendTlv(Bytes& out, std::uint8_t type, std::string_view value)
{
    if (value.empty() || out.size() + 3 + value.size() > 0xFFFF)
        return;
    out.push_back(type);
    out.push_back(static_cast<std::uint8_t>(value.size() >> 8));
    out.push_back(static_cast<std::uint8_t>(value.size() & 0xFF));
    append(out, value.data(), value.size());
}

} // namespace

Bytes proxyV2Header(const sockaddr* client, const sockaddr* local, std::string_view alpn,
                    std::string_view serverName)
{
    Bytes out(std::begin(kSignature), std::end(kSignature));
    Bytes body;
    const bool v4 = client && local && client->sa_family == AF_INET && local->sa_family == AF_INET;
    const bool v6 = client && local && client->sa_family == AF_INET6 && local->sa_family == AF_INET6;
    if (v4) {
        out.push_back(0x21); // version 2, PROXY
        out.push_back(0x11); // TCP over IPv4
        const auto* c = reinterpret_cast<const sockaddr_in*>(client);
        const auto* l = reinterpret_cast<const sockaddr_in*>(local);
        append(body, &c->sin_addr, 4);
        append(body, &l->sin_addr, 4);
        append(body, &c->sin_port, 2); // already in network order
        append(body, &l->sin_port, 2);
    } else if (v6) {
        out.push_back(0x21);
        out.push_back(0x21); // TCP over IPv6
        const auto* c = reinterpret_cast<const sockaddr_in6*>(client);
        const auto* l = reinterpret_cast<const sockaddr_in6*>(local);
        append(body, &c->sin6_addr, 16);
        append(body, &l->sin6_addr, 16);
        append(body, &c->sin6_port, 2);
        append(body, &l->sin6_port, 2);
    } else {
        out.push_back(0x20); // version 2, LOCAL
        out.push_back(0x00); // UNSPEC
    }
    if (v4 || v6) {
        appendTlv(body, kPp2TypeAlpn, alpn);
        appendTlv(body, kPp2TypeAuthority, serverName);
    }
    out.push_back(static_cast<std::uint8_t>(body.size() >> 8));
    out.push_back(static_cast<std::uint8_t>(body.size() & 0xFF));
    out.insert(out.end(), body.begin(), body.end());
    return out;
}

} // namespace certd::tls
