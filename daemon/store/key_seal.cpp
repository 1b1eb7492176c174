#include "store/key_seal.hpp"

#include "error.hpp"
#include "fs.hpp"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>

namespace certd {
namespace {

constexpr char kMagic[8] = {'C', 'E', 'R', 'T', 'D', 'K', 'E', 'Y'};
constexpr std::uint8_t kVersion = 1;
constexpr std::size_t kNonce = 12;
constexpr std::size_t kTag = 16;
constexpr std::size_t kHeader = sizeof kMagic + 1 + kNonce;
constexpr std::size_t kMinCredential = 32;

using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

std::string aad(const std::string& id)
{
    return "certd key " + id;
}

[[noreturn]] void internal(const std::string& message)
{
    throw Error(ErrorCode::Internal, message);
}

} // namespace

KeySeal::KeySeal(ByteView credential) : kek_(32)
{
    if (credential.size() < kMinCredential)
        throw Error(ErrorCode::InvalidArgument,
                    std::string("the credential ") + kKeyEncryptionCredential + " holds " +
                        std::to_string(credential.size()) + " bytes; it needs at least " +
                        std::to_string(kMinCredential) + " random ones (head -c 32 /dev/urandom)");
    EVP_KDF* kdf = EVP_KDF_fetch(nullptr, "HKDF", nullptr);
    EVP_KDF_CTX* ctx = kdf ? EVP_KDF_CTX_new(kdf) : nullptr;
    EVP_KDF_free(kdf);
    char digest[] = "SHA256";
    char info[] = "certd key files v1";
    const OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<std::uint8_t*>(credential.data()),
                                          credential.size()),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, std::strlen(info)),
        OSSL_PARAM_construct_end(),
    };
    const bool ok = ctx != nullptr && EVP_KDF_derive(ctx, kek_.data(), kek_.size(), params) == 1;
    EVP_KDF_CTX_free(ctx);
    if (!ok)
        internal("cannot derive the key-encryption key (HKDF)");
}

bool KeySeal::isSealed(ByteView data)
{
    return data.size() >= sizeof kMagic && std::memcmp(data.data(), kMagic, sizeof kMagic) == 0;
}

SecureBytes KeySeal::seal(const std::string& id, ByteView pkcs8) const
{
    SecureBytes out(kHeader + pkcs8.size() + kTag);
    std::memcpy(out.data(), kMagic, sizeof kMagic);
    out[sizeof kMagic] = kVersion;
    std::uint8_t* nonce = out.data() + sizeof kMagic + 1;
    if (RAND_bytes(nonce, kNonce) != 1)
        internal("no random nonce for a sealed key");
    const std::string extra = aad(id);
    CipherCtx ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
    int n = 0;
    int final = 0;
    const bool ok =
        ctx && EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, kek_.data(), nonce) == 1 &&
        EVP_EncryptUpdate(ctx.get(), nullptr, &n, reinterpret_cast<const unsigned char*>(extra.data()),
                          static_cast<int>(extra.size())) == 1 &&
        EVP_EncryptUpdate(ctx.get(), out.data() + kHeader, &n, pkcs8.data(),
                          static_cast<int>(pkcs8.size())) == 1 &&
        EVP_EncryptFinal_ex(ctx.get(), out.data() + kHeader + n, &final) == 1 &&
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTag, out.data() + kHeader + pkcs8.size()) == 1;
    if (!ok)
        internal("cannot seal key " + id);
    return out;
}

SecureBytes KeySeal::open(const std::string& id, ByteView sealed) const
{
    if (!isSealed(sealed) || sealed.size() < kHeader + kTag || sealed[sizeof kMagic] != kVersion)
        internal("keys/" + id + ".key is not a sealed key file of a version this certd reads");
    const std::size_t length = sealed.size() - kHeader - kTag;
    SecureBytes out(length);
    const std::string extra = aad(id);
    CipherCtx ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
    int n = 0;
    int final = 0;
    const bool ok =
        ctx &&
        EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, kek_.data(),
                           sealed.data() + sizeof kMagic + 1) == 1 &&
        EVP_DecryptUpdate(ctx.get(), nullptr, &n, reinterpret_cast<const unsigned char*>(extra.data()),
                          static_cast<int>(extra.size())) == 1 &&
        EVP_DecryptUpdate(ctx.get(), out.data(), &n, sealed.data() + kHeader, static_cast<int>(length)) ==
            1 &&
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTag,
                            const_cast<std::uint8_t*>(sealed.data() + kHeader + length)) == 1 &&
        EVP_DecryptFinal_ex(ctx.get(), out.data() + n, &final) == 1;
    if (!ok)
        internal("the key-encryption key does not open keys/" + id + ".key: the credential " +
                 kKeyEncryptionCredential +
                 " is not the one the store was sealed with, or the file was damaged or moved");
    return out;
}

std::optional<SecureBytes> loadKeyEncryptionCredential()
{
    const char* directory = std::getenv("CREDENTIALS_DIRECTORY");
    if (directory == nullptr || *directory == '\0')
        return std::nullopt;
    const std::filesystem::path path = std::filesystem::path(directory) / kKeyEncryptionCredential;
    std::error_code ec;
    if (!std::filesystem::exists(path, ec))
        return std::nullopt;
    return readSecretFile(path);
}

} // namespace certd
