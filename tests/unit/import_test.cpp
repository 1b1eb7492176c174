#include "cert_factory.hpp"
#include "error.hpp"
#include "pki/certificate.hpp"
#include "pki/import.hpp"

#include <doctest/doctest.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/provider.h>

#include <algorithm>
#include <string>
#include <vector>

using namespace certd;
using namespace certd::pki;
using certd::test::makeTestPki;
using certd::test::testKey;

namespace {

constexpr const char* kPassphrase = "correct horse 7";

std::string text(const Bytes& b)
{
    return {b.begin(), b.end()};
}
template <typename Alloc>
std::string text(const std::vector<std::uint8_t, Alloc>& b)
{
    return {b.begin(), b.end()};
}

std::string bioText(BIO* bio)
{
    return text(bioBytes(bio));
}

BioPtr newBio()
{
    return BioPtr(BIO_new(BIO_s_mem()));
}

ImportedBundle import(const std::string& data, const std::string& passphrase = {})
{
    return parseImport(asBytes(data), Secret(passphrase));
}

// The Error an import throws; fails the test when it succeeds.
Error importError(const std::string& data, const std::string& passphrase = {})
{
    try {
        import(data, passphrase);
    } catch (const Error& e) {
        return e;
    }
    FAIL("the import succeeded");
    return Error(ErrorCode::Internal, "unreachable");
}

std::string codeName(ErrorCode code)
{
    return std::string(errorName(code));
}

std::string derOf(X509* cert)
{
    return text(certificateDer(cert));
}

std::string pkcs8Pem(EVP_PKEY* key)
{
    const BioPtr bio = newBio();
    REQUIRE(PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) == 1);
    return bioText(bio.get());
}

std::string traditionalPem(EVP_PKEY* key, const EVP_CIPHER* cipher = nullptr, const std::string& pass = {})
{
    const BioPtr bio = newBio();
    auto* kstr = reinterpret_cast<unsigned char*>(const_cast<char*>(pass.c_str()));
    REQUIRE(PEM_write_bio_PrivateKey_traditional(bio.get(), key, cipher, cipher ? kstr : nullptr,
                                                 static_cast<int>(pass.size()), nullptr, nullptr) == 1);
    return bioText(bio.get());
}

std::string encryptedPkcs8(EVP_PKEY* key, const std::string& pass, bool pem)
{
    const BioPtr bio = newBio();
    const int ok = pem ? PEM_write_bio_PKCS8PrivateKey(bio.get(), key, EVP_aes_256_cbc(), pass.c_str(),
                                                       static_cast<int>(pass.size()), nullptr, nullptr)
                       : i2d_PKCS8PrivateKey_bio(bio.get(), key, EVP_aes_256_cbc(), pass.c_str(),
                                                 static_cast<int>(pass.size()), nullptr, nullptr);
    REQUIRE(ok == 1);
    return bioText(bio.get());
}

std::string pkcs7Der(const std::vector<X509*>& certs)
{
    const Pkcs7Ptr p7(PKCS7_new());
    REQUIRE(PKCS7_set_type(p7.get(), NID_pkcs7_signed) == 1);
    REQUIRE(PKCS7_content_new(p7.get(), NID_pkcs7_data) == 1);
    for (X509* cert : certs)
        REQUIRE(PKCS7_add_certificate(p7.get(), cert) == 1);
    const BioPtr bio = newBio();
    REQUIRE(i2d_PKCS7_bio(bio.get(), p7.get()) == 1);
    return bioText(bio.get());
}

struct Pkcs12Options {
    const char* pass = kPassphrase;
    int nidKey = NID_aes_256_cbc;
    int nidCert = NID_aes_256_cbc;
    int macIter = 2048;
    OSSL_LIB_CTX* libctx = nullptr;
};

std::string pkcs12Der(EVP_PKEY* key, X509* cert, const std::vector<X509*>& chain, const Pkcs12Options& o = {})
{
    const X509StackPtr cas(sk_X509_new_null());
    for (X509* c : chain) {
        X509_up_ref(c);
        sk_X509_push(cas.get(), c);
    }
    const Pkcs12Ptr p12(PKCS12_create_ex(o.pass, "test", key, cert, cas.get(), o.nidKey, o.nidCert, 2048,
                                         o.macIter, 0, o.libctx, nullptr));
    REQUIRE_MESSAGE(p12 != nullptr, drainOpenSslErrors());
    const BioPtr bio = newBio();
    REQUIRE(i2d_PKCS12_bio(bio.get(), p12.get()) == 1);
    return bioText(bio.get());
}

