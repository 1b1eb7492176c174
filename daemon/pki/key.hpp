#pragma once

#include "ossl.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace certd::pki {

enum class KeyType { Rsa2048, Rsa3072, Rsa4096, EcP256, EcP384, Ed25519, Ed448 };

// "rsa2048", "rsa3072", "rsa4096", "ec-p256", "ec-p384", "ed25519", "ed448"; nullopt otherwise.
std::optional<KeyType> parseKeyType(std::string_view name);
std::string_view keyTypeName(KeyType type);
// Every key type name, in order: what key_type accepts (the Manager's KeyTypes property).
std::vector<std::string> keyTypeNameList();
// The same for messages: "rsa2048, rsa3072, ..., ed448".
std::string keyTypeNames();

EvpPkeyPtr generateKey(KeyType type);

// DER SubjectPublicKeyInfo of a (public or private) key.
Bytes subjectPublicKeyInfoDer(EVP_PKEY* key);
// Lower-case hex SHA-256 of the SubjectPublicKeyInfo: what links keys, certs and requests.
std::string spkiSha256Hex(EVP_PKEY* key);
// A key object's id: the first kIdLength hex digits of spkiSha256Hex().
std::string keyId(EVP_PKEY* key);
inline constexpr std::size_t kIdLength = 32;

// "RSA", "EC", "Ed25519" or "Ed448" (others: OpenSSL's name, refused by import).
std::string keyAlgorithm(EVP_PKEY* key);
// The key size in bits; for EdDSA the size of the encoded key (RFC 8032): 256 for
// Ed25519, 456 for Ed448, as OpenSSL 3 and GnuTLS count them.
int keyBits(EVP_PKEY* key);
// "RSA (2048 Bits)", "ECDSA P-256 (256 Bits)", "Ed25519 (256 Bits)": what the appliance UI shows.
std::string publicKeyDescription(EVP_PKEY* key);

// Ed25519 or Ed448: signs without a separate digest and is served only to TLS clients
// that offer it.
bool isEdDsa(EVP_PKEY* key);
// The digest certd signs certificates and requests with for this key: SHA-256, or null
// for EdDSA, whose hash is part of the algorithm (RFC 8410: X509_sign takes no digest).
const EVP_MD* signingDigest(EVP_PKEY* key);

// Unencrypted PKCS#8 DER, the store's on-disk form.
SecureBytes privateKeyToPkcs8Der(EVP_PKEY* key);
// Throws Error(Malformed) if the bytes are not an unencrypted PKCS#8 private key.
EvpPkeyPtr privateKeyFromPkcs8Der(ByteView der);

// True when both carry the same public key.
bool sameKey(EVP_PKEY* a, EVP_PKEY* b);

} // namespace certd::pki
