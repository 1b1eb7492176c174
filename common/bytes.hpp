#pragma once

// Byte buffers as every part of certd passes them around.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace certd {

using Bytes = std::vector<std::uint8_t>;
using ByteView = std::span<const std::uint8_t>;

inline ByteView asBytes(std::string_view s)
{
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

// Lower-case hex.
std::string toHex(ByteView data);

} // namespace certd
