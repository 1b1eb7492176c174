#include "cert_factory.hpp"
#include "error.hpp"
#include "pki/key.hpp"

#include <doctest/doctest.h>

#include <openssl/core_names.h>

#include <cctype>
#include <string>

using namespace certd;
using namespace certd::pki;
using certd::test::testKey;

namespace {

bool isLowerHex(const std::string& s)
{
    for (const char c : s)
        if (!std::isxdigit(static_cast<unsigned char>(c)) || std::isupper(static_cast<unsigned char>(c)))
            return false;
    return true;
}

std::string groupName(EVP_PKEY* key)
{
    char group[80] = {};
    size_t len = 0;
    if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), &len) != 1)
        return {};
    return group;
}

} // namespace

TEST_CASE("key type names round trip and unknown names are rejected")
{
    for (const auto type : {KeyType::Rsa2048, KeyType::Rsa3072, KeyType::Rsa4096, KeyType::EcP256,
                            KeyType::EcP384, KeyType::Ed25519, KeyType::Ed448})
        CHECK(parseKeyType(keyTypeName(type)) == type);
    CHECK(keyTypeName(KeyType::Rsa2048) == "rsa2048");
    CHECK(keyTypeName(KeyType::EcP384) == "ec-p384");
    CHECK(keyTypeName(KeyType::Ed25519) == "ed25519");
    CHECK(keyTypeName(KeyType::Ed448) == "ed448");
    CHECK(keyTypeNames() == "rsa2048, rsa3072, rsa4096, ec-p256, ec-p384, ed25519, ed448");
    CHECK_FALSE(parseKeyType("rsa1024").has_value());
    CHECK_FALSE(parseKeyType("RSA2048").has_value());
    CHECK_FALSE(parseKeyType("Ed25519").has_value());
    CHECK_FALSE(parseKeyType("x25519").has_value());
    CHECK_FALSE(parseKeyType("").has_value());
}

TEST_CASE("every key type generates with the right algorithm, size and description")
{
    struct Expect {
        KeyType type;
        int bits;
        const char* algorithm;
        const char* description;
        int baseId;
    };
    const Expect cases[] = {
        {KeyType::Rsa2048, 2048, "RSA", "RSA (2048 Bits)", EVP_PKEY_RSA},
        {KeyType::Rsa3072, 3072, "RSA", "RSA (3072 Bits)", EVP_PKEY_RSA},
        {KeyType::Rsa4096, 4096, "RSA", "RSA (4096 Bits)", EVP_PKEY_RSA},
        {KeyType::EcP256, 256, "EC", "ECDSA P-256 (256 Bits)", EVP_PKEY_EC},
        {KeyType::EcP384, 384, "EC", "ECDSA P-384 (384 Bits)", EVP_PKEY_EC},
        {KeyType::Ed25519, 256, "Ed25519", "Ed25519 (256 Bits)", EVP_PKEY_ED25519},
        {KeyType::Ed448, 456, "Ed448", "Ed448 (456 Bits)", EVP_PKEY_ED448},
    };
    for (const auto& c : cases) {
        CAPTURE(c.description);
        // The memoised test keys come from generateKey() too, so RSA 4096 is paid once.
        const auto key = testKey(c.type, 900);
        REQUIRE(key);
        CHECK(keyAlgorithm(key.get()) == c.algorithm);
        CHECK(keyBits(key.get()) == c.bits);
        CHECK(publicKeyDescription(key.get()) == c.description);
        CHECK(EVP_PKEY_get_base_id(key.get()) == c.baseId);
    }
    CHECK(groupName(testKey(KeyType::EcP256, 900).get()) == "prime256v1");
    CHECK(groupName(testKey(KeyType::EcP384, 900).get()) == "secp384r1");
}

TEST_CASE("EdDSA keys say 256 and 456 bits, the size of the key, and sign without a digest")
{
    const auto ed25519 = testKey(KeyType::Ed25519);
    const auto ed448 = testKey(KeyType::Ed448);
    CHECK(keyBits(ed25519.get()) == 256);
    CHECK(keyBits(ed448.get()) == 456);
    CHECK(isEdDsa(ed25519.get()));
    CHECK(isEdDsa(ed448.get()));
    CHECK(signingDigest(ed25519.get()) == nullptr);
    CHECK(signingDigest(ed448.get()) == nullptr);
    for (const auto type : {KeyType::Rsa2048, KeyType::EcP256}) {
        const auto key = testKey(type);
        CHECK_FALSE(isEdDsa(key.get()));
        CHECK(EVP_MD_get_type(signingDigest(key.get())) == NID_sha256);
    }
    // Raw 32- and 57-byte public keys: what RFC 8032 says the key is.
    std::size_t length = 0;
    REQUIRE(EVP_PKEY_get_raw_public_key(ed25519.get(), nullptr, &length) == 1);
    CHECK(length * 8 == 256);
    REQUIRE(EVP_PKEY_get_raw_public_key(ed448.get(), nullptr, &length) == 1);
    CHECK(length * 8 == 456);
}

