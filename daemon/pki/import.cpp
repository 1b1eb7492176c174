#include "import.hpp"

#include "certificate.hpp"
#include "error.hpp"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/provider.h>

#include <algorithm>
#include <array>
#include <climits>
#include <optional>
#include <string>
#include <utility>

// Rules that the header leaves open, decided here:
// - Format detection: data holding a "-----BEGIN " line is PEM, anything else
//   is DER. DER is identified by strict parsers that must consume every byte.
// - A PEM block certd does not import (a CRL, a public key, a request, an
//   unknown type) becomes a warning when the file holds something else, and
//   makes the import fail with Unsupported when it is all there is. "EC
//   PARAMETERS" blocks (written by `openssl ecparam -genkey`) are skipped
//   silently. A block that is damaged (bad base64, no END line, bad DER) fails
//   the whole import with Malformed naming the block.
// - Private keys must be RSA, EC, Ed25519 or Ed448 (the signature keys TLS
//   serves). Any other key (DSA, X25519, ...) fails the import with
//   Unsupported even beside good content: silently dropping the key the
//   operator uploaded would be worse than saying so.
// - A certificate whose public key OpenSSL cannot decode (an unknown
//   algorithm, damaged parameters) fails the import with Unsupported: certd
//   could neither match it to a key nor serve it.
// - A passphrase given for an encrypted file must be its passphrase: there is
//   no fallback to the empty one (BadPassphrase). Unencrypted data ignores it.
// - Encrypted data asking for more than kMaxKdfRounds PBKDF2/PBE rounds, or a
//   file whose encrypted parts together (times the passwords to try) ask for
//   more than the import's budget, is refused (Unsupported) before the
//   derivation that would exceed it, so a hostile file cannot stall the daemon.
// - Warning codes: "pem-block-skipped", "pkcs12-no-mac", "pkcs12-bag-skipped",
//   "pkcs7-crl-skipped", "pkcs7-empty".

