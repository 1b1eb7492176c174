// certd wipes every block of heap memory it gives back (DESIGN §4, issue 13): key bytes pass
// through buffers certd does not own (sd-bus message bodies of an Import or an export's reply,
// sdbus-c++'s argument vectors, OpenSSL's encoder and decoder temporaries, std::string
// copies), and a freed block keeps its bytes until the allocator reuses it. So this file
// interposes free() and realloc() for the whole process (ELF symbol interposition: the
// executable's definitions win over libc's, for every library): each block is wiped
// (malloc_usable_size bytes) before glibc gets it back, and realloc never leaves an unwiped
// old block behind. Blocks glibc mapped on their own (above M_MMAP_THRESHOLD) go back to the
// kernel, which zeroes pages before anyone else sees them: not wiped here.
//
// Only in the certd executable, and not under AddressSanitizer, whose runtime owns malloc.
// The cost is one memset of each freed block: measured in docs/performance.md, against
// CERTD_WIPE_ON_FREE=0 (the baseline: nothing wiped; not for production).

#if !defined(__SANITIZE_ADDRESS__)

#include <malloc.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

// glibc's own allocator entry points, which these wrap (their names are glibc's).
// NOLINTBEGIN(readability-identifier-naming,bugprone-reserved-identifier)
extern "C" {
void* __libc_malloc(std::size_t size);
void __libc_free(void* p);
void* __libc_realloc(void* p, std::size_t size);
}
// NOLINTEND(readability-identifier-naming,bugprone-reserved-identifier)

namespace {

bool wipeEnabled = true;

// NOLINTNEXTLINE(cert-err58-cpp): runs before main, reads one variable
__attribute__((constructor)) void readSwitch()
{
    const char* value = std::getenv("CERTD_WIPE_ON_FREE");
    wipeEnabled = value == nullptr || std::strcmp(value, "0") != 0;
}

// glibc's chunk header: the size word before the block, whose bit 1 marks an mmap'ed chunk.
bool mappedChunk(const void* p)
{
    std::size_t header;
    std::memcpy(&header, static_cast<const char*>(p) - sizeof header, sizeof header);
    return (header & 2U) != 0;
}

void wipeBlock(void* p)
{
    if (p == nullptr || !wipeEnabled || mappedChunk(p))
        return;
    // explicit_bzero: a store the compiler may not drop although the block dies next.
    explicit_bzero(p, malloc_usable_size(p));
}

} // namespace

extern "C" {

void free(void* p)
{
    wipeBlock(p);
    __libc_free(p);
}

void* realloc(void* p, std::size_t size)
{
    if (p == nullptr)
        return __libc_malloc(size);
    if (size == 0) {
        free(p);
        return nullptr;
    }
    const std::size_t have = malloc_usable_size(p);
    if (size <= have)
        return p; // fits: nothing moves, nothing is left behind
    if (mappedChunk(p))
        return __libc_realloc(p, size); // mremap, or a copy and munmap: nothing stays in the heap
    void* moved = __libc_malloc(size);
    if (moved == nullptr)
        return nullptr;
    std::memcpy(moved, p, have);
    free(p);
    return moved;
}

void* reallocarray(void* p, std::size_t count, std::size_t size)
{
    std::size_t total;
    if (__builtin_mul_overflow(count, size, &total)) {
        errno = ENOMEM;
        return nullptr;
    }
    return realloc(p, total);
}

} // extern "C"

#endif