std::vector<std::string> ders(const ImportedBundle& bundle)
{
    std::vector<std::string> out;
    for (const auto& c : bundle.certificates)
        out.push_back(derOf(c.get()));
    return out;
}

bool sameKeys(EVP_PKEY* a, EVP_PKEY* b)
{
    return EVP_PKEY_eq(a, b) == 1;
}

bool hasWarning(const ImportedBundle& bundle, const std::string& code)
{
    for (const auto& w : bundle.warnings)
        if (w.code == code)
            return true;
    return false;
}

} // namespace

TEST_CASE("import of a DER certificate yields that certificate")
{
    const auto pki = makeTestPki();
    const auto bundle = import(derOf(pki.leaf.cert.get()));
    REQUIRE(bundle.certificates.size() == 1);
    CHECK(derOf(bundle.certificates[0].get()) == derOf(pki.leaf.cert.get()));
    CHECK(bundle.keys.empty());
    CHECK(bundle.warnings.empty());
}

TEST_CASE("import of PEM with several certificates and a key keeps file order")
{
    const auto pki = makeTestPki();
    const std::string pem = certificatePem(pki.leaf.cert.get()) +
                            certificatePem(pki.intermediate.cert.get()) +
                            certificatePem(pki.root.cert.get()) + pkcs8Pem(pki.leaf.key.get());
    const auto bundle = import(pem);
    CHECK(ders(bundle) == std::vector<std::string>{derOf(pki.leaf.cert.get()),
                                                   derOf(pki.intermediate.cert.get()),
                                                   derOf(pki.root.cert.get())});
    REQUIRE(bundle.keys.size() == 1);
    CHECK(sameKeys(bundle.keys[0].get(), pki.leaf.key.get()));
}

TEST_CASE("import collapses duplicate certificates and keys inside one file")
{
    const auto pki = makeTestPki();
    const std::string leaf = certificatePem(pki.leaf.cert.get());
    const std::string root = certificatePem(pki.root.cert.get());
    // The same key twice, once as PKCS#8 and once in the traditional form.
    const std::string pem =
        leaf + root + leaf + pkcs8Pem(pki.leaf.key.get()) + traditionalPem(pki.leaf.key.get()) + root;
    const auto bundle = import(pem);
    CHECK(ders(bundle) == std::vector<std::string>{derOf(pki.leaf.cert.get()), derOf(pki.root.cert.get())});
    CHECK(bundle.keys.size() == 1);
}

TEST_CASE("import of PEM tolerates CRLF line ends, a UTF-8 BOM and text around blocks")
{
    const auto pki = makeTestPki();
    std::string pem = "\xEF\xBB\xBF"
                      "Bag Attributes\n    friendlyName: web\nsubject=CN = leaf.example.com\n" +
                      certificatePem(pki.leaf.cert.get()) + "Key Attributes: <No Attributes>\n" +
                      pkcs8Pem(pki.leaf.key.get()) + "trailing words\n";
    std::string crlf;
    for (const char c : pem) {
        if (c == '\n')
            crlf += '\r';
        crlf += c;
    }
    for (const std::string& input : {pem, crlf}) {
        const auto bundle = import(input);
        REQUIRE(bundle.certificates.size() == 1);
        CHECK(derOf(bundle.certificates[0].get()) == derOf(pki.leaf.cert.get()));
        REQUIRE(bundle.keys.size() == 1);
        CHECK(sameKeys(bundle.keys[0].get(), pki.leaf.key.get()));
        CHECK(bundle.warnings.empty());
    }
}

TEST_CASE("import of a TRUSTED CERTIFICATE PEM block yields the certificate")
{
    const auto pki = makeTestPki();
    X509_add1_trust_object(pki.root.cert.get(), OBJ_nid2obj(NID_server_auth));
    const BioPtr bio = newBio();
    REQUIRE(PEM_write_bio_X509_AUX(bio.get(), pki.root.cert.get()) == 1);
    const std::string pem = bioText(bio.get());
    REQUIRE(pem.find("BEGIN TRUSTED CERTIFICATE") != std::string::npos);
    const auto bundle = import(pem);
    REQUIRE(bundle.certificates.size() == 1);
    CHECK(derOf(bundle.certificates[0].get()) == derOf(pki.root.cert.get()));
}

