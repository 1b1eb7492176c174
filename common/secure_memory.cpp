#include "secure_memory.hpp"

#include <openssl/crypto.h>

#include <malloc.h>

#include <cstdlib>
#include <cstring>

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

namespace {

thread_local int secureScopes = 0;

void* routedMalloc(std::size_t bytes, const char* /*file*/, int /*line*/)
{
    if (secureScopes > 0 && CRYPTO_secure_malloc_initialized())
        if (void* p = CRYPTO_secure_malloc(bytes, nullptr, 0))
            return p;
    return std::malloc(bytes);
}

void routedFree(void* p, const char* /*file*/, int /*line*/)
{
    if (p == nullptr)
        return;
    if (CRYPTO_secure_allocated(p)) {
        CRYPTO_secure_clear_free(p, CRYPTO_secure_actual_size(p), nullptr, 0);
        return;
    }
    std::free(p);
}

void* routedRealloc(void* p, std::size_t bytes, const char* file, int line)
{
    if (p == nullptr)
        return routedMalloc(bytes, file, line);
    if (bytes == 0) {
        routedFree(p, file, line);
        return nullptr;
    }
    if (!CRYPTO_secure_allocated(p) && secureScopes == 0)
        return std::realloc(p, bytes);
    // A secure block, or one that should become one: a new block, the bytes, the old one freed
    // (wiped: secure_clear_free, or certd's free()).
    const std::size_t have =
        CRYPTO_secure_allocated(p) ? CRYPTO_secure_actual_size(p) : malloc_usable_size(p);
    void* moved = routedMalloc(bytes, file, line);
    if (moved == nullptr)
        return nullptr;
    std::memcpy(moved, p, have < bytes ? have : bytes);
    routedFree(p, file, line);
    return moved;
}

} // namespace

bool routeOpenSslAllocations()
{
    return CRYPTO_set_mem_functions(routedMalloc, routedRealloc, routedFree) == 1;
}

SecureAllocationScope::SecureAllocationScope() noexcept
{
    ++secureScopes;
}

SecureAllocationScope::~SecureAllocationScope()
{
    --secureScopes;
}

} // namespace certd
