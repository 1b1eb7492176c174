#include "key.hpp"

#include "error.hpp"

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/obj_mac.h>

#include <array>
#include <climits>
#include <utility>

namespace certd::pki {
namespace {

constexpr std::array<std::pair<KeyType, std::string_view>, 7> kKeyTypeNames{{
    {KeyType::Rsa2048, "rsa2048"},
    {KeyType::Rsa3072, "rsa3072"},
    {KeyType::Rsa4096, "rsa4096"},
    {KeyType::EcP256, "ec-p256"},
    {KeyType::EcP384, "ec-p384"},
    {KeyType::Ed25519, "ed25519"},
    {KeyType::Ed448, "ed448"},
}};

EvpPkeyPtr generateRsa(unsigned bits)
{
    EvpPkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(bits)));
    if (!key)
        throwOpenSsl(ErrorCode::Internal, "cannot generate an RSA key");
    return key;
}

EvpPkeyPtr generateEc(const char* curve)
{
    EvpPkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", curve));
    if (!key)
        throwOpenSsl(ErrorCode::Internal, "cannot generate an EC key");
    return key;
}

EvpPkeyPtr generateEdDsa(const char* algorithm)
{
    EvpPkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, algorithm));
    if (!key)
        throwOpenSsl(ErrorCode::Internal, std::string("cannot generate an ") + algorithm + " key");
    return key;
}

// The curve's short name ("P-256"), empty when the key is not EC or the
// curve has no NIST name.
std::string ecCurveNistName(EVP_PKEY* key)
{
    char group[80] = {};
    size_t len = 0;
    if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), &len) != 1) {
        ERR_clear_error();
        return {};
    }
    const int nid = OBJ_sn2nid(group) != NID_undef ? OBJ_sn2nid(group) : OBJ_ln2nid(group);
    if (nid == NID_undef)
        return group;
    if (const char* nist = EC_curve_nid2nist(nid))
        return nist;
    return group;
}

} // namespace

std::optional<KeyType> parseKeyType(std::string_view name)
{
    for (const auto& [type, n] : kKeyTypeNames)
        if (n == name)
            return type;
    return std::nullopt;
}

std::string_view keyTypeName(KeyType type)
{
    for (const auto& [t, n] : kKeyTypeNames)
        if (t == type)
            return n;
    return "unknown";
}

std::vector<std::string> keyTypeNameList()
{
    std::vector<std::string> out;
    out.reserve(kKeyTypeNames.size());
    for (const auto& [type, n] : kKeyTypeNames)
        out.emplace_back(n);
    return out;
}

std::string keyTypeNames()
{
    std::string out;
    for (const auto& [type, n] : kKeyTypeNames)
        out.append(out.empty() ? "" : ", ").append(n);
    return out;
}

EvpPkeyPtr generateKey(KeyType type)
{
    switch (type) {
    case KeyType::Rsa2048:
        return generateRsa(2048);
    case KeyType::Rsa3072:
        return generateRsa(3072);
    case KeyType::Rsa4096:
        return generateRsa(4096);
    case KeyType::EcP256:
        return generateEc("P-256");
    case KeyType::EcP384:
        return generateEc("P-384");
    case KeyType::Ed25519:
        return generateEdDsa("ED25519");
    case KeyType::Ed448:
        return generateEdDsa("ED448");
    }
    throw Error(ErrorCode::InvalidArgument, "key_type: unknown key type");
}

Bytes subjectPublicKeyInfoDer(EVP_PKEY* key)
{
    if (key == nullptr)
        throw Error(ErrorCode::Internal, "no key");
    return i2dBytes(key, i2d_PUBKEY, "the public key");
}

std::string spkiSha256Hex(EVP_PKEY* key)
{
    return toHex(sha256(subjectPublicKeyInfoDer(key)));
}

std::string keyId(EVP_PKEY* key)
{
    return spkiSha256Hex(key).substr(0, kIdLength);
}

std::string keyAlgorithm(EVP_PKEY* key)
{
    switch (EVP_PKEY_get_base_id(key)) {
    case EVP_PKEY_RSA:
    case EVP_PKEY_RSA_PSS:
        return "RSA";
    case EVP_PKEY_EC:
        return "EC";
    case EVP_PKEY_ED25519:
        return "Ed25519";
    case EVP_PKEY_ED448:
        return "Ed448";
    case EVP_PKEY_DSA:
        return "DSA";
    default:
        break;
    }
    if (const char* name = EVP_PKEY_get0_type_name(key))
        return name;
    return "unknown";
}

int keyBits(EVP_PKEY* key)
{
    return EVP_PKEY_get_bits(key);
}

std::string publicKeyDescription(EVP_PKEY* key)
{
    const std::string bits = std::to_string(keyBits(key));
    const std::string algorithm = keyAlgorithm(key);
    if (algorithm == "EC") {
        const std::string curve = ecCurveNistName(key);
        return "ECDSA " + (curve.empty() ? std::string() : curve + " ") + "(" + bits + " Bits)";
    }
    return algorithm + " (" + bits + " Bits)";
}

bool isEdDsa(EVP_PKEY* key)
{
    const int id = EVP_PKEY_get_base_id(key);
    return id == EVP_PKEY_ED25519 || id == EVP_PKEY_ED448;
}

const EVP_MD* signingDigest(EVP_PKEY* key)
{
    return isEdDsa(key) ? nullptr : EVP_sha256();
}

SecureBytes privateKeyToPkcs8Der(EVP_PKEY* key)
{
    // Encode straight into a wiped buffer: i2d into secure memory, never a
    // plain heap buffer or a string.
    Pkcs8InfoPtr info(EVP_PKEY2PKCS8(key));
    if (!info)
        throwOpenSsl(ErrorCode::Internal, "cannot encode the private key as PKCS#8");
    return i2dBytes<SecureBytes>(info.get(), i2d_PKCS8_PRIV_KEY_INFO, "the private key as PKCS#8");
}

EvpPkeyPtr privateKeyFromPkcs8Der(ByteView der)
{
    if (der.empty())
        throw Error(ErrorCode::Malformed, "private key data is empty");
    if (der.size() > static_cast<std::size_t>(LONG_MAX))
        throw Error(ErrorCode::Malformed, "private key data is too large");
    const unsigned char* p = der.data();
    Pkcs8InfoPtr info(d2i_PKCS8_PRIV_KEY_INFO(nullptr, &p, static_cast<long>(der.size())));
    if (!info) {
        ERR_clear_error(); // the queue may echo parse positions; keep messages free of key data
        throw Error(ErrorCode::Malformed, "data is not an unencrypted PKCS#8 private key");
    }
    if (p != der.data() + der.size())
        throw Error(ErrorCode::Malformed, "unencrypted PKCS#8 private key is followed by extra data");
    EvpPkeyPtr key(EVP_PKCS82PKEY(info.get()));
    if (!key) {
        ERR_clear_error();
        throw Error(ErrorCode::Malformed, "PKCS#8 data does not hold a usable private key");
    }
    return key;
}

bool sameKey(EVP_PKEY* a, EVP_PKEY* b)
{
    if (a == nullptr || b == nullptr)
        return false;
    const int r = EVP_PKEY_eq(a, b);
    ERR_clear_error(); // -1/-2 (different types) leave entries behind
    return r == 1;
}

} // namespace certd::pki