TEST_CASE("import of PKCS#7 in DER and in PEM yields every certificate in order")
{
    const auto pki = makeTestPki();
    const std::string der = pkcs7Der({pki.leaf.cert.get(), pki.intermediate.cert.get(), pki.root.cert.get()});
    const std::vector<std::string> expected{derOf(pki.leaf.cert.get()), derOf(pki.intermediate.cert.get()),
                                            derOf(pki.root.cert.get())};
    CHECK(ders(import(der)) == expected);

    const BioPtr bio = newBio();
    const Pkcs7Ptr p7(d2i_PKCS7_bio(memoryBio(asBytes(der)).get(), nullptr));
    REQUIRE(PEM_write_bio_PKCS7(bio.get(), p7.get()) == 1);
    CHECK(ders(import(bioText(bio.get()))) == expected);
}

TEST_CASE("import of an unencrypted PKCS#8 key in DER and PEM yields the key")
{
    for (const auto type : {KeyType::Rsa2048, KeyType::EcP256}) {
        const auto key = testKey(type);
        const SecureBytes der = privateKeyToPkcs8Der(key.get());
        const auto fromDer = import(text(der));
        REQUIRE(fromDer.keys.size() == 1);
        CHECK(sameKeys(fromDer.keys[0].get(), key.get()));
        CHECK(fromDer.certificates.empty());
        const auto fromPem = import(pkcs8Pem(key.get()));
        REQUIRE(fromPem.keys.size() == 1);
        CHECK(sameKeys(fromPem.keys[0].get(), key.get()));
    }
}

TEST_CASE("import of an encrypted PKCS#8 key needs its passphrase")
{
    const auto key = testKey(KeyType::EcP384);
    for (const bool pem : {false, true}) {
        CAPTURE(pem);
        const std::string data = encryptedPkcs8(key.get(), kPassphrase, pem);
        const auto bundle = import(data, kPassphrase);
        REQUIRE(bundle.keys.size() == 1);
        CHECK(sameKeys(bundle.keys[0].get(), key.get()));

        const Error missing = importError(data);
        CHECK(codeName(missing.code()) == codeName(ErrorCode::PassphraseRequired));
        CHECK(std::string(missing.what()) == "the private key is encrypted; give its passphrase");

        const Error wrong = importError(data, "hunter2-wrong");
        CHECK(codeName(wrong.code()) == codeName(ErrorCode::BadPassphrase));
        CHECK(std::string(wrong.what()).find("hunter2") == std::string::npos);
    }
}

TEST_CASE("import of traditional RSA and EC PEM keys yields the key")
{
    for (const auto type : {KeyType::Rsa2048, KeyType::EcP256}) {
        const auto key = testKey(type);
        const std::string pem = traditionalPem(key.get());
        CHECK(pem.find(type == KeyType::Rsa2048 ? "BEGIN RSA PRIVATE KEY" : "BEGIN EC PRIVATE KEY") !=
              std::string::npos);
        const auto bundle = import(pem);
        REQUIRE(bundle.keys.size() == 1);
        CHECK(sameKeys(bundle.keys[0].get(), key.get()));
    }
}

TEST_CASE("import of a DEK-Info encrypted traditional PEM key needs its passphrase")
{
    for (const auto type : {KeyType::Rsa2048, KeyType::EcP256}) {
        const auto key = testKey(type);
        for (const EVP_CIPHER* cipher : {EVP_aes_256_cbc(), EVP_des_ede3_cbc()}) {
            const std::string pem = traditionalPem(key.get(), cipher, kPassphrase);
            REQUIRE(pem.find("DEK-Info:") != std::string::npos);
            const auto bundle = import(pem, kPassphrase);
            REQUIRE(bundle.keys.size() == 1);
            CHECK(sameKeys(bundle.keys[0].get(), key.get()));

            CHECK(codeName(importError(pem).code()) == codeName(ErrorCode::PassphraseRequired));
            const Error wrong = importError(pem, "hunter2-wrong");
            CHECK(codeName(wrong.code()) == codeName(ErrorCode::BadPassphrase));
            CHECK(std::string(wrong.what()).find("hunter2") == std::string::npos);
        }
    }
}

