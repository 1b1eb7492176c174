#pragma once

// RAII for OpenSSL objects (one deleter template, as Envoy's bssl::UniquePtr),
// byte buffers, and buffers for secrets that are wiped when freed.

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pkcs12.h>
#include <openssl/pkcs7.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <span>
#include <string>
#include <string_view>
#include <vector>

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

// OpenSSL's secure heap: an mmap'ed arena, mlock'ed (never swapped), MADV_DONTDUMP (never
// in a core dump) and fenced by guard pages. Once it is set up, OpenSSL itself puts private
// key components there, and SecureBytes/Secret below use it too.
enum class SecureHeap { Locked, NotLocked, Unavailable };
// Sets the heap up once per process (later calls report the first result). NotLocked: the
// arena exists but RLIMIT_MEMLOCK was too low to lock it.
SecureHeap initSecureHeap(std::size_t bytes);
// From the secure heap, or from the ordinary heap when it is full or was never set up.
void* secureAllocate(std::size_t bytes);
// Wipes, then gives back to whichever heap `p` came from.
void secureFree(void* p, std::size_t bytes) noexcept;

// An allocator for key material and passphrases: the secure heap when it has room, and
// every byte wiped before it is given back, so copies do not linger in freed memory.
template <typename T>
struct CleansingAllocator {
    using value_type = T;
    CleansingAllocator() noexcept = default;
    template <typename U>
    CleansingAllocator(const CleansingAllocator<U>& /*other*/) noexcept
    {
    }
    T* allocate(std::size_t n)
    {
        if (n > std::size_t(-1) / sizeof(T))
            throw std::bad_array_new_length();
        return static_cast<T*>(secureAllocate(n * sizeof(T)));
    }
    void deallocate(T* p, std::size_t n) noexcept { secureFree(p, n * sizeof(T)); }
    template <typename U>
    bool operator==(const CleansingAllocator<U>& /*other*/) const noexcept
    {
        return true;
    }
};

using Bytes = std::vector<std::uint8_t>;
using ByteView = std::span<const std::uint8_t>;
// Bytes that may hold key material (a vector never stores inline, so every
// byte goes through the allocator and is wiped).
using SecureBytes = std::vector<std::uint8_t, CleansingAllocator<std::uint8_t>>;

// A NUL-terminated secret string (a passphrase), wiped when destroyed.
class Secret {
public:
    Secret() { data_.push_back('\0'); }
    explicit Secret(std::string_view s)
    {
        data_.assign(s.begin(), s.end());
        data_.push_back('\0');
    }
    const char* c_str() const noexcept { return data_.data(); }
    std::string_view view() const noexcept { return {data_.data(), data_.size() - 1}; }
    std::size_t size() const noexcept { return data_.size() - 1; }
    bool empty() const noexcept { return size() == 0; }

private:
    std::vector<char, CleansingAllocator<char>> data_;
};

// The OpenSSL error queue of this thread as one line ("; "-separated), emptied.
std::string drainOpenSslErrors();

// A read-only memory BIO over `data` (which must outlive it).
BioPtr memoryBio(ByteView data);
// Everything written to a memory BIO.
Bytes bioBytes(BIO* bio);
SecureBytes bioSecureBytes(BIO* bio);

// Lower-case hex.
std::string toHex(ByteView data);
// SHA-256 of data.
Bytes sha256(ByteView data);

inline ByteView asBytes(std::string_view s)
{
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

} // namespace certd::pki
