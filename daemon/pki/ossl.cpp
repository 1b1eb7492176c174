#include "ossl.hpp"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/sha.h>

#include <climits>

namespace certd::pki {

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

Bytes sha256(ByteView data)
{
    // Fetched once: with EVP_sha256() every EVP_Digest() looks the implementation up in the
    // provider store again (locks, name comparisons), which cost more than hashing a certificate.
    static EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    Bytes out(SHA256_DIGEST_LENGTH);
    unsigned int len = 0;
    if (EVP_Digest(data.data(), data.size(), out.data(), &len, md ? md : EVP_sha256(), nullptr) != 1)
        throwOpenSsl(ErrorCode::Internal, "SHA-256 failed");
    out.resize(len);
    return out;
}

} // namespace certd::pki

namespace certd {

void throwOpenSsl(ErrorCode code, std::string_view what)
{
    std::string message(what);
    const std::string queue = pki::drainOpenSslErrors();
    if (!queue.empty())
        message += ": " + queue;
    throw Error(code, message);
}

} // namespace certd
