#pragma once

// The description cache: what the Manager derives from each certificate (pki::CertificateFacts)
// and the issuer identity chain building verified for it, kept in the state directory so that
// start-up parses no certificate it has seen before. Content-addressed: a record is found by
// the SHA-256 of the certificate's DER (its fingerprint; the id is a prefix of it), and what it
// holds is a function of that DER alone, so it never goes stale; it is trusted for nothing else.
//
// certificates.cache (0600): a header (magic and version), then records appended one write()
// each, each: u32 payload length (little-endian), the first 8 bytes of the payload's SHA-256,
// the payload (the 32-byte fingerprint, then the facts). A later record for a fingerprint
// replaces an earlier one. Not fsynced: a crash may leave a torn tail or lose records, which
// load() and find() ignore (as they ignore a record that fails its checksum or does not decode,
// and a file of another version): they are recomputed by parsing the certificate, and the file rewritten.
// Whoever writes the cache never lets a failure to write escape: a cache is not the store.

#include "bytes.hpp"
#include "pki/chain.hpp"
#include "store/store.hpp"

#include <array>
#include <cstddef>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace certd {

class DescriptionCache {
public:
    using Fingerprint = std::array<std::uint8_t, 32>;
    struct Record {
        pki::CertificateFacts facts;
        // issuerIdentity of a certificate that issued this one (all zero: none known).
        std::array<std::uint8_t, 32> issuerVerified{};
        bool operator==(const Record& other) const;
    };

    static constexpr const char* kFileName = Store::kCacheFile;

    explicit DescriptionCache(std::filesystem::path directory);
    // The index points into the image: no copies.
    DescriptionCache(const DescriptionCache&) = delete;
    DescriptionCache& operator=(const DescriptionCache&) = delete;

    // Reads the file and indexes its records by fingerprint (the last of each); records are
    // checked and decoded only by find(), so that start-up holds no more than the file's image
    // and the index. Never throws.
    void load();
    // The intact record of a fingerprint that load() indexed; nullopt when there is none, or it
    // fails its checksum or does not decode (then damaged()).
    std::optional<Record> find(const Fingerprint& fingerprint);
    // Every intact record load() indexed (for tests).
    std::map<Fingerprint, Record> records();
    // Frees what load() read.
    void release();
    // Records load() found, intact or not, and whether any was not intact (a torn tail, a
    // failed checksum in find()), or the file was missing, of another version or unreadable.
    std::size_t loadedRecords() const { return loadedRecords_; }
    bool damaged() const { return damaged_; }

    // Queues a record; write() appends the queued ones (the last for each fingerprint).
    void add(const Fingerprint& fingerprint, const Record& record);
    void write();
    // Drops the queue (its certificates' store transaction failed).
    void discardQueued() { queued_.clear(); }
    // Replaces the file (temp file, rename) with exactly these records; drops the queue.
    void rewrite(const std::map<Fingerprint, Record>& records);

    // The encoding of one record, and its decoding (false: not intact); for tests.
    static Bytes encode(const Fingerprint& fingerprint, const Record& record);
    static bool decode(ByteView payload, Fingerprint& fingerprint, Record& record);

private:
    std::filesystem::path directory_;
    Bytes image_;                                          // the file, as load() read it
    std::unordered_map<std::string_view, ByteView> index_; // fingerprint -> its last payload
    std::map<Fingerprint, Record> queued_;
    std::size_t loadedRecords_ = 0;
    bool damaged_ = false;
    bool headerWritten_ = false; // the file exists with a valid header
};

// The fingerprint of a certificate's DER (SHA-256).
DescriptionCache::Fingerprint certificateFingerprint(ByteView der);

} // namespace certd
