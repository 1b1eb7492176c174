#include "store/journal.hpp"

#include <array>
#include <cstring>

namespace certd {
namespace {

constexpr std::array<char, 4> kMagic{'C', 'J', 'R', '1'};
// A record larger than this is garbage, not a change (a whole state.yaml is far smaller).
constexpr std::uint32_t kMaxPayload = 256U << 20;

constexpr std::array<std::uint32_t, 256> makeCrcTable()
{
    std::array<std::uint32_t, 256> table{};
    for (std::uint32_t i = 0; i < 256; ++i) {
        std::uint32_t c = i;
        for (int k = 0; k < 8; ++k)
            c = (c & 1U) != 0 ? 0xEDB88320U ^ (c >> 1) : c >> 1;
        table[i] = c;
    }
    return table;
}
constexpr auto kCrcTable = makeCrcTable();

template <typename T>
void putLe(std::uint8_t* out, T value)
{
    for (std::size_t i = 0; i < sizeof(T); ++i)
        out[i] = static_cast<std::uint8_t>(value >> (8 * i));
}

template <typename T>
T getLe(const std::uint8_t* in)
{
    T value = 0;
    for (std::size_t i = 0; i < sizeof(T); ++i)
        value |= static_cast<T>(static_cast<T>(in[i]) << (8 * i));
    return value;
}

} // namespace

std::uint32_t crc32(ByteView data, std::uint32_t crc)
{
    crc = ~crc;
    for (const std::uint8_t byte : data)
        crc = kCrcTable[(crc ^ byte) & 0xFFU] ^ (crc >> 8);
    return ~crc;
}

Bytes encodeJournalRecord(std::uint64_t generation, std::string_view payload)
{
    Bytes out(kJournalHeaderSize + payload.size());
    std::memcpy(out.data(), kMagic.data(), kMagic.size());
    putLe(out.data() + 4, static_cast<std::uint32_t>(payload.size()));
    putLe(out.data() + 8, generation);
    if (!payload.empty())
        std::memcpy(out.data() + kJournalHeaderSize, payload.data(), payload.size());
    putLe(out.data() + 16,
          crc32(ByteView(out).subspan(kJournalHeaderSize), crc32(ByteView(out).subspan(4, 12))));
    return out;
}

JournalContents decodeJournal(ByteView data)
{
    JournalContents contents;
    std::size_t at = 0;
    while (data.size() - at >= kJournalHeaderSize) {
        const std::uint8_t* header = data.data() + at;
        if (std::memcmp(header, kMagic.data(), kMagic.size()) != 0)
            break;
        const auto length = getLe<std::uint32_t>(header + 4);
        if (length > kMaxPayload || data.size() - at - kJournalHeaderSize < length)
            break;
        const ByteView payload = data.subspan(at + kJournalHeaderSize, length);
        if (crc32(payload, crc32(data.subspan(at + 4, 12))) != getLe<std::uint32_t>(header + 16))
            break;
        contents.records.push_back(
            {getLe<std::uint64_t>(header + 8), std::string(payload.begin(), payload.end())});
        at += kJournalHeaderSize + length;
    }
    contents.intactBytes = at;
    return contents;
}

} // namespace certd
