#pragma once

// RAII for OpenSSL objects (one deleter template, as Envoy's bssl::UniquePtr), OpenSSL
// errors as certd::Error, and memory BIOs over certd's byte buffers.

#include "bytes.hpp"
#include "error.hpp"
#include "secure_memory.hpp"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pkcs12.h>
#include <openssl/pkcs7.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>
#include <string_view>

namespace certd::pki {

template <auto FreeFn>
struct OsslDeleter {
    template <typename T>
    void operator()(T* p) const noexcept
    {
        FreeFn(p);
    }
};

template <typename T, auto FreeFn>
using OsslPtr = std::unique_ptr<T, OsslDeleter<FreeFn>>;

inline void freeX509Stack(STACK_OF(X509) * s) noexcept
{
    sk_X509_pop_free(s, X509_free);
}
inline void freeGeneralNames(GENERAL_NAMES* g) noexcept
{
    GENERAL_NAMES_free(g);
}
inline void freeExtensionStack(STACK_OF(X509_EXTENSION) * s) noexcept
{
    sk_X509_EXTENSION_pop_free(s, X509_EXTENSION_free);
}
inline void freeOpenSslString(char* s) noexcept
{
    OPENSSL_free(s);
}

using X509Ptr = OsslPtr<X509, X509_free>;
using X509ReqPtr = OsslPtr<X509_REQ, X509_REQ_free>;
using X509NamePtr = OsslPtr<X509_NAME, X509_NAME_free>;
using X509ExtensionPtr = OsslPtr<X509_EXTENSION, X509_EXTENSION_free>;
using X509StackPtr = OsslPtr<STACK_OF(X509), freeX509Stack>;
using ExtensionStackPtr = OsslPtr<STACK_OF(X509_EXTENSION), freeExtensionStack>;
using GeneralNamesPtr = OsslPtr<GENERAL_NAMES, freeGeneralNames>;
using X509StorePtr = OsslPtr<X509_STORE, X509_STORE_free>;
using X509StoreCtxPtr = OsslPtr<X509_STORE_CTX, X509_STORE_CTX_free>;
using EvpPkeyPtr = OsslPtr<EVP_PKEY, EVP_PKEY_free>;
using EvpPkeyCtxPtr = OsslPtr<EVP_PKEY_CTX, EVP_PKEY_CTX_free>;
using EvpMdCtxPtr = OsslPtr<EVP_MD_CTX, EVP_MD_CTX_free>;
using BioPtr = OsslPtr<BIO, BIO_free_all>;
using BignumPtr = OsslPtr<BIGNUM, BN_free>;
using Asn1IntegerPtr = OsslPtr<ASN1_INTEGER, ASN1_INTEGER_free>;
using Asn1OctetStringPtr = OsslPtr<ASN1_OCTET_STRING, ASN1_OCTET_STRING_free>;
using Pkcs7Ptr = OsslPtr<PKCS7, PKCS7_free>;
using Pkcs12Ptr = OsslPtr<PKCS12, PKCS12_free>;
using Pkcs8InfoPtr = OsslPtr<PKCS8_PRIV_KEY_INFO, PKCS8_PRIV_KEY_INFO_free>;
using X509SigPtr = OsslPtr<X509_SIG, X509_SIG_free>;
using SslCtxPtr = OsslPtr<SSL_CTX, SSL_CTX_free>;
using SslPtr = OsslPtr<SSL, SSL_free>;
using OpenSslStringPtr = OsslPtr<char, freeOpenSslString>;

// The OpenSSL error queue of this thread as one line ("; "-separated), emptied.
std::string drainOpenSslErrors();

// A read-only memory BIO over `data` (which must outlive it).
BioPtr memoryBio(ByteView data);
// Everything written to a memory BIO.
Bytes bioBytes(BIO* bio);
SecureBytes bioSecureBytes(BIO* bio);

// SHA-256 of data.
Bytes sha256(ByteView data);

} // namespace certd::pki

namespace certd {
// Throws Error(code, what + ": " + the drained OpenSSL error queue).
[[noreturn]] void throwOpenSsl(ErrorCode code, std::string_view what);
} // namespace certd

namespace certd::pki {

// DER of an OpenSSL object through its two-call i2d function (length, then encoding), into
// `Out` (Bytes, or SecureBytes for key material: never a plain buffer). Error(Internal)
// saying "cannot encode <what>" on failure.
template <typename Out = Bytes, typename T, typename I2d>
Out i2dBytes(const T* object, I2d i2d, std::string_view what)
{
    const int len = i2d(object, nullptr);
    if (len <= 0)
        throwOpenSsl(ErrorCode::Internal, "cannot encode " + std::string(what));
    Out out(static_cast<std::size_t>(len));
    unsigned char* p = out.data();
    if (i2d(object, &p) != len)
        throwOpenSsl(ErrorCode::Internal, "cannot encode " + std::string(what));
    return out;
}

// PEM of an OpenSSL object through its PEM_write_bio_* function.
template <typename T, typename Write>
std::string pemText(T* object, Write write, std::string_view what)
{
    BioPtr bio(BIO_new(BIO_s_mem()));
    if (!bio || write(bio.get(), object) != 1)
        throwOpenSsl(ErrorCode::Internal, "cannot encode " + std::string(what) + " as PEM");
    const Bytes pem = bioBytes(bio.get());
    return std::string(pem.begin(), pem.end());
}

} // namespace certd::pki