namespace certd::pki {
namespace {

inline void freeSafeBagStack(STACK_OF(PKCS12_SAFEBAG) * s) noexcept
{
    sk_PKCS12_SAFEBAG_pop_free(s, PKCS12_SAFEBAG_free);
}
inline void freePkcs7Stack(STACK_OF(PKCS7) * s) noexcept
{
    sk_PKCS7_pop_free(s, PKCS7_free);
}
using SafeBagStackPtr = OsslPtr<STACK_OF(PKCS12_SAFEBAG), freeSafeBagStack>;
using Pkcs7StackPtr = OsslPtr<STACK_OF(PKCS7), freePkcs7Stack>;
using X509CrlPtr = OsslPtr<X509_CRL, X509_CRL_free>;
using EncodeCtxPtr = OsslPtr<EVP_ENCODE_CTX, EVP_ENCODE_CTX_free>;

// Text that may hold base64 key material.
using SecureString = std::basic_string<char, std::char_traits<char>, CleansingAllocator<char>>;

using ProviderPtr = OsslPtr<OSSL_PROVIDER, OSSL_PROVIDER_unload>;

// Legacy PKCS#12 files (RC2-40, as older Windows and `openssl -legacy` write)
// and single-DES PEM keys need OpenSSL's legacy provider. Loading any provider
// explicitly disables the implicit default one, so load "default" too. The
// handles are unloaded at exit (before OpenSSL's own cleanup), so leak
// checkers stay quiet.
bool legacyProviderLoaded()
{
    struct Providers {
        ProviderPtr defaults;
        ProviderPtr legacy;
    };
    static const Providers providers = [] {
        Providers p{ProviderPtr(OSSL_PROVIDER_load(nullptr, "default")),
                    ProviderPtr(OSSL_PROVIDER_load(nullptr, "legacy"))};
        ERR_clear_error();
        return p;
    }();
    return providers.legacy != nullptr;
}

// Clears the OpenSSL error queue when the import ends, however it ends.
struct ErrorQueueGuard {
    ErrorQueueGuard() { ERR_clear_error(); }
    ~ErrorQueueGuard() { ERR_clear_error(); }
    ErrorQueueGuard(const ErrorQueueGuard&) = delete;
    ErrorQueueGuard& operator=(const ErrorQueueGuard&) = delete;
};

// ---------------------------------------------------------------------------
// Passphrases

// One password to try. A null `data` is PKCS#12's "no password", which is not
// the same as "" (the MAC key of "" covers a two-byte BMPString terminator).
struct Password {
    const char* data = nullptr;
    int length = 0;
};

struct Passwords {
    std::vector<Password> list;
    bool given = false;
    long* kdfRoundsLeft = nullptr; // the import's budget, shared by every copy
};

Passwords passwordsFor(const Secret& passphrase)
{
    if (!passphrase.empty()) {
        if (passphrase.size() > static_cast<std::size_t>(INT_MAX / 2))
            throw Error(ErrorCode::InvalidArgument, "passphrase is too long");
        return {{{passphrase.c_str(), static_cast<int>(passphrase.size())}}, true, nullptr};
    }
    return {{{"", 0}, {nullptr, 0}}, false, nullptr};
}

// What is encrypted, for the messages: "the PKCS#12 file is encrypted; give
// its passphrase" / "PKCS#12 passphrase is wrong".
struct EncryptedThing {
    const char* noun;
    const char* passphraseOf;
};
constexpr EncryptedThing kPkcs12{"PKCS#12 file", "PKCS#12"};
constexpr EncryptedThing kPrivateKey{"private key", "private key"};

// True when the queued errors say an algorithm is missing (rather than that
// the password did not fit): RC2 without the legacy provider, an unknown PBE.
bool queueShowsMissingAlgorithm()
{
    unsigned long e = 0;
    while ((e = ERR_get_error()) != 0) {
        if (ERR_GET_LIB(e) == ERR_LIB_EVP) {
            switch (ERR_GET_REASON(e)) {
            case EVP_R_UNSUPPORTED_CIPHER:
            case EVP_R_UNKNOWN_CIPHER:
            case EVP_R_UNKNOWN_PBE_ALGORITHM:
            case EVP_R_UNSUPPORTED_ALGORITHM:
            case EVP_R_UNSUPPORTED_KEY_DERIVATION_FUNCTION:
            case EVP_R_UNSUPPORTED_PRF:
            case EVP_R_UNKNOWN_DIGEST:
                return true;
            default:
                break;
            }
        }
        if (ERR_GET_REASON(e) == ERR_R_UNSUPPORTED || ERR_GET_REASON(e) == ERR_R_FETCH_FAILED)
            return true;
    }
    return false;
}

[[noreturn]] void throwMissingAlgorithm()
{
    if (!legacyProviderLoaded())
        throw Error(ErrorCode::Unsupported, "the file uses legacy encryption (such as RC2) and OpenSSL's "
                                            "legacy provider is not available on this appliance");
    throw Error(ErrorCode::Unsupported,
                "the file is encrypted with an algorithm this appliance does not support");
}

// Runs `attempt` with each candidate password until one yields a value.
// Throws PassphraseRequired / BadPassphrase (or Unsupported when the cipher is
// missing) when none does. `attempt` returns something testable as bool.
template <typename Attempt>
auto withPassword(const Passwords& passwords, const EncryptedThing& what, Attempt&& attempt)
    -> decltype(attempt(Password{}))
{
    bool missingAlgorithm = false;
    for (const Password& password : passwords.list) {
        if (auto result = attempt(password)) {
            ERR_clear_error();
            return result;
        }
        missingAlgorithm = queueShowsMissingAlgorithm() || missingAlgorithm;
        ERR_clear_error();
    }
    if (missingAlgorithm)
        throwMissingAlgorithm();
    if (!passwords.given)
        throw Error(ErrorCode::PassphraseRequired,
                    std::string("the ") + what.noun + " is encrypted; give its passphrase");
    throw Error(ErrorCode::BadPassphrase, std::string(what.passphraseOf) + " passphrase is wrong");
}

using Pbe2ParamPtr = OsslPtr<PBE2PARAM, PBE2PARAM_free>;
using Pbkdf2ParamPtr = OsslPtr<PBKDF2PARAM, PBKDF2PARAM_free>;
using PbeParamPtr = OsslPtr<PBEPARAM, PBEPARAM_free>;

// Charges one encrypted part's key derivation to the import: at most kMaxKdfRounds for
// the part, and its rounds times the passwords that may be tried against the budget left.
void chargeKdfRounds(const ASN1_INTEGER* iterations, const Passwords& passwords)
{
    if (iterations == nullptr)
        return;
    const long rounds = ASN1_INTEGER_get(iterations); // -1 also when it does not fit a long
    if (rounds < 0)
        throw Error(ErrorCode::Malformed, "the file's key derivation round count is damaged");
    if (rounds > kMaxKdfRounds)
        throw Error(ErrorCode::Unsupported, "the file asks for more than " + std::to_string(kMaxKdfRounds) +
                                                " key derivation rounds; re-export it with fewer");
    if (passwords.kdfRoundsLeft == nullptr)
        return;
    const long cost = rounds * static_cast<long>(passwords.list.size());
    if (cost > *passwords.kdfRoundsLeft)
        throw Error(ErrorCode::Unsupported,
                    "the file's encrypted parts ask for more key derivation rounds in all than certd "
                    "spends on one import; re-export it with fewer rounds or fewer encrypted parts");
    *passwords.kdfRoundsLeft -= cost;
}

// Charges password-based encryption's rounds (chargeKdfRounds). Other parameters
// (scrypt has its own memory bound) are left to OpenSSL.
void chargeKdfRounds(const X509_ALGOR* pbe, const Passwords& passwords)
{
    if (pbe == nullptr || pbe->parameter == nullptr)
        return;
    if (OBJ_obj2nid(pbe->algorithm) != NID_pbes2) {
        const PbeParamPtr pbe1(
            static_cast<PBEPARAM*>(ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBEPARAM), pbe->parameter)));
        ERR_clear_error();
        return chargeKdfRounds(pbe1 ? pbe1->iter : nullptr, passwords);
    }
    const Pbe2ParamPtr pbe2(
        static_cast<PBE2PARAM*>(ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBE2PARAM), pbe->parameter)));
    ERR_clear_error();
    if (!pbe2 || pbe2->keyfunc == nullptr || OBJ_obj2nid(pbe2->keyfunc->algorithm) != NID_id_pbkdf2)
        return;
    const Pbkdf2ParamPtr kdf(static_cast<PBKDF2PARAM*>(
        ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBKDF2PARAM), pbe2->keyfunc->parameter)));
    ERR_clear_error();
    chargeKdfRounds(kdf ? kdf->iter : nullptr, passwords);
}

