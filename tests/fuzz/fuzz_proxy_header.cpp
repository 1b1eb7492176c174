// fuzz-proxy-header: tls::proxyV2Header, the PROXY v2 header certd-tls writes to the backend,
// with fuzzed addresses, ports, ALPN and SNI. certd-tls only writes PROXY headers (it never
// reads one) and the project holds no C++ parser to round-trip with, so the target checks the
// header against haproxy's proxy-protocol.txt §2.2 instead: signature, version and command,
// family, a length field that says exactly where the header ends, the addresses as given, and
// TLVs that tile the rest and carry the ALPN and SNI values unchanged.
//
// Input: byte 0: bits 0-1 the client's family, bits 2-3 the local one (0 AF_INET, 1 AF_INET6,
// 2 AF_UNIX, 3 no address); bytes 1-16 and 17-32 the client and local addresses (IPv4 uses the
// first 4), 33-34 and 35-36 their ports, 37-38 and 39-40 the ALPN and SNI lengths (big endian);
// the rest is the text, repeated as needed to fill ALPN then SNI (so lengths up to 64 KiB are
// reachable from short inputs).

#include "fuzz.hpp"

#include "tls/proxy_header.hpp"

#include <netinet/in.h>
#include <sys/un.h>

#include <cstring>
#include <string>

using namespace certd;

namespace {

constexpr std::size_t kFixed = 41;
constexpr std::uint8_t kSignature[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                         0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

int familyOf(unsigned bits)
{
    switch (bits & 3) {
    case 0:
        return AF_INET;
    case 1:
        return AF_INET6;
    case 2:
        return AF_UNIX;
    default:
        return AF_UNSPEC; // no address at all
    }
}

// A sockaddr of `family` holding `address` (16 bytes) and `port` (2 bytes, network order).
sockaddr_storage makeAddress(int family, const std::uint8_t* address, const std::uint8_t* port)
{
    sockaddr_storage s{};
    s.ss_family = static_cast<sa_family_t>(family);
    if (family == AF_INET) {
        auto* in = reinterpret_cast<sockaddr_in*>(&s);
        std::memcpy(&in->sin_addr, address, 4);
        std::memcpy(&in->sin_port, port, 2);
    } else if (family == AF_INET6) {
        auto* in6 = reinterpret_cast<sockaddr_in6*>(&s);
        std::memcpy(&in6->sin6_addr, address, 16);
        std::memcpy(&in6->sin6_port, port, 2);
    } else if (family == AF_UNIX) {
        auto* un = reinterpret_cast<sockaddr_un*>(&s);
        std::memcpy(un->sun_path, address, 16);
    }
    return s;
}

std::size_t bigEndian16(const std::uint8_t* p)
{
    return static_cast<std::size_t>(p[0]) << 8 | p[1];
}

std::string filled(std::size_t length, std::string_view text)
{
    std::string out(length, 'a');
    for (std::size_t i = 0; !text.empty() && i < length; ++i)
        out[i] = text[i % text.size()];
    return out;
}

// Checks one TLV at `pos` of type `type` with `value`; returns the position after it.
std::size_t checkTlv(const Bytes& h, std::size_t pos, std::uint8_t type, std::string_view value)
{
    fuzz::require(pos + 3 <= h.size(), "a TLV header runs past the end");
    fuzz::require(h[pos] == type, "a TLV has the wrong type or is out of order");
    const std::size_t length = bigEndian16(&h[pos + 1]);
    fuzz::require(pos + 3 + length <= h.size(), "a TLV value runs past the end");
    fuzz::require(std::string_view(reinterpret_cast<const char*>(&h[pos + 3]), length) == value,
                  "a TLV does not carry the value given");
    return pos + 3 + length;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    if (size < kFixed)
        return 0;
    const int clientFamily = familyOf(data[0]);
    const int localFamily = familyOf(data[0] >> 2);
    const sockaddr_storage client = makeAddress(clientFamily, data + 1, data + 33);
    const sockaddr_storage local = makeAddress(localFamily, data + 17, data + 35);
    const std::string_view text(reinterpret_cast<const char*>(data + kFixed), size - kFixed);
    const std::string alpn = filled(bigEndian16(data + 37), text);
    const std::string serverName = filled(bigEndian16(data + 39), text.substr(text.size() / 2));

    const auto* clientAddress =
        clientFamily == AF_UNSPEC ? nullptr : reinterpret_cast<const sockaddr*>(&client);
    const auto* localAddress = localFamily == AF_UNSPEC ? nullptr : reinterpret_cast<const sockaddr*>(&local);
    const Bytes h = tls::proxyV2Header(clientAddress, localAddress, alpn, serverName);

    fuzz::require(h.size() >= 16 && std::memcmp(h.data(), kSignature, sizeof kSignature) == 0,
                  "the header does not start with the signature");
    fuzz::require(bigEndian16(&h[14]) == h.size() - 16,
                  "the length field does not say where the header ends");
    const bool sameFamily = clientFamily == localFamily;
    const bool v4 = sameFamily && clientFamily == AF_INET;
    const bool v6 = sameFamily && clientFamily == AF_INET6;
    if (!v4 && !v6) {
        fuzz::require(h[12] == 0x20 && h[13] == 0x00 && h.size() == 16,
                      "no usable address pair, yet not a bare LOCAL header");
        return 0;
    }
    fuzz::require(h[12] == 0x21, "version/command is not v2 PROXY");
    fuzz::require(h[13] == (v4 ? 0x11 : 0x21), "the family byte is not TCP over the addresses' family");
    const std::size_t addressLength = v4 ? 4 : 16;
    const std::size_t addresses = 2 * addressLength + 4;
    fuzz::require(h.size() >= 16 + addresses, "the address block is cut short");
    fuzz::require(std::memcmp(&h[16], data + 1, addressLength) == 0 &&
                      std::memcmp(&h[16 + addressLength], data + 17, addressLength) == 0 &&
                      std::memcmp(&h[16 + 2 * addressLength], data + 33, 4) == 0,
                  "the addresses or ports are not the ones given");

    // Each TLV is there when its value is non-empty and it fits under the 16-bit length.
    std::size_t pos = 16 + addresses;
    std::size_t body = addresses;
    if (!alpn.empty() && body + 3 + alpn.size() <= 0xFFFF) {
        pos = checkTlv(h, pos, tls::kPp2TypeAlpn, alpn);
        body += 3 + alpn.size();
    }
    if (!serverName.empty() && body + 3 + serverName.size() <= 0xFFFF)
        pos = checkTlv(h, pos, tls::kPp2TypeAuthority, serverName);
    fuzz::require(pos == h.size(), "bytes follow the last TLV");
    return 0;
}
