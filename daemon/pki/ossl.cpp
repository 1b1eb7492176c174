#include "ossl.hpp"

#include "../error.hpp"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/sha.h>

#include <climits>

namespace certd::pki {

SecureHeap initSecureHeap(std::size_t bytes)
{
    // CRYPTO_secure_malloc_init: 1 locked, 2 mapped but not locked, 0 failed.
    static const SecureHeap result = [bytes] {
        switch (CRYPTO_secure_malloc_init(bytes, 32)) {
        case 1:
            return SecureHeap::Locked;
        case 2:
            return SecureHeap::NotLocked;
        default:
            return SecureHeap::Unavailable;
        }
    }();
    return result;
}

void* secureAllocate(std::size_t bytes)
{
    // A null file and line 0: a full heap returns null without an error on the queue.
    if (CRYPTO_secure_malloc_initialized())
        if (void* p = CRYPTO_secure_malloc(bytes, nullptr, 0))
            return p;
    return ::operator new(bytes);
}

void secureFree(void* p, std::size_t bytes) noexcept
{
    if (p == nullptr)
        return;
    if (CRYPTO_secure_allocated(p)) {
        CRYPTO_secure_clear_free(p, bytes, nullptr, 0);
        return;
    }
    OPENSSL_cleanse(p, bytes);
    ::operator delete(p);
}

std::string drainOpenSslErrors()
{
    std::string out;
    unsigned long e = 0;
    while ((e = ERR_get_error()) != 0) {
        char buf[256];
        ERR_error_string_n(e, buf, sizeof(buf));
        if (!out.empty())
            out += "; ";
        out += buf;
    }
    return out;
}

BioPtr memoryBio(ByteView data)
{
    if (data.size() > static_cast<std::size_t>(INT_MAX))
        throw Error(ErrorCode::InvalidArgument, "data is too large");
    BioPtr bio(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
    if (!bio)
        throwOpenSsl(ErrorCode::Internal, "cannot allocate a memory BIO");
    return bio;
}

namespace {
template <typename Out>
Out readBio(BIO* bio)
{
    char* p = nullptr;
    const long n = BIO_get_mem_data(bio, &p);
    if (n <= 0 || p == nullptr)
        return {};
    return Out(reinterpret_cast<const std::uint8_t*>(p), reinterpret_cast<const std::uint8_t*>(p) + n);
}
} // namespace

Bytes bioBytes(BIO* bio)
{
    return readBio<Bytes>(bio);
}
SecureBytes bioSecureBytes(BIO* bio)
{
    return readBio<SecureBytes>(bio);
}

std::string toHex(ByteView data)
{
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out;
    out.reserve(data.size() * 2);
    for (const std::uint8_t b : data) {
        out.push_back(kDigits[b >> 4]);
        out.push_back(kDigits[b & 0x0f]);
    }
    return out;
}

Bytes sha256(ByteView data)
{
    Bytes out(SHA256_DIGEST_LENGTH);
    unsigned int len = 0;
    if (EVP_Digest(data.data(), data.size(), out.data(), &len, EVP_sha256(), nullptr) != 1)
        throwOpenSsl(ErrorCode::Internal, "SHA-256 failed");
    out.resize(len);
    return out;
}

} // namespace certd::pki