// ---------------------------------------------------------------------------
// What was found

constexpr const char* kSupportedKeys = "only RSA, ECDSA, Ed25519 and Ed448 keys are supported";

bool isSupportedKey(EVP_PKEY* key)
{
    for (const char* name : {"RSA", "EC", "ED25519", "ED448"})
        if (EVP_PKEY_is_a(key, name) == 1)
            return true;
    return false;
}

class Collector {
public:
    void addCertificate(X509Ptr cert)
    {
        if (X509_get0_pubkey(cert.get()) == nullptr) {
            ERR_clear_error();
            throw Error(ErrorCode::Unsupported,
                        "the public key of certificate '" +
                            distinguishedName(X509_get_subject_name(cert.get())) +
                            "' uses an algorithm that is not supported, or is damaged");
        }
        for (const auto& have : bundle_.certificates)
            if (X509_cmp(have.get(), cert.get()) == 0)
                return;
        bundle_.certificates.push_back(std::move(cert));
    }

    void addKey(EvpPkeyPtr key)
    {
        if (!isSupportedKey(key.get())) {
            const char* type = EVP_PKEY_get0_type_name(key.get());
            throw Error(ErrorCode::Unsupported, std::string(kSupportedKeys) + "; this key is " +
                                                    (type != nullptr ? type : "of an unknown type"));
        }
        for (const auto& have : bundle_.keys)
            if (EVP_PKEY_eq(have.get(), key.get()) == 1)
                return;
        ERR_clear_error(); // EVP_PKEY_eq queues errors for keys of different types
        bundle_.keys.push_back(std::move(key));
    }

    void warn(std::string code, std::string text)
    {
        bundle_.warnings.push_back({std::move(code), std::move(text)});
    }

    // The bundle; Unsupported when the file held nothing certd imports.
    ImportedBundle finish()
    {
        if (bundle_.certificates.empty() && bundle_.keys.empty()) {
            std::string message = "the file holds no certificate or private key";
            for (std::size_t i = 0; i < bundle_.warnings.size(); ++i)
                message += (i == 0 ? ": " : "; ") + bundle_.warnings[i].text;
            throw Error(ErrorCode::Unsupported, message);
        }
        return std::move(bundle_);
    }

private:
    ImportedBundle bundle_;
};

