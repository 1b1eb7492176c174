#pragma once

// state.journal: what happened after state.yaml, one record per Store::flush(), so a change
// writes bytes in proportion to the change, not to the store (docs/architecture.md).
//
// A record: "CJR1", payload length (u32 LE), generation (u64 LE), CRC-32 of length, generation
// and payload (u32 LE), then the payload (a serializeDelta() text). The generation is the one
// state.yaml names: records of another generation were compacted into state.yaml already.
// A crash while appending leaves a short or garbled last record, which reading stops at.

#include "bytes.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace certd {

inline constexpr std::size_t kJournalHeaderSize = 20;

struct JournalRecord {
    std::uint64_t generation = 0;
    std::string payload;
};

struct JournalContents {
    std::vector<JournalRecord> records; // every intact record, in order, any generation
    std::size_t intactBytes = 0;        // where the first torn or garbled record starts (or the end)
};

std::uint32_t crc32(ByteView data, std::uint32_t crc = 0);
Bytes encodeJournalRecord(std::uint64_t generation, std::string_view payload);
// Reads records until the end or the first one that is short, garbled or fails its CRC.
JournalContents decodeJournal(ByteView data);

} // namespace certd