TEST_CASE("import of DER RSAPrivateKey and ECPrivateKey yields the key")
{
    for (const auto type : {KeyType::Rsa2048, KeyType::EcP384}) {
        const auto key = testKey(type);
        const BioPtr bio = newBio();
        // The traditional (type-specific) DER form, not PKCS#8.
        REQUIRE(PEM_write_bio_PrivateKey_traditional(bio.get(), key.get(), nullptr, nullptr, 0, nullptr,
                                                     nullptr) == 1);
        const EvpPkeyPtr parsed(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
        unsigned char* der = nullptr;
        const int len = i2d_PrivateKey(parsed.get(), &der);
        REQUIRE(len > 0);
        const std::string data(reinterpret_cast<char*>(der), static_cast<std::size_t>(len));
        OPENSSL_clear_free(der, static_cast<std::size_t>(len));
        const auto bundle = import(data);
        REQUIRE(bundle.keys.size() == 1);
        CHECK(sameKeys(bundle.keys[0].get(), key.get()));
    }
}

TEST_CASE("import of a PKCS#12 file yields certificate, key and chain")
{
    const auto pki = makeTestPki();
    const std::string p12 = pkcs12Der(pki.leaf.key.get(), pki.leaf.cert.get(),
                                      {pki.intermediate.cert.get(), pki.root.cert.get()});
    const auto bundle = import(p12, kPassphrase);
    REQUIRE(bundle.certificates.size() == 3);
    CHECK(derOf(bundle.certificates[0].get()) == derOf(pki.leaf.cert.get()));
    const std::vector<std::string> got = ders(bundle);
    CHECK(std::find(got.begin(), got.end(), derOf(pki.intermediate.cert.get())) != got.end());
    CHECK(std::find(got.begin(), got.end(), derOf(pki.root.cert.get())) != got.end());
    REQUIRE(bundle.keys.size() == 1);
    CHECK(sameKeys(bundle.keys[0].get(), pki.leaf.key.get()));
    CHECK(bundle.warnings.empty());
}

TEST_CASE("import of a PKCS#12 file with a wrong or missing passphrase names the problem")
{
    const auto pki = makeTestPki();
    const std::string p12 = pkcs12Der(pki.leaf.key.get(), pki.leaf.cert.get(), {});
    const Error wrong = importError(p12, "hunter2-wrong");
    CHECK(codeName(wrong.code()) == codeName(ErrorCode::BadPassphrase));
    CHECK(std::string(wrong.what()) == "PKCS#12 passphrase is wrong");
    const Error missing = importError(p12);
    CHECK(codeName(missing.code()) == codeName(ErrorCode::PassphraseRequired));
    CHECK(std::string(missing.what()) == "the PKCS#12 file is encrypted; give its passphrase");
}

TEST_CASE("import of a PKCS#12 file with an empty or absent password needs no passphrase")
{
    const auto pki = makeTestPki();
    Pkcs12Options emptyPassword;
    emptyPassword.pass = "";
    // A null password: the MAC key differs from the one of "" (no BMPString terminator).
    Pkcs12Options nullPassword;
    nullPassword.pass = nullptr;
    nullPassword.nidKey = NID_pbe_WithSHA1And3_Key_TripleDES_CBC;
    nullPassword.nidCert = -1;
    for (const auto& options : {emptyPassword, nullPassword}) {
        const auto bundle = import(pkcs12Der(pki.leaf.key.get(), pki.leaf.cert.get(), {}, options));
        REQUIRE(bundle.certificates.size() == 1);
        REQUIRE(bundle.keys.size() == 1);
        CHECK(sameKeys(bundle.keys[0].get(), pki.leaf.key.get()));
    }
}

TEST_CASE("import of a legacy RC2-40/3DES PKCS#12 file loads OpenSSL's legacy provider")
{
    // Written with a private library context, so the import cannot lean on a
    // legacy provider this test loaded into the default one.
    OSSL_LIB_CTX* libctx = OSSL_LIB_CTX_new();
    REQUIRE(libctx != nullptr);
    OSSL_PROVIDER* legacy = OSSL_PROVIDER_load(libctx, "legacy");
    OSSL_PROVIDER* defaults = OSSL_PROVIDER_load(libctx, "default");
    REQUIRE_MESSAGE(legacy != nullptr, "OpenSSL's legacy provider is not installed");
    const auto pki = makeTestPki();
    Pkcs12Options options;
    options.nidCert = NID_pbe_WithSHA1And40BitRC2_CBC;
    options.nidKey = NID_pbe_WithSHA1And3_Key_TripleDES_CBC;
    options.libctx = libctx;
    const std::string p12 =
        pkcs12Der(pki.leaf.key.get(), pki.leaf.cert.get(), {pki.intermediate.cert.get()}, options);
    OSSL_PROVIDER_unload(defaults);
    OSSL_PROVIDER_unload(legacy);
    OSSL_LIB_CTX_free(libctx);

    const auto bundle = import(p12, kPassphrase);
    CHECK(bundle.certificates.size() == 2);
    REQUIRE(bundle.keys.size() == 1);
    CHECK(sameKeys(bundle.keys[0].get(), pki.leaf.key.get()));
}

TEST_CASE("import of a PKCS#12 file without a MAC warns that it was not verified")
{
    const auto pki = makeTestPki();
    Pkcs12Options options;
    options.macIter = -1;
    const auto bundle = import(pkcs12Der(pki.leaf.key.get(), pki.leaf.cert.get(), {}, options), kPassphrase);
    CHECK(bundle.certificates.size() == 1);
    CHECK(bundle.keys.size() == 1);
    CHECK(hasWarning(bundle, "pkcs12-no-mac"));
}

TEST_CASE("import of nothing is EmptyInput")
{
    for (const std::string& input :
         {std::string(), std::string(" \r\n\t\n"), std::string("\xEF\xBB\xBF\n")}) {
        const Error e = importError(input);
        CHECK(codeName(e.code()) == codeName(ErrorCode::EmptyInput));
    }
}

TEST_CASE("import of a truncated DER certificate or garbage is Malformed")
{
    const auto pki = makeTestPki();
    const std::string der = derOf(pki.leaf.cert.get());
    CHECK(codeName(importError(der.substr(0, der.size() - 10)).code()) == codeName(ErrorCode::Malformed));
    CHECK(codeName(importError(der + "xx").code()) == codeName(ErrorCode::Malformed));
    CHECK(codeName(importError("this is not a certificate\n").code()) == codeName(ErrorCode::Malformed));
    std::string garbage(700, '\0');
    for (std::size_t i = 0; i < garbage.size(); ++i)
        garbage[i] = static_cast<char>((i * 131 + 7) % 251);
    CHECK(codeName(importError(garbage).code()) == codeName(ErrorCode::Malformed));
}

TEST_CASE("import of a damaged PEM block is Malformed and names the block")
{
    const auto pki = makeTestPki();
    const std::string good = certificatePem(pki.leaf.cert.get());
    std::string badBase64 = good;
    badBase64[40] = '*';
    const Error base64 = importError(certificatePem(pki.root.cert.get()) + badBase64);
    CHECK(codeName(base64.code()) == codeName(ErrorCode::Malformed));
    CHECK(std::string(base64.what()).find("PEM block 2 (CERTIFICATE)") != std::string::npos);

    const Error truncated = importError(good.substr(0, good.size() - 30));
    CHECK(codeName(truncated.code()) == codeName(ErrorCode::Malformed));

    // Valid base64 that is not a certificate.
    const Error notCert =
        importError("-----BEGIN CERTIFICATE-----\nAAECAwQFBgc=\n-----END CERTIFICATE-----\n");
    CHECK(codeName(notCert.code()) == codeName(ErrorCode::Malformed));
}

TEST_CASE("import of a CRL, request or public key alone is Unsupported")
{
    const auto pki = makeTestPki();
    using CrlPtr = OsslPtr<X509_CRL, X509_CRL_free>;
    const CrlPtr crl(X509_CRL_new());
    REQUIRE(X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(pki.root.cert.get())) == 1);
    REQUIRE(X509_CRL_set1_lastUpdate(crl.get(), X509_get0_notBefore(pki.root.cert.get())) == 1);
    REQUIRE(X509_CRL_sign(crl.get(), pki.root.key.get(), EVP_sha256()) > 0);
    const BioPtr crlPem = newBio();
    REQUIRE(PEM_write_bio_X509_CRL(crlPem.get(), crl.get()) == 1);
    const BioPtr crlDer = newBio();
    REQUIRE(i2d_X509_CRL_bio(crlDer.get(), crl.get()) == 1);
    const BioPtr pubPem = newBio();
    REQUIRE(PEM_write_bio_PUBKEY(pubPem.get(), pki.leaf.key.get()) == 1);
    const BioPtr pubDer = newBio();
    REQUIRE(i2d_PUBKEY_bio(pubDer.get(), pki.leaf.key.get()) == 1);

    for (BIO* bio : {crlPem.get(), crlDer.get(), pubPem.get(), pubDer.get()}) {
        const Error e = importError(bioText(bio));
        CHECK(codeName(e.code()) == codeName(ErrorCode::Unsupported));
    }
    CHECK(std::string(importError(bioText(pubPem.get())).what()).find("public key") != std::string::npos);
}