// ---------------------------------------------------------------------------
// DER decoding

template <typename T>
using D2i = T* (*)(T**, const unsigned char**, long);

// Decodes `der` with `d2i` when it is exactly one such object (every byte
// consumed); null otherwise, with the OpenSSL error queue cleared.
template <typename Ptr, typename T>
Ptr decodeWhole(ByteView der, D2i<T> d2i)
{
    if (der.empty() || der.size() > static_cast<std::size_t>(LONG_MAX))
        return nullptr;
    const unsigned char* p = der.data();
    Ptr object(d2i(nullptr, &p, static_cast<long>(der.size())));
    if (!object || p != der.data() + der.size()) {
        ERR_clear_error();
        return nullptr;
    }
    return object;
}

EvpPkeyPtr keyFromPkcs8(const PKCS8_PRIV_KEY_INFO* p8)
{
    EvpPkeyPtr key(EVP_PKCS82PKEY(p8));
    if (!key) {
        ERR_clear_error();
        throw Error(ErrorCode::Unsupported,
                    std::string("the private key's algorithm is not supported; ") + kSupportedKeys);
    }
    return key;
}

EvpPkeyPtr decryptPkcs8(const X509_SIG* encrypted, const Passwords& passwords)
{
    const X509_ALGOR* pbe = nullptr;
    X509_SIG_get0(encrypted, &pbe, nullptr);
    chargeKdfRounds(pbe, passwords);
    const Pkcs8InfoPtr p8 = withPassword(passwords, kPrivateKey, [&](const Password& pw) {
        return Pkcs8InfoPtr(PKCS8_decrypt_ex(encrypted, pw.data, pw.length, nullptr, nullptr));
    });
    return keyFromPkcs8(p8.get());
}

void addPkcs7(PKCS7* p7, Collector& out)
{
    STACK_OF(X509)* certs = nullptr;
    STACK_OF(X509_CRL)* crls = nullptr;
    switch (OBJ_obj2nid(p7->type)) {
    case NID_pkcs7_signed:
        certs = p7->d.sign != nullptr ? p7->d.sign->cert : nullptr;
        crls = p7->d.sign != nullptr ? p7->d.sign->crl : nullptr;
        break;
    case NID_pkcs7_signedAndEnveloped:
        certs = p7->d.signed_and_enveloped != nullptr ? p7->d.signed_and_enveloped->cert : nullptr;
        break;
    default:
        throw Error(ErrorCode::Unsupported, "the PKCS#7 data is not SignedData and holds no certificates");
    }
    for (int i = 0; i < sk_X509_num(certs); ++i) {
        X509* cert = sk_X509_value(certs, i);
        X509_up_ref(cert);
        out.addCertificate(X509Ptr(cert));
    }
    if (sk_X509_CRL_num(crls) > 0)
        out.warn("pkcs7-crl-skipped", "skipped the revocation lists in the PKCS#7 data");
    if (sk_X509_num(certs) <= 0)
        out.warn("pkcs7-empty", "the PKCS#7 data holds no certificates");
}

// ---------------------------------------------------------------------------
// PKCS#12

void addSafeBags(const STACK_OF(PKCS12_SAFEBAG) * bags, const Passwords& passwords, Collector& out,
                 int depth);

void addSafeBag(const PKCS12_SAFEBAG* bag, const Passwords& passwords, Collector& out, int depth)
{
    switch (PKCS12_SAFEBAG_get_nid(bag)) {
    case NID_keyBag:
        out.addKey(keyFromPkcs8(PKCS12_SAFEBAG_get0_p8inf(bag)));
        return;
    case NID_pkcs8ShroudedKeyBag:
        out.addKey(decryptPkcs8(PKCS12_SAFEBAG_get0_pkcs8(bag), passwords));
        return;
    case NID_certBag:
        if (PKCS12_SAFEBAG_get_bag_nid(bag) == NID_x509Certificate) {
            X509Ptr cert(PKCS12_SAFEBAG_get1_cert(bag));
            if (!cert)
                throw Error(ErrorCode::Malformed, "a certificate in the PKCS#12 file is damaged");
            out.addCertificate(std::move(cert));
            return;
        }
        break;
    case NID_safeContentsBag:
        // Nesting is legal but never deep in real files; bound it against hostile input.
        if (depth < 4) {
            addSafeBags(PKCS12_SAFEBAG_get0_safes(bag), passwords, out, depth + 1);
            return;
        }
        break;
    default:
        break;
    }
    out.warn("pkcs12-bag-skipped", "skipped a PKCS#12 entry that is neither a certificate nor a private key");
}

