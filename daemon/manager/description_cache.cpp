#include "manager/description_cache.hpp"

#include "fs.hpp"
#include "pki/ossl.hpp"
#include "unique_fd.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

namespace certd {
namespace {

// Bump the version whenever the payload or what it means changes: a file of another version is
// ignored and rewritten.
constexpr std::string_view kHeader = "certd-description-cache 1\n";
constexpr std::size_t kChecksumLength = 8;
constexpr std::size_t kMaxPayload = 1 << 20; // a certificate's description is a few KiB at most

class Writer {
public:
    void u8(std::uint8_t v) { out.push_back(v); }
    void u32(std::uint32_t v)
    {
        for (int i = 0; i < 4; ++i)
            out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
    }
    void u64(std::uint64_t v)
    {
        for (int i = 0; i < 8; ++i)
            out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
    }
    void i32(int v) { u32(static_cast<std::uint32_t>(v)); }
    void bytes(const std::uint8_t* data, std::size_t n) { out.insert(out.end(), data, data + n); }
    void str(const std::string& s)
    {
        u32(static_cast<std::uint32_t>(s.size()));
        bytes(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
    }
    Bytes out;
};

class Reader {
public:
    explicit Reader(ByteView in) : in_(in) {}
    bool ok() const { return ok_; }
    bool atEnd() const { return pos_ == in_.size(); }
    const std::uint8_t* take(std::size_t n)
    {
        if (!ok_ || in_.size() - pos_ < n) {
            ok_ = false;
            return nullptr;
        }
        const std::uint8_t* p = in_.data() + pos_;
        pos_ += n;
        return p;
    }
    std::uint8_t u8()
    {
        const auto* p = take(1);
        return p ? *p : 0;
    }
    // A little-endian unsigned integer of sizeof(T) bytes.
    template <typename T>
    T little()
    {
        const auto* p = take(sizeof(T));
        T v = 0;
        for (std::size_t i = 0; p && i < sizeof(T); ++i)
            v |= static_cast<T>(static_cast<T>(p[i]) << (8 * i));
        return v;
    }
    std::uint32_t u32() { return little<std::uint32_t>(); }
    std::uint64_t u64() { return little<std::uint64_t>(); }
    int i32() { return static_cast<int>(u32()); }
    bool flag()
    {
        const std::uint8_t v = u8();
        ok_ = ok_ && v <= 1;
        return v == 1;
    }
    std::string str()
    {
        const std::uint32_t n = u32();
        const auto* p = take(n);
        return p ? std::string(reinterpret_cast<const char*>(p), n) : std::string();
    }
    template <std::size_t N>
    void array(std::array<std::uint8_t, N>& a)
    {
        if (const auto* p = take(N))
            std::copy_n(p, N, a.begin());
    }

private:
    ByteView in_;
    std::size_t pos_ = 0;
    bool ok_ = true;
};

std::array<std::uint8_t, kChecksumLength> checksum(ByteView payload)
{
    const Bytes digest = pki::sha256(payload);
    std::array<std::uint8_t, kChecksumLength> out{};
    std::copy_n(digest.begin(), out.size(), out.begin());
    return out;
}

// Length, checksum, payload: one record as it goes into the file.
Bytes frame(const Bytes& payload)
{
    Writer w;
    w.u32(static_cast<std::uint32_t>(payload.size()));
    const auto sum = checksum(payload);
    w.bytes(sum.data(), sum.size());
    w.bytes(payload.data(), payload.size());
    return std::move(w.out);
}

bool writeAll(int fd, ByteView data)
{
    while (!data.empty()) {
        const ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        data = data.subspan(static_cast<std::size_t>(n));
    }
    return true;
}

} // namespace

bool DescriptionCache::Record::operator==(const Record& other) const
{
    return encode({}, *this) == encode({}, other);
}

DescriptionCache::DescriptionCache(std::filesystem::path directory) : directory_(std::move(directory)) {}

DescriptionCache::Fingerprint certificateFingerprint(ByteView der)
{
    const Bytes digest = pki::sha256(der);
    DescriptionCache::Fingerprint out{};
    std::copy_n(digest.begin(), out.size(), out.begin());
    return out;
}

Bytes DescriptionCache::encode(const Fingerprint& fingerprint, const Record& record)
{
    const pki::CertificateInfo& info = record.facts.info;
    const pki::CertificateTraits& traits = record.facts.traits;
    Writer w;
    w.bytes(fingerprint.data(), fingerprint.size());
    w.str(info.subject);
    w.str(info.issuer);
    w.str(info.issuedTo);
    w.str(info.issuedBy);
    w.str(info.serialNumber);
    w.str(info.signatureAlgorithm);
    w.u64(info.notBeforeUSec);
    w.u64(info.notAfterUSec);
    w.str(info.publicKey);
    w.u32(static_cast<std::uint32_t>(info.subjectAlternativeNames.size()));
    for (const auto& [type, value] : info.subjectAlternativeNames) {
        w.str(type);
        w.str(value);
    }
    w.u32(static_cast<std::uint32_t>(info.authorityInfoAccess.size()));
    for (const auto& url : info.authorityInfoAccess)
        w.str(url);
    w.str(info.spkiSha256);
    // The description's own fingerprint too: a record whose description is not of the
    // certificate it is filed under is refused, whoever wrote it.
    w.str(info.fingerprintSha256);
    w.u8(info.isCa ? 1 : 0);
    w.u8(info.selfSigned ? 1 : 0);
    w.u8(static_cast<std::uint8_t>(record.facts.kind));
    w.u32(traits.subjectHash);
    w.u32(traits.issuerHash);
    w.bytes(traits.issuerIdentity.data(), traits.issuerIdentity.size());
    w.u64(traits.authorityKeyIdHash);
    w.u64(traits.subjectKeyIdHash);
    w.u8(traits.hasAuthorityKeyId ? 1 : 0);
    w.u8(traits.hasSubjectKeyId ? 1 : 0);
    w.i32(traits.signatureNid);
    w.i32(traits.keyType);
    w.i32(traits.keyBits);
    w.u8(traits.commonNameNotInSan ? 1 : 0);
    w.bytes(record.issuerVerified.data(), record.issuerVerified.size());
    return std::move(w.out);
}

bool DescriptionCache::decode(ByteView payload, Fingerprint& fingerprint, Record& record)
{
    Reader r(payload);
    pki::CertificateInfo& info = record.facts.info;
    pki::CertificateTraits& traits = record.facts.traits;
    r.array(fingerprint);
    info.subject = r.str();
    info.issuer = r.str();
    info.issuedTo = r.str();
    info.issuedBy = r.str();
    info.serialNumber = r.str();
    info.signatureAlgorithm = r.str();
    info.notBeforeUSec = r.u64();
    info.notAfterUSec = r.u64();
    info.publicKey = r.str();
    // Counts bounded by what is left, so a bad count cannot make a huge vector.
    for (std::uint32_t n = r.u32(); r.ok() && n > 0; --n) {
        std::string type = r.str();
        std::string value = r.str();
        if (r.ok())
            info.subjectAlternativeNames.emplace_back(std::move(type), std::move(value));
    }
    for (std::uint32_t n = r.u32(); r.ok() && n > 0; --n) {
        std::string url = r.str();
        if (r.ok())
            info.authorityInfoAccess.push_back(std::move(url));
    }
    info.spkiSha256 = r.str();
    info.fingerprintSha256 = r.str();
    info.isCa = r.flag();
    info.selfSigned = r.flag();
    const std::uint8_t kind = r.u8();
    if (kind > static_cast<std::uint8_t>(pki::CertificateKind::Root))
        return false;
    record.facts.kind = static_cast<pki::CertificateKind>(kind);
    traits.subjectHash = r.u32();
    traits.issuerHash = r.u32();
    r.array(traits.issuerIdentity);
    traits.authorityKeyIdHash = r.u64();
    traits.subjectKeyIdHash = r.u64();
    traits.hasAuthorityKeyId = r.flag();
    traits.hasSubjectKeyId = r.flag();
    traits.signatureNid = r.i32();
    traits.keyType = r.i32();
    traits.keyBits = r.i32();
    traits.commonNameNotInSan = r.flag();
    r.array(record.issuerVerified);
    return r.ok() && r.atEnd() && info.fingerprintSha256 == toHex(fingerprint);
}

void DescriptionCache::load()
{
    release();
    loadedRecords_ = 0;
    damaged_ = false;
    headerWritten_ = false;
    const std::filesystem::path path = directory_ / kFileName;
    try {
        std::error_code ec;
        if (!std::filesystem::exists(path, ec)) {
            damaged_ = true; // nothing to read: write a new file
            return;
        }
        image_ = readFile(path);
    } catch (const std::exception&) {
        damaged_ = true;
        return;
    }
    const ByteView all(image_);
    if (all.size() < kHeader.size() || !std::equal(kHeader.begin(), kHeader.end(), all.begin())) {
        damaged_ = true; // another version, or not this file at all
        return;
    }
    std::size_t pos = kHeader.size();
    constexpr std::size_t kFrame = 4 + kChecksumLength;
    while (pos < all.size()) {
        Reader head(all.subspan(pos));
        const std::uint32_t length = head.u32();
        if (all.size() - pos < kFrame || length > kMaxPayload || all.size() - pos - kFrame < length ||
            length < Fingerprint().size()) {
            damaged_ = true; // a torn tail, or a length that cannot be trusted: nothing after it can
            break;
        }
        // The checksum with the payload: find() checks it.
        const ByteView framed = all.subspan(pos + 4, kChecksumLength + length);
        pos += kFrame + length;
        ++loadedRecords_;
        const auto* fingerprint = reinterpret_cast<const char*>(framed.data() + kChecksumLength);
        index_[std::string_view(fingerprint, Fingerprint().size())] = framed;
    }
    headerWritten_ = !damaged_;
}

std::optional<DescriptionCache::Record> DescriptionCache::find(const Fingerprint& fingerprint)
{
    const auto it =
        index_.find(std::string_view(reinterpret_cast<const char*>(fingerprint.data()), fingerprint.size()));
    if (it == index_.end())
        return std::nullopt;
    const ByteView sum = it->second.first(kChecksumLength);
    const ByteView payload = it->second.subspan(kChecksumLength);
    const auto expected = checksum(payload);
    Fingerprint decodedFingerprint{};
    Record record;
    if (!std::equal(expected.begin(), expected.end(), sum.begin()) ||
        !decode(payload, decodedFingerprint, record) || decodedFingerprint != fingerprint) {
        damaged_ = true;
        return std::nullopt;
    }
    return record;
}

std::map<DescriptionCache::Fingerprint, DescriptionCache::Record> DescriptionCache::records()
{
    std::map<Fingerprint, Record> out;
    for (const auto& [key, framed] : index_) {
        Fingerprint fingerprint{};
        std::copy_n(reinterpret_cast<const std::uint8_t*>(key.data()), fingerprint.size(),
                    fingerprint.begin());
        if (auto record = find(fingerprint))
            out.emplace(fingerprint, std::move(*record));
    }
    return out;
}

void DescriptionCache::release()
{
    index_ = {};
    Bytes().swap(image_);
}

void DescriptionCache::add(const Fingerprint& fingerprint, const Record& record)
{
    queued_[fingerprint] = record;
}

void DescriptionCache::write()
{
    if (queued_.empty())
        return;
    if (!headerWritten_) {
        // Missing, damaged or of another version: a new file, whole or not at all.
        rewrite(std::exchange(queued_, {}));
        return;
    }
    Bytes data;
    for (const auto& [fingerprint, record] : queued_) {
        const Bytes framed = frame(encode(fingerprint, record));
        data.insert(data.end(), framed.begin(), framed.end());
    }
    queued_.clear();
    const std::filesystem::path path = directory_ / kFileName;
    const UniqueFd fd(::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW));
    if (!fd) {
        headerWritten_ = false; // gone, or a read-only store: start over next time
        return;
    }
    const off_t size = ::lseek(fd.get(), 0, SEEK_END);
    if (!writeAll(fd.get(), data) && (size < 0 || ::ftruncate(fd.get(), size) != 0))
        headerWritten_ = false; // a torn record at the end: rewritten next time
}

void DescriptionCache::rewrite(const std::map<Fingerprint, Record>& records)
{
    queued_.clear();
    Bytes data(kHeader.begin(), kHeader.end());
    for (const auto& [fingerprint, record] : records) {
        const Bytes framed = frame(encode(fingerprint, record));
        data.insert(data.end(), framed.begin(), framed.end());
    }
    try {
        // A cache: neither the file nor its name need be durable.
        writeFileAtomic(directory_, kFileName, data, 0600, SyncDirectory::WithFileSystem);
        headerWritten_ = true;
    } catch (const std::exception&) {
        headerWritten_ = false;
    }
}

} // namespace certd
