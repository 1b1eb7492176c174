#pragma once

#include "ossl.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace certd::pki {

enum class KeyType { Rsa2048, Rsa3072, Rsa4096, EcP256, EcP384 };

// "rsa2048", "rsa3072", "rsa4096", "ec-p256", "ec-p384"; nullopt otherwise.
std::optional<KeyType> parseKeyType(std::string_view name);
std::string_view keyTypeName(KeyType type);

EvpPkeyPtr generateKey(KeyType type);

// DER SubjectPublicKeyInfo of a (public or private) key.
Bytes subjectPublicKeyInfoDer(EVP_PKEY* key);
// Lower-case hex SHA-256 of the SubjectPublicKeyInfo: what links keys, certs and requests.
std::string spkiSha256Hex(EVP_PKEY* key);
// A key object's id: the first kIdLength hex digits of spkiSha256Hex().
std::string keyId(EVP_PKEY* key);
inline constexpr std::size_t kIdLength = 32;

// "RSA" or "EC".
std::string keyAlgorithm(EVP_PKEY* key);
int keyBits(EVP_PKEY* key);
// "RSA (2048 Bits)", "ECDSA P-256 (256 Bits)": what the appliance UI shows.
std::string publicKeyDescription(EVP_PKEY* key);

// Unencrypted PKCS#8 DER, the store's on-disk form.
SecureBytes privateKeyToPkcs8Der(EVP_PKEY* key);
// Throws Error(Malformed) if the bytes are not an unencrypted PKCS#8 private key.
EvpPkeyPtr privateKeyFromPkcs8Der(ByteView der);

// True when both carry the same public key.
bool sameKey(EVP_PKEY* a, EVP_PKEY* b);

} // namespace certd::pki