void addSafeBags(const STACK_OF(PKCS12_SAFEBAG) * bags, const Passwords& passwords, Collector& out, int depth)
{
    for (int i = 0; i < sk_PKCS12_SAFEBAG_num(bags); ++i)
        addSafeBag(sk_PKCS12_SAFEBAG_value(bags, i), passwords, out, depth);
}

SafeBagStackPtr unpackAuthSafe(PKCS7* safe, const Passwords& passwords)
{
    switch (OBJ_obj2nid(safe->type)) {
    case NID_pkcs7_data: {
        SafeBagStackPtr bags(PKCS12_unpack_p7data(safe));
        if (!bags)
            throw Error(ErrorCode::Malformed, "the PKCS#12 file is damaged");
        return bags;
    }
    case NID_pkcs7_encrypted:
        if (safe->d.encrypted == nullptr || safe->d.encrypted->enc_data == nullptr)
            throw Error(ErrorCode::Malformed, "the PKCS#12 file is damaged");
        chargeKdfRounds(safe->d.encrypted->enc_data->algorithm, passwords);
        return withPassword(passwords, kPkcs12, [&](const Password& pw) {
            return SafeBagStackPtr(PKCS12_unpack_p7encdata(safe, pw.data, pw.length));
        });
    default:
        throw Error(ErrorCode::Unsupported,
                    "the PKCS#12 file uses public-key encryption, which is not supported");
    }
}

// The passwords to decrypt with: the one that verified the MAC first.
Passwords verifyMac(PKCS12* p12, Passwords passwords, Collector& out)
{
    if (PKCS12_mac_present(p12) != 1) {
        out.warn("pkcs12-no-mac",
                 "the PKCS#12 file has no integrity check (MAC); its contents were not verified");
        return passwords;
    }
    const ASN1_INTEGER* macIterations = nullptr;
    PKCS12_get0_mac(nullptr, nullptr, nullptr, &macIterations, p12);
    chargeKdfRounds(macIterations, passwords);
    const auto verified =
        withPassword(passwords, kPkcs12, [&](const Password& pw) -> std::optional<Password> {
            if (PKCS12_verify_mac(p12, pw.data, pw.length) == 1)
                return pw;
            return std::nullopt;
        });
    std::erase_if(passwords.list, [&](const Password& pw) { return pw.data == verified->data; });
    passwords.list.insert(passwords.list.begin(), *verified);
    return passwords;
}

void addPkcs12(PKCS12* p12, const Passwords& given, Collector& out)
{
    const Passwords passwords = verifyMac(p12, given, out);
    const Pkcs7StackPtr safes(PKCS12_unpack_authsafes(p12));
    if (!safes)
        throw Error(ErrorCode::Malformed, "the PKCS#12 file is damaged");
    for (int i = 0; i < sk_PKCS7_num(safes.get()); ++i) {
        const SafeBagStackPtr bags = unpackAuthSafe(sk_PKCS7_value(safes.get(), i), passwords);
        addSafeBags(bags.get(), passwords, out, 0);
    }
}

// ---------------------------------------------------------------------------
// DER files

// Known structures certd does not import get a precise Unsupported.
void rejectUnsupportedDer(ByteView der)
{
    if (decodeWhole<X509CrlPtr>(der, d2i_X509_CRL))
        throw Error(ErrorCode::Unsupported,
                    "the file is a certificate revocation list, which is not imported");
    if (decodeWhole<X509ReqPtr>(der, d2i_X509_REQ))
        throw Error(ErrorCode::Unsupported,
                    "the file is a certificate request; import the certificate the CA "
                    "issued for it");
    if (decodeWhole<EvpPkeyPtr>(der, d2i_PUBKEY))
        throw Error(ErrorCode::Unsupported,
                    "the file holds only a public key; import the certificate instead");
}