TEST_CASE("generateKey gives a fresh key each call")
{
    const auto a = generateKey(KeyType::EcP256);
    const auto b = generateKey(KeyType::EcP256);
    CHECK_FALSE(sameKey(a.get(), b.get()));
    CHECK(keyId(a.get()) != keyId(b.get()));
    const auto c = generateKey(KeyType::Ed25519);
    const auto d = generateKey(KeyType::Ed25519);
    CHECK_FALSE(sameKey(c.get(), d.get()));
    CHECK(keyId(c.get()) != keyId(d.get()));
}

TEST_CASE("key id is the first 32 hex digits of the SHA-256 of the SubjectPublicKeyInfo")
{
    const auto key = testKey(KeyType::EcP256);
    const std::string full = spkiSha256Hex(key.get());
    CHECK(full.size() == 64);
    CHECK(isLowerHex(full));
    CHECK(keyId(key.get()) == full.substr(0, kIdLength));
    CHECK(keyId(key.get()).size() == 32);
    CHECK(full == toHex(sha256(subjectPublicKeyInfoDer(key.get()))));

    // The SPKI DER is what `openssl pkey -pubout -outform DER` prints.
    const Bytes spki = subjectPublicKeyInfoDer(key.get());
    const unsigned char* p = spki.data();
    EvpPkeyPtr parsed(d2i_PUBKEY(nullptr, &p, static_cast<long>(spki.size())));
    REQUIRE(parsed);
    CHECK(EVP_PKEY_eq(parsed.get(), key.get()) == 1);
    // A public-only copy has the same id: that is how certificates find keys.
    CHECK(keyId(parsed.get()) == keyId(key.get()));
    // Stable: asking again gives the same answer.
    CHECK(keyId(key.get()) == keyId(key.get()));
}

TEST_CASE("PKCS#8 DER round trip keeps the private key")
{
    for (const auto type :
         {KeyType::Rsa2048, KeyType::EcP256, KeyType::EcP384, KeyType::Ed25519, KeyType::Ed448}) {
        CAPTURE(keyTypeName(type));
        const auto key = testKey(type);
        const SecureBytes der = privateKeyToPkcs8Der(key.get());
        REQUIRE_FALSE(der.empty());
        CHECK(der[0] == 0x30); // a DER SEQUENCE
        const auto back = privateKeyFromPkcs8Der(der);
        REQUIRE(back);
        CHECK(sameKey(back.get(), key.get()));
        CHECK(keyId(back.get()) == keyId(key.get()));
        // The private half survives too: re-encoding gives the same bytes.
        CHECK(privateKeyToPkcs8Der(back.get()) == der);
    }
}

TEST_CASE("PKCS#8 parser rejects garbage, truncation, trailing data and public keys as Malformed")
{
    const auto key = testKey(KeyType::EcP256);
    const SecureBytes der = privateKeyToPkcs8Der(key.get());

    const auto expectMalformed = [](ByteView data) {
        try {
            (void)privateKeyFromPkcs8Der(data);
            FAIL("accepted bad PKCS#8");
        } catch (const Error& e) {
            CHECK(e.code() == ErrorCode::Malformed);
        }
    };
    expectMalformed({});
    expectMalformed(asBytes("not a key"));
    expectMalformed(ByteView(der.data(), der.size() - 5));
    Bytes trailing(der.begin(), der.end());
    trailing.push_back(0);
    expectMalformed(trailing);
    expectMalformed(subjectPublicKeyInfoDer(key.get()));
}

TEST_CASE("sameKey compares public keys across types and copies")
{
    const auto ec = testKey(KeyType::EcP256, 0);
    const auto ec2 = testKey(KeyType::EcP256, 1);
    const auto rsa = testKey(KeyType::Rsa2048, 0);
    CHECK(sameKey(ec.get(), ec.get()));
    CHECK_FALSE(sameKey(ec.get(), ec2.get()));
    CHECK_FALSE(sameKey(ec.get(), rsa.get()));
    CHECK_FALSE(sameKey(ec.get(), nullptr));
}

TEST_CASE("test keys are memoised per type and slot")
{
    const auto a = testKey(KeyType::EcP256, 7);
    const auto b = testKey(KeyType::EcP256, 7);
    const auto c = testKey(KeyType::EcP256, 8);
    CHECK(a.get() == b.get());
    CHECK_FALSE(sameKey(a.get(), c.get()));
    const auto weak = test::testRsaKey(1024);
    CHECK(keyBits(weak.get()) == 1024);
    CHECK(publicKeyDescription(weak.get()) == "RSA (1024 Bits)");
}
