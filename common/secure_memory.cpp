#include "secure_memory.hpp"

#include <openssl/crypto.h>

namespace certd {

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

void wipe(void* p, std::size_t bytes) noexcept
{
    OPENSSL_cleanse(p, bytes);
}

} // namespace certd