void addDer(ByteView der, const Passwords& passwords, Collector& out)
{
    if (auto cert = decodeWhole<X509Ptr>(der, d2i_X509))
        return out.addCertificate(std::move(cert));
    if (auto p12 = decodeWhole<Pkcs12Ptr>(der, d2i_PKCS12))
        return addPkcs12(p12.get(), passwords, out);
    if (auto p7 = decodeWhole<Pkcs7Ptr>(der, d2i_PKCS7))
        return addPkcs7(p7.get(), out);
    if (auto sig = decodeWhole<X509SigPtr>(der, d2i_X509_SIG))
        return out.addKey(decryptPkcs8(sig.get(), passwords));
    if (auto p8 = decodeWhole<Pkcs8InfoPtr>(der, d2i_PKCS8_PRIV_KEY_INFO))
        return out.addKey(keyFromPkcs8(p8.get()));
    // Traditional RSAPrivateKey / ECPrivateKey (and DSA, refused by addKey).
    if (auto key = decodeWhole<EvpPkeyPtr>(der, d2i_AutoPrivateKey))
        return out.addKey(std::move(key));
    rejectUnsupportedDer(der);
    throw Error(ErrorCode::Malformed, "the data is not a certificate, private key, PKCS#7 or PKCS#12 file, "
                                      "or it is truncated");
}

// ---------------------------------------------------------------------------
// PEM files

struct PemBlock {
    std::string label;   // "CERTIFICATE"
    std::string headers; // "Proc-Type: 4,ENCRYPTED\nDEK-Info: ...\n" or empty
    SecureBytes der;
    int number = 0; // 1-based position in the file, for messages

    std::string name() const { return "PEM block " + std::to_string(number) + " (" + label + ")"; }
};

enum class BlockKind {
    Certificate,
    TrustedCertificate,
    Pkcs7,
    Pkcs8,
    EncryptedPkcs8,
    TraditionalKey,
    Ignore,
    Skip
};

struct BlockType {
    std::string_view label;
    BlockKind kind;
    std::string_view why; // for Skip: why it is not imported
};

constexpr std::array kBlockTypes{
    BlockType{"CERTIFICATE", BlockKind::Certificate, {}},
    BlockType{"X509 CERTIFICATE", BlockKind::Certificate, {}},
    BlockType{"TRUSTED CERTIFICATE", BlockKind::TrustedCertificate, {}},
    BlockType{"PKCS7", BlockKind::Pkcs7, {}},
    BlockType{"PKCS #7 SIGNED DATA", BlockKind::Pkcs7, {}},
    BlockType{"CMS", BlockKind::Pkcs7, {}},
    BlockType{"PRIVATE KEY", BlockKind::Pkcs8, {}},
    BlockType{"ENCRYPTED PRIVATE KEY", BlockKind::EncryptedPkcs8, {}},
    BlockType{"RSA PRIVATE KEY", BlockKind::TraditionalKey, {}},
    BlockType{"EC PRIVATE KEY", BlockKind::TraditionalKey, {}},
    BlockType{"DSA PRIVATE KEY", BlockKind::TraditionalKey, {}},
    BlockType{"EC PARAMETERS", BlockKind::Ignore, {}},
    BlockType{"X509 CRL", BlockKind::Skip, "revocation lists are not imported"},
    BlockType{"PUBLIC KEY", BlockKind::Skip, "a public key alone is not imported; import the certificate"},
    BlockType{"RSA PUBLIC KEY", BlockKind::Skip,
              "a public key alone is not imported; import the certificate"},
    BlockType{"CERTIFICATE REQUEST", BlockKind::Skip,
              "requests are not imported; import the issued certificate"},
    BlockType{"NEW CERTIFICATE REQUEST", BlockKind::Skip,
              "requests are not imported; import the issued certificate"},
};

BlockType blockType(std::string_view label)
{
    for (const BlockType& type : kBlockTypes)
        if (type.label == label)
            return type;
    if (label == "OPENSSH PRIVATE KEY")
        throw Error(ErrorCode::Unsupported,
                    "OpenSSH private keys are not supported; convert the key to PKCS#8 "
                    "(ssh-keygen -p -m PKCS8)");
    return {label, BlockKind::Skip, "the block type is not supported"};
}