TEST_CASE("import skips an unsupported PEM block beside good content with a warning")
{
    const auto pki = makeTestPki();
    const BioPtr pub = newBio();
    REQUIRE(PEM_write_bio_PUBKEY(pub.get(), pki.leaf.key.get()) == 1);
    const auto bundle = import(bioText(pub.get()) + certificatePem(pki.leaf.cert.get()));
    CHECK(bundle.certificates.size() == 1);
    REQUIRE(bundle.warnings.size() == 1);
    CHECK(bundle.warnings[0].code == "pem-block-skipped");
    CHECK(bundle.warnings[0].text.find("PUBLIC KEY") != std::string::npos);
}

TEST_CASE("import skips EC PARAMETERS blocks silently")
{
    const auto key = testKey(KeyType::EcP256);
    const std::string params =
        "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n";
    const auto bundle = import(params + traditionalPem(key.get()));
    CHECK(bundle.keys.size() == 1);
    CHECK(bundle.warnings.empty());
}

TEST_CASE("import of a key other than RSA, ECDSA, Ed25519 or Ed448 is Unsupported")
{
    // X25519 and X448 only agree keys: they cannot sign a handshake.
    for (const char* algorithm : {"X25519", "X448"}) {
        CAPTURE(algorithm);
        const EvpPkeyPtr x(EVP_PKEY_Q_keygen(nullptr, nullptr, algorithm));
        REQUIRE(x != nullptr);
        const Error e = importError(pkcs8Pem(x.get()));
        CHECK(codeName(e.code()) == codeName(ErrorCode::Unsupported));
        CHECK(std::string(e.what()) ==
              std::string("only RSA, ECDSA, Ed25519 and Ed448 keys are supported; this key is ") + algorithm);
    }
}

