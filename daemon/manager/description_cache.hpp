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
// load() ignores (as it ignores a record that fails its checksum or does not decode, and a file
// of another version): they are recomputed by parsing the certificate, and the file rewritten.
// Whoever writes the cache never lets a failure to write escape: a cache is not the store.

#include "bytes.hpp"
#include "pki/chain.hpp"
#include "store/store.hpp"

#include <array>
#include <cstddef>
#include <filesystem>
#include <map>
#include <string>
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

    // Reads the file: the intact records by fingerprint, the last of each. Never throws.
    std::unordered_map<std::string, Record> load();
    // Records read by the last load(), intact or not, and whether any was not intact (or the
    // file had another version, or could not be read).
    std::size_t loadedRecords() const { return loadedRecords_; }
    bool damaged() const { return damaged_; }

    // Queues a record; write() appends the queued ones (the last for each fingerprint).
    void add(const Fingerprint& fingerprint, const Record& record);
    void write();
    // Replaces the file (temp file, rename) with exactly these records; drops the queue.
    void rewrite(const std::map<Fingerprint, Record>& records);

    // The encoding of one record, and its decoding (false: not intact); for tests.
    static Bytes encode(const Fingerprint& fingerprint, const Record& record);
    static bool decode(ByteView payload, Fingerprint& fingerprint, Record& record);

private:
    std::filesystem::path directory_;
    std::map<Fingerprint, Record> queued_;
    std::size_t loadedRecords_ = 0;
    bool damaged_ = false;
    bool headerWritten_ = false; // the file exists with a valid header
};

// The fingerprint of a certificate's DER (SHA-256).
DescriptionCache::Fingerprint certificateFingerprint(ByteView der);

} // namespace certd
