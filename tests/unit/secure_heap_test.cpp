// OpenSSL's secure heap as certd and certd-tls set it up (initSecureHeap): SecureBytes
// live there while it has room and fall back to ordinary memory when it is full, every byte
// goes back to the heap it came from, and OpenSSL puts private-key components there too.
// Its own binary: the heap is per process, and the other suites must not share this one.
#include "pki/key.hpp"
#include "pki/ossl.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <vector>

using namespace certd;
using namespace certd::pki;

namespace {

constexpr std::size_t kHeapBytes = 64U << 10;

} // namespace

TEST_CASE("the secure heap holds SecureBytes and private keys, and overflows into ordinary memory")
{
    const SecureHeap heap = initSecureHeap(kHeapBytes);
    REQUIRE(heap != SecureHeap::Unavailable);
    CHECK(initSecureHeap(1U << 20) == heap); // set up once; later calls report the first result
    generateKey(KeyType::EcP256);            // the DRBG's first use keeps some secure memory for good
    const std::size_t baseline = CRYPTO_secure_used();

    SUBCASE("SecureBytes: secure while there is room, ordinary memory after, contents intact")
    {
        std::vector<SecureBytes> held;
        std::size_t secure = 0;
        bool overflowed = false;
        for (std::size_t i = 0; i < 64 && !overflowed; ++i) { // 64 x 4 KiB: four times the heap
            SecureBytes b(4096, static_cast<std::uint8_t>(i));
            if (CRYPTO_secure_allocated(b.data()))
                ++secure;
            else
                overflowed = true;
            held.push_back(std::move(b));
        }
        CHECK(secure >= 8);
        CHECK(overflowed);
        for (std::size_t i = 0; i < held.size(); ++i)
            CHECK(std::all_of(held[i].begin(), held[i].end(), [&](std::uint8_t v) { return v == i; }));
        held.clear();
        CHECK(CRYPTO_secure_used() == baseline);
    }

    SUBCASE("a generated key's private components live in the secure heap while it exists")
    {
        {
            EvpPkeyPtr key = generateKey(KeyType::EcP256);
            CHECK(CRYPTO_secure_used() > baseline);
            const SecureBytes der = privateKeyToPkcs8Der(key.get());
            CHECK(CRYPTO_secure_allocated(der.data()));
        }
        CHECK(CRYPTO_secure_used() == baseline);
    }
}