TEST_CASE("import of a certificate whose public key algorithm is unknown is Unsupported")
{
    // Found by fuzz-import: such a certificate parsed, and Import then failed with Internal.
    const auto signer = testKey(KeyType::EcP256);
    const X509Ptr cert(X509_new());
    X509_set_version(cert.get(), 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0);
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), 86400);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(cert.get()), "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("odd.example"), -1, -1, 0);
    X509_set_issuer_name(cert.get(), X509_get_subject_name(cert.get()));
    auto* bits = static_cast<unsigned char*>(OPENSSL_memdup("\x04\x01\x02\x03", 4));
    REQUIRE(X509_PUBKEY_set0_param(X509_get_X509_PUBKEY(cert.get()), OBJ_txt2obj("1.3.6.1.4.1.55555.1", 1),
                                   V_ASN1_NULL, nullptr, bits, 4) == 1);
    REQUIRE(X509_sign(cert.get(), signer.get(), EVP_sha256()) > 0);

    const Error e = importError(text(certificateDer(cert.get())));
    CHECK(codeName(e.code()) == codeName(ErrorCode::Unsupported));
    CHECK(std::string(e.what()).find("public key of certificate 'CN=odd.example' uses an algorithm") !=
          std::string::npos);
}

TEST_CASE("import leaves no OpenSSL errors queued after probing formats")
{
    const auto key = testKey(KeyType::EcP256);
    // A PKCS#8 DER key is recognised only after the certificate, PKCS#12 and PKCS#7 parsers failed.
    const SecureBytes der = privateKeyToPkcs8Der(key.get());
    CHECK(import(text(der)).keys.size() == 1);
    CHECK(ERR_peek_error() == 0);
    importError(encryptedPkcs8(key.get(), kPassphrase, false), "hunter2-wrong");
    CHECK(ERR_peek_error() == 0);
}

// An EncryptedPrivateKeyInfo with `pbe` as its algorithm and 16 bytes of junk as the
// ciphertext: enough for what import decides before it derives a key.
std::string encryptedPkcs8With(const X509_ALGOR* pbe)
{
    unsigned char* algDer = nullptr;
    const int algLen = i2d_X509_ALGOR(pbe, &algDer);
    REQUIRE(algLen > 0);
    std::string content(reinterpret_cast<char*>(algDer), static_cast<std::size_t>(algLen));
    OPENSSL_free(algDer);
    content += std::string("\x04\x10", 2) + std::string(16, 'x');
    REQUIRE(content.size() < 128); // short-form DER length
    return std::string("\x30") + static_cast<char>(content.size()) + content;
}