// The input as text with a leading UTF-8 BOM removed and CRLF / CR line ends
// turned into LF.
SecureString normalisedText(ByteView data)
{
    std::string_view in(reinterpret_cast<const char*>(data.data()), data.size());
    if (in.substr(0, 3) == "\xEF\xBB\xBF")
        in.remove_prefix(3);
    SecureString text;
    text.reserve(in.size());
    for (std::size_t i = 0; i < in.size(); ++i) {
        if (in[i] != '\r')
            text.push_back(in[i]);
        else if (i + 1 >= in.size() || in[i + 1] != '\n')
            text.push_back('\n');
    }
    return text;
}

SecureBytes decodeBase64(const SecureString& base64, const std::string& blockName)
{
    const EncodeCtxPtr ctx(EVP_ENCODE_CTX_new());
    if (!ctx)
        throwOpenSsl(ErrorCode::Internal, "cannot allocate a base64 decoder");
    if (base64.size() > static_cast<std::size_t>(INT_MAX / 2))
        throw Error(ErrorCode::Malformed, blockName + " is too large");
    SecureBytes out(base64.size() / 4 * 3 + 3);
    int len = 0;
    int tail = 0;
    EVP_DecodeInit(ctx.get());
    const bool ok =
        EVP_DecodeUpdate(ctx.get(), out.data(), &len, reinterpret_cast<const unsigned char*>(base64.data()),
                         static_cast<int>(base64.size())) >= 0 &&
        EVP_DecodeFinal(ctx.get(), out.data() + len, &tail) == 1;
    ERR_clear_error();
    if (!ok || len + tail == 0)
        throw Error(ErrorCode::Malformed, blockName + " is not valid base64");
    out.resize(static_cast<std::size_t>(len) + static_cast<std::size_t>(tail));
    return out;
}

// Splits a block body into its RFC 1421 headers (lines with a colon before the
// base64) and the base64 text, whitespace removed.
void splitBody(std::string_view body, PemBlock& block, SecureString& base64)
{
    bool inHeaders = true;
    while (!body.empty()) {
        const std::size_t eol = body.find('\n');
        std::string_view line = body.substr(0, eol);
        body.remove_prefix(eol == std::string_view::npos ? body.size() : eol + 1);
        if (inHeaders && line.find(':') != std::string_view::npos) {
            block.headers.append(line).push_back('\n');
            continue;
        }
        for (const char c : line)
            if (c != ' ' && c != '\t')
                base64.push_back(c);
        if (!base64.empty())
            inHeaders = false;
    }
}

// Every "-----BEGIN X-----" ... "-----END X-----" block in the text, decoded.
std::vector<PemBlock> pemBlocks(const SecureString& text)
{
    static constexpr std::string_view kBegin = "-----BEGIN ";
    static constexpr std::string_view kDashes = "-----";
    std::vector<PemBlock> blocks;
    const std::string_view all(text.data(), text.size());
    std::size_t pos = 0;
    while ((pos = all.find(kBegin, pos)) != std::string_view::npos) {
        PemBlock block;
        block.number = static_cast<int>(blocks.size()) + 1;
        const std::size_t labelStart = pos + kBegin.size();
        const std::size_t labelEnd = all.find(kDashes, labelStart);
        const std::size_t lineEnd = all.find('\n', labelStart);
        if (labelEnd == std::string_view::npos || labelEnd > lineEnd)
            throw Error(ErrorCode::Malformed,
                        "PEM block " + std::to_string(block.number) + " has a broken BEGIN line");
        block.label = std::string(all.substr(labelStart, labelEnd - labelStart));
        const std::string endLine = "-----END " + block.label + kDashes.data();
        const std::size_t bodyStart = labelEnd + kDashes.size();
        const std::size_t end = all.find(endLine, bodyStart);
        const std::string_view body =
            all.substr(bodyStart, end == std::string_view::npos ? 0 : end - bodyStart);
        if (end == std::string_view::npos || body.find(kDashes) != std::string_view::npos)
            throw Error(ErrorCode::Malformed, block.name() + " has no END line; the file may be truncated");
        SecureString base64;
        splitBody(body, block, base64);
        block.der = decodeBase64(base64, block.name());
        blocks.push_back(std::move(block));
        pos = end + endLine.size();
    }
    return blocks;
}

int copyPassword(char* buf, int size, int /*rwflag*/, void* userdata)
{
    const auto* pw = static_cast<const Password*>(userdata);
    if (pw->length > size)
        return -1;
    std::copy_n(pw->data, pw->length, buf);
    return pw->length;
}

