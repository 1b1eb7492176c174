#include "cert_factory.hpp"

#include "error.hpp"
#include "pki/certificate.hpp"
#include "pki/ossl.hpp"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include <climits>
#include <map>
#include <mutex>
#include <stdexcept>
#include <utility>

namespace certd::test {
namespace {

using pki::EvpPkeyPtr;
using pki::KeyType;
using pki::X509Ptr;
using AkidPtr = pki::OsslPtr<AUTHORITY_KEYID, AUTHORITY_KEYID_free>;

void check(bool ok, const char* what)
{
    if (!ok)
        throwOpenSsl(ErrorCode::Internal, std::string("test certificate factory: ") + what);
}

// A second owning handle to the same key (the cache keeps its own).
EvpPkeyPtr share(EVP_PKEY* key)
{
    check(EVP_PKEY_up_ref(key) == 1, "EVP_PKEY_up_ref");
    return EvpPkeyPtr(key);
}

EvpPkeyPtr freshEcKey()
{
    EvpPkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
    check(key != nullptr, "EC key generation");
    return key;
}

void setRandomSerial(X509* cert)
{
    unsigned char buf[16];
    check(RAND_bytes(buf, sizeof(buf)) == 1, "RAND_bytes");
    buf[0] &= 0x7f;
    buf[0] |= 0x40; // never zero, always the full 16 bytes
    pki::BignumPtr bn(BN_bin2bn(buf, sizeof(buf), nullptr));
    check(bn != nullptr, "BN_bin2bn");
    check(BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert)) != nullptr, "serial");
}

void addExtension(X509* cert, int nid, const char* value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
    pki::X509ExtensionPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
    check(ext != nullptr, value);
    check(X509_add_ext(cert, ext.get(), -1) == 1, "X509_add_ext");
}

// SHA-1 of the public key bits, as RFC 5280 §4.2.1.2 method 1.
pki::Asn1OctetStringPtr keyIdentifier(X509* cert)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    check(X509_pubkey_digest(cert, EVP_sha1(), md, &len) == 1, "X509_pubkey_digest");
    pki::Asn1OctetStringPtr id(ASN1_OCTET_STRING_new());
    check(id && ASN1_OCTET_STRING_set(id.get(), md, static_cast<int>(len)) == 1, "key identifier");
    return id;
}

void addAuthorityKeyId(X509* cert, const ASN1_OCTET_STRING* issuerSki)
{
    AkidPtr akid(AUTHORITY_KEYID_new());
    check(akid != nullptr, "AUTHORITY_KEYID_new");
    akid->keyid = ASN1_OCTET_STRING_dup(issuerSki);
    check(akid->keyid != nullptr, "AKI keyid");
    check(X509_add1_ext_i2d(cert, NID_authority_key_identifier, akid.get(), 0, X509V3_ADD_DEFAULT) == 1,
          "AKI extension");
}

const EVP_MD* digestByName(const char* name)
{
    const EVP_MD* md = EVP_get_digestbyname(name != nullptr ? name : "SHA256");
    if (md == nullptr)
        throw std::invalid_argument(std::string("test certificate factory: unknown digest ") + name);
    return md;
}

// Builds and signs one certificate. `issuerCert` null means self-signed.
X509Ptr build(const IssueOptions& options, EVP_PKEY* subjectKey, X509* issuerCert, EVP_PKEY* issuerKey)
{
    X509Ptr cert(X509_new());
    check(cert != nullptr, "X509_new");
    check(X509_set_version(cert.get(), X509_VERSION_3) == 1, "version");
    setRandomSerial(cert.get());

    pki::X509NamePtr name(X509_NAME_new());
    check(name != nullptr, "X509_NAME_new");
    check(X509_NAME_add_entry_by_txt(name.get(), "CN", MBSTRING_UTF8,
                                     reinterpret_cast<const unsigned char*>(options.commonName.c_str()), -1,
                                     -1, 0) == 1,
          "CN");
    check(X509_set_subject_name(cert.get(), name.get()) == 1, "subject");
    X509_NAME* issuerName = issuerCert != nullptr ? X509_get_subject_name(issuerCert) : name.get();
    check(X509_set_issuer_name(cert.get(), issuerName) == 1, "issuer");

    check(X509_gmtime_adj(X509_getm_notBefore(cert.get()), options.notBeforeOffsetSeconds) != nullptr,
          "notBefore");
    check(X509_gmtime_adj(X509_getm_notAfter(cert.get()), options.notAfterOffsetSeconds) != nullptr,
          "notAfter");
    check(X509_set_pubkey(cert.get(), subjectKey) == 1, "public key");

    if (options.ca) {
        addExtension(cert.get(), NID_basic_constraints, "critical,CA:TRUE");
        addExtension(cert.get(), NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature");
    } else {
        addExtension(cert.get(), NID_basic_constraints, "critical,CA:FALSE");
        addExtension(cert.get(), NID_key_usage,
                     EVP_PKEY_get_base_id(subjectKey) == EVP_PKEY_RSA
                         ? "critical,digitalSignature,keyEncipherment"
                         : "critical,digitalSignature");
        addExtension(cert.get(), NID_ext_key_usage, "serverAuth");
    }
    if (!options.dnsNames.empty()) {
        std::string sans;
        for (const auto& dns : options.dnsNames)
            sans += (sans.empty() ? "DNS:" : ",DNS:") + dns;
        addExtension(cert.get(), NID_subject_alt_name, sans.c_str());
    }
    if (!options.caIssuersUrls.empty()) {
        std::string aia;
        for (const auto& url : options.caIssuersUrls)
            aia += (aia.empty() ? "caIssuers;URI:" : ",caIssuers;URI:") + url;
        addExtension(cert.get(), NID_info_access, aia.c_str());
    }

    const auto ownSki = keyIdentifier(cert.get());
    if (options.subjectKeyId)
        check(X509_add1_ext_i2d(cert.get(), NID_subject_key_identifier, ownSki.get(), 0,
                                X509V3_ADD_DEFAULT) == 1,
              "SKI extension");
    if (options.authorityKeyId) {
        if (issuerCert == nullptr) {
            addAuthorityKeyId(cert.get(), ownSki.get());
        } else if (const auto* issuerSki = X509_get0_subject_key_id(issuerCert)) {
            addAuthorityKeyId(cert.get(), issuerSki);
        }
    }

    // SHA-1 and MD5 still sign here: OpenSSL 3's security level restricts TLS
    // peers, not X509_sign(), which is what the sha1-signature tests need. An
    // Ed25519/Ed448 issuer signs with no separate digest.
    const EVP_MD* md = pki::isEdDsa(issuerKey) ? nullptr : digestByName(options.digest);
    check(X509_sign(cert.get(), issuerKey, md) > 0, "X509_sign");
    return cert;
}

std::mutex cacheMutex;

} // namespace