TEST_CASE("import refuses encrypted keys that ask for an absurd number of key derivation rounds")
{
    // An EncryptedPrivateKeyInfo whose PBKDF2 asks for 20 million rounds
    // (NSS, the heaviest real writer, uses 600000); the ciphertext is never reached.
    using AlgorPtr = OsslPtr<X509_ALGOR, X509_ALGOR_free>;
    const AlgorPtr pbe(
        PKCS5_pbe2_set_iv(EVP_aes_256_cbc(), 20'000'000, nullptr, 0, nullptr, NID_hmacWithSHA256));
    REQUIRE(pbe != nullptr);
    const std::string der = encryptedPkcs8With(pbe.get());

    const Error e = importError(der, kPassphrase);
    CHECK(codeName(e.code()) == codeName(ErrorCode::Unsupported));
    CHECK(std::string(e.what()).find("key derivation rounds") != std::string::npos);
}

TEST_CASE("import refuses a key derivation round count that does not fit, as damaged")
{
    // PBES2 whose PBKDF2 round count is 2^70: ASN1_INTEGER_get cannot represent it (-1).
    using AlgorPtr = OsslPtr<X509_ALGOR, X509_ALGOR_free>;
    using Pbe2ParamPtr = OsslPtr<PBE2PARAM, PBE2PARAM_free>;
    using Pbkdf2ParamPtr = OsslPtr<PBKDF2PARAM, PBKDF2PARAM_free>;
    const AlgorPtr pbe(PKCS5_pbe2_set_iv(EVP_aes_256_cbc(), 1000, nullptr, 0, nullptr, NID_hmacWithSHA256));
    REQUIRE(pbe != nullptr);
    const Pbe2ParamPtr pbe2(
        static_cast<PBE2PARAM*>(ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBE2PARAM), pbe->parameter)));
    REQUIRE(pbe2 != nullptr);
    const Pbkdf2ParamPtr kdf(static_cast<PBKDF2PARAM*>(
        ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBKDF2PARAM), pbe2->keyfunc->parameter)));
    REQUIRE(kdf != nullptr);
    BignumPtr huge(BN_new());
    REQUIRE(BN_set_bit(huge.get(), 70) == 1);
    REQUIRE(BN_to_ASN1_INTEGER(huge.get(), kdf->iter) != nullptr);
    ASN1_TYPE_free(pbe2->keyfunc->parameter);
    pbe2->keyfunc->parameter = nullptr;
    REQUIRE(ASN1_TYPE_pack_sequence(ASN1_ITEM_rptr(PBKDF2PARAM), kdf.get(), &pbe2->keyfunc->parameter) !=
            nullptr);
    ASN1_TYPE_free(pbe->parameter);
    pbe->parameter = nullptr;
    REQUIRE(ASN1_TYPE_pack_sequence(ASN1_ITEM_rptr(PBE2PARAM), pbe2.get(), &pbe->parameter) != nullptr);

    const std::string der = encryptedPkcs8With(pbe.get());

    const Error e = importError(der, kPassphrase);
    CHECK(codeName(e.code()) == codeName(ErrorCode::Malformed));
    CHECK(std::string(e.what()).find("round count is damaged") != std::string::npos);
}

TEST_CASE("import charges every encrypted part's key derivation rounds to one budget for the file")
{
    // PKCS12_create with 2048 rounds: the MAC, the shrouded key bag and the encrypted
    // certificate safe cost 2048 each, one passphrase attempt each: 6144 in all.
    const auto pki = makeTestPki();
    const std::string p12 = pkcs12Der(pki.leaf.key.get(), pki.leaf.cert.get(), {});
    const auto bytes = [&] {
        return ByteView(reinterpret_cast<const std::uint8_t*>(p12.data()), p12.size());
    };
    const auto bundle = parseImport(bytes(), Secret(kPassphrase), 3L * 2048);
    CHECK(bundle.keys.size() == 1);
    CHECK(bundle.certificates.size() == 1);
    try {
        parseImport(bytes(), Secret(kPassphrase), 3 * 2048 - 1);
        FAIL("an import over its key derivation budget was accepted");
    } catch (const Error& e) {
        CHECK(codeName(e.code()) == codeName(ErrorCode::Unsupported));
        CHECK(std::string(e.what()).find("key derivation rounds in all") != std::string::npos);
    }
    CHECK(ERR_peek_error() == 0);
}