// RSA / EC PRIVATE KEY, decrypted first when it carries Proc-Type/DEK-Info.
EvpPkeyPtr traditionalKey(const PemBlock& block, const Passwords& passwords)
{
    EVP_CIPHER_INFO cipher{};
    std::string headers = block.headers;
    if (PEM_get_EVP_CIPHER_INFO(headers.data(), &cipher) != 1) {
        ERR_clear_error();
        throw Error(ErrorCode::Unsupported,
                    block.name() + " is encrypted with a cipher that is not supported");
    }
    const auto decode = [&](ByteView der) { return decodeWhole<EvpPkeyPtr>(der, d2i_AutoPrivateKey); };
    if (cipher.cipher == nullptr) {
        auto key = decode(block.der);
        if (!key)
            throw Error(ErrorCode::Malformed, block.name() + " is not a valid private key");
        return key;
    }
    return withPassword(passwords, kPrivateKey, [&](const Password& pw) -> EvpPkeyPtr {
        if (pw.data == nullptr)
            return nullptr; // "" already tried; DEK-Info has no separate "no password"
        SecureBytes data = block.der;
        long len = static_cast<long>(data.size());
        Password copy = pw;
        if (PEM_do_header(&cipher, data.data(), &len, copyPassword, &copy) != 1)
            return nullptr;
        return decode(ByteView(data.data(), static_cast<std::size_t>(len)));
    });
}

template <typename Ptr, typename T>
Ptr decodeBlock(const PemBlock& block, D2i<T> d2i, const char* what)
{
    auto object = decodeWhole<Ptr>(block.der, d2i);
    if (!object)
        throw Error(ErrorCode::Malformed, block.name() + " is not a valid " + what);
    return object;
}

void addPemBlock(const PemBlock& block, const Passwords& passwords, Collector& out)
{
    const BlockType type = blockType(block.label);
    switch (type.kind) {
    case BlockKind::Certificate:
        return out.addCertificate(decodeBlock<X509Ptr>(block, d2i_X509, "certificate"));
    case BlockKind::TrustedCertificate:
        return out.addCertificate(decodeBlock<X509Ptr>(block, d2i_X509_AUX, "certificate"));
    case BlockKind::Pkcs7:
        return addPkcs7(decodeBlock<Pkcs7Ptr>(block, d2i_PKCS7, "PKCS#7 structure").get(), out);
    case BlockKind::Pkcs8: {
        const auto p8 = decodeBlock<Pkcs8InfoPtr>(block, d2i_PKCS8_PRIV_KEY_INFO, "private key");
        return out.addKey(keyFromPkcs8(p8.get()));
    }
    case BlockKind::EncryptedPkcs8: {
        const auto sig = decodeBlock<X509SigPtr>(block, d2i_X509_SIG, "encrypted private key");
        return out.addKey(decryptPkcs8(sig.get(), passwords));
    }
    case BlockKind::TraditionalKey:
        return out.addKey(traditionalKey(block, passwords));
    case BlockKind::Ignore:
        return;
    case BlockKind::Skip:
        return out.warn("pem-block-skipped", "skipped " + block.name() + ": " + std::string(type.why));
    }
}

bool isBlank(ByteView data)
{
    std::string_view text(reinterpret_cast<const char*>(data.data()), data.size());
    if (text.substr(0, 3) == "\xEF\xBB\xBF")
        text.remove_prefix(3);
    return text.find_first_not_of(" \t\r\n\f\v") == std::string_view::npos;
}

bool looksLikePem(ByteView data)
{
    static constexpr std::string_view kBegin = "-----BEGIN ";
    const std::string_view text(reinterpret_cast<const char*>(data.data()), data.size());
    return text.find(kBegin) != std::string_view::npos;
}

} // namespace

ImportedBundle parseImport(ByteView data, const Secret& passphrase, long kdfRoundBudget)
{
    const ErrorQueueGuard errorQueue;
    legacyProviderLoaded();
    if (isBlank(data))
        throw Error(ErrorCode::EmptyInput, "the file is empty");
    Passwords passwords = passwordsFor(passphrase);
    passwords.kdfRoundsLeft = &kdfRoundBudget;
    Collector out;
    if (looksLikePem(data)) {
        for (const PemBlock& block : pemBlocks(normalisedText(data)))
            addPemBlock(block, passwords, out);
    } else {
        addDer(data, passwords, out);
    }
    return out.finish();
}

} // namespace certd::pki
