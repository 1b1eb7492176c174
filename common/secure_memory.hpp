#pragma once

// Memory for secrets (private keys, passphrases): OpenSSL's secure heap when it has room,
// and every byte wiped before it is given back, so copies do not linger in freed memory.
// OpenSSL stays out of this header; secure_memory.cpp uses it.

#include <cstddef>
#include <cstdint>
#include <new>
#include <string_view>
#include <vector>

namespace certd {

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
// Overwrites `bytes` at `p` with zeros in a way the compiler may not optimise away.
void wipe(void* p, std::size_t bytes) noexcept;

// Installs OpenSSL memory functions (CRYPTO_set_mem_functions) under which every allocation
// OpenSSL makes on a thread inside a SecureAllocationScope comes from the secure heap (when it
// has room): what OpenSSL builds and caches while it parses or uses a key there (the key's
// numbers, RSA's Montgomery contexts, which hold p and q) never lands in ordinary memory.
// Call first thing in main(), before OpenSSL allocates anything; false when that was too late.
bool routeOpenSslAllocations();

// While one lives on a thread, OpenSSL allocates from the secure heap (routeOpenSslAllocations).
class SecureAllocationScope {
public:
    SecureAllocationScope() noexcept;
    ~SecureAllocationScope();
    SecureAllocationScope(const SecureAllocationScope&) = delete;
    SecureAllocationScope& operator=(const SecureAllocationScope&) = delete;
};

template <typename T>
struct CleansingAllocator {
    using value_type = T; // NOLINT(readability-identifier-naming): the Allocator requirements' name
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
    // As std::string's, for OpenSSL's char* passphrase arguments.
    const char* c_str() const noexcept { return data_.data(); } // NOLINT(readability-identifier-naming)
    std::string_view view() const noexcept { return {data_.data(), data_.size() - 1}; }
    std::size_t size() const noexcept { return data_.size() - 1; }
    bool empty() const noexcept { return size() == 0; }

private:
    std::vector<char, CleansingAllocator<char>> data_;
};

} // namespace certd