TEST_CASE("import of Ed25519 and Ed448 certificates and keys in every format links key and certificate")
{
    for (const auto type : {KeyType::Ed25519, KeyType::Ed448}) {
        CAPTURE(keyTypeName(type));
        // An EdDSA chain throughout: root and intermediate sign with the algorithm too.
        const auto root = certd::test::makeRoot("Ed Import Root", type, 50);
        certd::test::IssueOptions caOptions;
        caOptions.commonName = "Ed Import CA";
        caOptions.ca = true;
        const auto ca = certd::test::issue(root, caOptions, testKey(type, 51));
        certd::test::IssueOptions leafOptions;
        leafOptions.commonName = "ed.example.com";
        leafOptions.dnsNames = {"ed.example.com"};
        const auto leaf = certd::test::issue(ca, leafOptions, testKey(type, 52));
        REQUIRE(X509_get_signature_nid(leaf.cert.get()) ==
                (type == KeyType::Ed25519 ? NID_ED25519 : NID_ED448));

        const std::vector<std::string> chainDers{derOf(leaf.cert.get()), derOf(ca.cert.get()),
                                                 derOf(root.cert.get())};
        const std::string leafPem = certificatePem(leaf.cert.get());
        const std::string chainPem =
            leafPem + certificatePem(ca.cert.get()) + certificatePem(root.cert.get());
        const auto checkKey = [&](const ImportedBundle& bundle) {
            REQUIRE(bundle.keys.size() == 1);
            CHECK(sameKeys(bundle.keys[0].get(), leaf.key.get()));
            // The private half came through too: it signs what the certificate's key verifies.
            CHECK(X509_check_private_key(leaf.cert.get(), bundle.keys[0].get()) == 1);
        };
        const auto checkLinked = [&](const ImportedBundle& bundle, const std::vector<std::string>& certs) {
            checkKey(bundle);
            CHECK(ders(bundle) == certs);
            REQUIRE(!bundle.certificates.empty());
            CHECK(spkiSha256Hex(X509_get0_pubkey(bundle.certificates[0].get())) ==
                  spkiSha256Hex(bundle.keys[0].get()));
            CHECK(bundle.warnings.empty());
        };

        // PEM bundles: the chain then the PKCS#8 key, the key first, CRLF line ends.
        checkLinked(import(chainPem + pkcs8Pem(leaf.key.get())), chainDers);
        checkLinked(import(pkcs8Pem(leaf.key.get()) + leafPem), {chainDers[0]});
        // Encrypted PKCS#8 (PEM beside the certificate; PEM and DER alone).
        checkLinked(import(leafPem + encryptedPkcs8(leaf.key.get(), kPassphrase, true), kPassphrase),
                    {chainDers[0]});
        for (const bool pem : {true, false}) {
            CAPTURE(pem);
            const std::string encrypted = encryptedPkcs8(leaf.key.get(), kPassphrase, pem);
            checkKey(import(encrypted, kPassphrase));
            CHECK(codeName(importError(encrypted).code()) == codeName(ErrorCode::PassphraseRequired));
            CHECK(codeName(importError(encrypted, "not it").code()) == codeName(ErrorCode::BadPassphrase));
        }
        // Plain PKCS#8 DER.
        checkKey(import(text(privateKeyToPkcs8Der(leaf.key.get()))));
        // PKCS#12 with the chain, and a wrong passphrase.
        const std::string p12 = pkcs12Der(leaf.key.get(), leaf.cert.get(), {ca.cert.get(), root.cert.get()});
        checkLinked(import(p12, kPassphrase), chainDers);
        CHECK(codeName(importError(p12, "not it").code()) == codeName(ErrorCode::BadPassphrase));
        // A DER certificate alone; PKCS#7 in DER and PEM.
        const auto cert = import(derOf(leaf.cert.get()));
        CHECK(ders(cert) == std::vector<std::string>{chainDers[0]});
        CHECK(cert.keys.empty());
        const std::string p7 = pkcs7Der({leaf.cert.get(), ca.cert.get(), root.cert.get()});
        CHECK(ders(import(p7)) == chainDers);
        const BioPtr p7Pem = newBio();
        const Pkcs7Ptr parsed(d2i_PKCS7_bio(memoryBio(asBytes(p7)).get(), nullptr));
        REQUIRE(PEM_write_bio_PKCS7(p7Pem.get(), parsed.get()) == 1);
        CHECK(ders(import(bioText(p7Pem.get()))) == chainDers);
        CHECK(ERR_peek_error() == 0);
    }
}
