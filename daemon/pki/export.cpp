#include "export.hpp"

#include "error.hpp"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include <array>
#include <climits>
#include <utility>

// Rules that the header leaves open, decided here:
// - Nothing to export (no certificate, no key) is InvalidArgument naming
//   include_certificate.
// - pkcs8 ignores the certificates: include_certificate defaults to true, so
//   "format=pkcs8, include_private_key=true" must just work.
// - der and pkcs7 refuse a key (they cannot hold one) naming
//   include_private_key; pkcs8 without a key names include_private_key too.
// - pkcs12 may hold certificates without a key (a trust bundle) or a key
//   without a certificate (what `openssl pkcs12 -export -nocerts` writes).
//   When it holds both, the key must belong to the first certificate.
// - pem puts every certificate, then the key; with both, the key must belong
//   to the first certificate as well.
// - A passphrase only protects a key; der/pkcs7 ignore it.

namespace certd::pki {

namespace {

using X509AlgorPtr = OsslPtr<X509_ALGOR, X509_ALGOR_free>;

// PBKDF2 rounds for PKCS#8 and PKCS#12 (OpenSSL's default is 2048; NIST
// SP 800-132 asks for at least 1000, current guidance for 10000 and more).
constexpr int kPbkdf2Iterations = 10000;
constexpr int kSaltLength = 16;

BioPtr secureBio()
{
    BioPtr bio(BIO_new(BIO_s_secmem()));
    if (!bio)
        throwOpenSsl(ErrorCode::Internal, "cannot allocate a memory BIO");
    return bio;
}

int passphraseLength(const Secret& passphrase)
{
    if (passphrase.size() > static_cast<std::size_t>(INT_MAX / 2))
        throw Error(ErrorCode::InvalidArgument, "passphrase is too long");
    return static_cast<int>(passphrase.size());
}

[[noreturn]] void invalid(const std::string& message)
{
    throw Error(ErrorCode::InvalidArgument, message);
}

ExportFormat resolveAuto(const ExportRequest& request)
{
    if (request.key == nullptr)
        return request.certificates.size() == 1 ? ExportFormat::Der : ExportFormat::Pkcs7;
    return request.certificates.empty() ? ExportFormat::Pkcs8 : ExportFormat::Pkcs12;
}

void requireLeafMatchesKey(const ExportRequest& request)
{
    if (request.key == nullptr || request.certificates.empty())
        return;
    if (X509_check_private_key(request.certificates.front(), request.key) != 1) {
        ERR_clear_error();
        throw Error(ErrorCode::KeyMismatch, "the private key does not belong to the certificate");
    }
}

Pkcs8InfoPtr toPkcs8(EVP_PKEY* key)
{
    Pkcs8InfoPtr p8(EVP_PKEY2PKCS8(key));
    if (!p8)
        throwOpenSsl(ErrorCode::Internal, "cannot encode the private key as PKCS#8");
    return p8;
}

// EncryptedPrivateKeyInfo: PBES2, PBKDF2 with HMAC-SHA256, AES-256-CBC.
X509SigPtr encryptPkcs8(EVP_PKEY* key, const Secret& passphrase)
{
    const Pkcs8InfoPtr p8 = toPkcs8(key);
    std::array<unsigned char, kSaltLength> salt{};
    if (RAND_bytes(salt.data(), kSaltLength) != 1)
        throwOpenSsl(ErrorCode::Internal, "cannot generate a salt");
    X509AlgorPtr pbe(PKCS5_pbe2_set_iv_ex(EVP_aes_256_cbc(), kPbkdf2Iterations, salt.data(), kSaltLength,
                                          nullptr, NID_hmacWithSHA256, nullptr));
    if (!pbe)
        throwOpenSsl(ErrorCode::Internal, "cannot set up PKCS#8 encryption");
    X509SigPtr sig(PKCS8_set0_pbe_ex(passphrase.c_str(), passphraseLength(passphrase), p8.get(), pbe.get(),
                                     nullptr, nullptr));
    if (!sig)
        throwOpenSsl(ErrorCode::Internal, "cannot encrypt the private key");
    static_cast<void>(pbe.release()); // now owned by sig
    return sig;
}

void writeKeyDer(BIO* bio, const ExportRequest& request)
{
    const int ok = request.passphrase.empty()
                       ? i2d_PKCS8_PRIV_KEY_INFO_bio(bio, toPkcs8(request.key).get())
                       : i2d_PKCS8_bio(bio, encryptPkcs8(request.key, request.passphrase).get());
    if (ok != 1)
        throwOpenSsl(ErrorCode::Internal, "cannot write the private key");
}

void writeKeyPem(BIO* bio, const ExportRequest& request)
{
    const int ok = request.passphrase.empty()
                       ? PEM_write_bio_PKCS8_PRIV_KEY_INFO(bio, toPkcs8(request.key).get())
                       : PEM_write_bio_PKCS8(bio, encryptPkcs8(request.key, request.passphrase).get());
    if (ok != 1)
        throwOpenSsl(ErrorCode::Internal, "cannot write the private key");
}

SecureBytes exportDer(const ExportRequest& request)
{
    if (request.key != nullptr)
        invalid("format der cannot hold a private key; use pkcs12, pem or pkcs8 (include_private_key)");
    if (request.certificates.size() != 1)
        invalid("format der holds one certificate; use pkcs7 or pem");
    const BioPtr bio = secureBio();
    if (i2d_X509_bio(bio.get(), request.certificates.front()) != 1)
        throwOpenSsl(ErrorCode::Internal, "cannot write the certificate");
    return bioSecureBytes(bio.get());
}

SecureBytes exportPem(const ExportRequest& request)
{
    requireLeafMatchesKey(request);
    const BioPtr bio = secureBio();
    for (X509* cert : request.certificates)
        if (PEM_write_bio_X509(bio.get(), cert) != 1)
            throwOpenSsl(ErrorCode::Internal, "cannot write a certificate");
    if (request.key != nullptr)
        writeKeyPem(bio.get(), request);
    return bioSecureBytes(bio.get());
}

SecureBytes exportPkcs8(const ExportRequest& request)
{
    if (request.key == nullptr)
        invalid("format pkcs8 holds a private key; set include_private_key");
    const BioPtr bio = secureBio();
    writeKeyDer(bio.get(), request);
    return bioSecureBytes(bio.get());
}

SecureBytes exportPkcs7(const ExportRequest& request)
{
    if (request.key != nullptr)
        invalid("format pkcs7 cannot hold a private key; use pkcs12 or pem (include_private_key)");
    const Pkcs7Ptr p7(PKCS7_new());
    // Degenerate certs-only SignedData, as `openssl crl2pkcs7 -nocrl` writes:
    // no signers, content type data without content.
    if (!p7 || PKCS7_set_type(p7.get(), NID_pkcs7_signed) != 1 ||
        PKCS7_content_new(p7.get(), NID_pkcs7_data) != 1 || PKCS7_set_detached(p7.get(), 1) != 1)
        throwOpenSsl(ErrorCode::Internal, "cannot build PKCS#7 data");
    for (X509* cert : request.certificates)
        if (PKCS7_add_certificate(p7.get(), cert) != 1)
            throwOpenSsl(ErrorCode::Internal, "cannot add a certificate to PKCS#7 data");
    const BioPtr bio = secureBio();
    if (i2d_PKCS7_bio(bio.get(), p7.get()) != 1)
        throwOpenSsl(ErrorCode::Internal, "cannot write PKCS#7 data");
    return bioSecureBytes(bio.get());
}

SecureBytes exportPkcs12(const ExportRequest& request)
{
    requireLeafMatchesKey(request);
    X509* leaf = request.certificates.empty() ? nullptr : request.certificates.front();
    const X509StackPtr cas(sk_X509_new_null());
    if (!cas)
        throwOpenSsl(ErrorCode::Internal, "cannot allocate a certificate list");
    for (std::size_t i = 1; i < request.certificates.size(); ++i) {
        X509* cert = request.certificates[i];
        if (sk_X509_push(cas.get(), cert) <= 0)
            throwOpenSsl(ErrorCode::Internal, "cannot allocate a certificate list");
        X509_up_ref(cert);
    }
    const char* pass = request.passphrase.c_str();
    const char* name = request.friendlyName.empty() ? nullptr : request.friendlyName.c_str();
    // mac_iter -1: no MAC here; PKCS12_set_mac adds one with SHA-256 (the
    // 3.0 default would be SHA-1).
    const Pkcs12Ptr p12(PKCS12_create_ex(pass, name, request.key, leaf, cas.get(), NID_aes_256_cbc,
                                         NID_aes_256_cbc, kPbkdf2Iterations, -1, 0, nullptr, nullptr));
    if (!p12 || PKCS12_set_mac(p12.get(), pass, -1, nullptr, 0, kPbkdf2Iterations, EVP_sha256()) != 1)
        throwOpenSsl(ErrorCode::Internal, "cannot build the PKCS#12 file");
    const BioPtr bio = secureBio();
    if (i2d_PKCS12_bio(bio.get(), p12.get()) != 1)
        throwOpenSsl(ErrorCode::Internal, "cannot write the PKCS#12 file");
    return bioSecureBytes(bio.get());
}

} // namespace

std::optional<ExportFormat> parseExportFormat(std::string_view name)
{
    static constexpr std::array<std::pair<std::string_view, ExportFormat>, 6> kFormats{{
        {"auto", ExportFormat::Auto},
        {"der", ExportFormat::Der},
        {"pem", ExportFormat::Pem},
        {"pkcs7", ExportFormat::Pkcs7},
        {"pkcs8", ExportFormat::Pkcs8},
        {"pkcs12", ExportFormat::Pkcs12},
    }};
    for (const auto& [n, format] : kFormats)
        if (n == name)
            return format;
    return std::nullopt;
}

SecureBytes exportObjects(const ExportRequest& request)
{
    ERR_clear_error();
    if (request.key == nullptr && request.certificates.empty())
        invalid("nothing to export; set include_certificate or include_private_key");
    const ExportFormat format = request.format == ExportFormat::Auto ? resolveAuto(request) : request.format;
    switch (format) {
    case ExportFormat::Der:
        return exportDer(request);
    case ExportFormat::Pem:
        return exportPem(request);
    case ExportFormat::Pkcs7:
        return exportPkcs7(request);
    case ExportFormat::Pkcs8:
        return exportPkcs8(request);
    case ExportFormat::Pkcs12:
    case ExportFormat::Auto:
        break;
    }
    return exportPkcs12(request);
}

} // namespace certd::pki