EvpPkeyPtr testKey(KeyType type, int slot)
{
    static std::map<std::pair<KeyType, int>, EvpPkeyPtr> cache;
    const std::lock_guard lock(cacheMutex);
    auto& entry = cache[{type, slot}];
    if (!entry)
        entry = pki::generateKey(type);
    return share(entry.get());
}

EvpPkeyPtr testRsaKey(int bits)
{
    static std::map<int, EvpPkeyPtr> cache;
    const std::lock_guard lock(cacheMutex);
    auto& entry = cache[bits];
    if (!entry) {
        entry.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(bits)));
        check(entry != nullptr, "RSA key generation");
    }
    return share(entry.get());
}

TestCert makeRoot(const std::string& commonName, KeyType type, int slot)
{
    IssueOptions options;
    options.commonName = commonName;
    options.ca = true;
    options.notAfterOffsetSeconds = 10L * 365 * 86400;
    auto key = testKey(type, slot);
    auto cert = build(options, key.get(), nullptr, key.get());
    return {std::move(cert), std::move(key)};
}

TestCert issue(const TestCert& issuer, const IssueOptions& options, EvpPkeyPtr subjectKey)
{
    if (!subjectKey)
        subjectKey = freshEcKey();
    auto cert = build(options, subjectKey.get(), issuer.cert.get(), issuer.key.get());
    return {std::move(cert), std::move(subjectKey)};
}

TestCert makeSelfSigned(const IssueOptions& options, EvpPkeyPtr key)
{
    if (!key)
        key = freshEcKey();
    auto cert = build(options, key.get(), nullptr, key.get());
    return {std::move(cert), std::move(key)};
}

TestPki makeTestPki()
{
    IssueOptions rootOptions;
    rootOptions.commonName = "Test Root CA";
    rootOptions.ca = true;
    rootOptions.notAfterOffsetSeconds = 10L * 365 * 86400;
    auto rootKey = freshEcKey();
    TestCert root{build(rootOptions, rootKey.get(), nullptr, rootKey.get()), std::move(rootKey)};

    IssueOptions intermediateOptions;
    intermediateOptions.commonName = "Test Intermediate CA";
    intermediateOptions.ca = true;
    intermediateOptions.notAfterOffsetSeconds = 5L * 365 * 86400;
    TestCert intermediate = issue(root, intermediateOptions);

    IssueOptions leafOptions;
    leafOptions.commonName = "leaf.example.com";
    leafOptions.dnsNames = {"leaf.example.com"};
    TestCert leaf = issue(intermediate, leafOptions);

    return {std::move(root), std::move(intermediate), std::move(leaf)};
}

std::string pem(X509* cert)
{
    return pki::certificatePem(cert);
}

std::string keyPem(EVP_PKEY* key)
{
    const auto der = pki::privateKeyToPkcs8Der(key);
    pki::BioPtr bio(BIO_new(BIO_s_mem()));
    const auto p8 = pki::privateKeyFromPkcs8Der(der);
    PEM_write_bio_PrivateKey(bio.get(), p8.get(), nullptr, nullptr, 0, nullptr, nullptr);
    const auto bytes = pki::bioBytes(bio.get());
    return std::string(bytes.begin(), bytes.end());
}

} // namespace certd::test
