#include "cert_factory.hpp"
#include "error.hpp"
#include "pki/certificate.hpp"
#include "pki/export.hpp"
#include "pki/import.hpp"

#include <doctest/doctest.h>

#include <openssl/pem.h>

#include <string>
#include <vector>

using namespace certd;
using namespace certd::pki;
using certd::test::makeTestPki;
using certd::test::testKey;

namespace {

constexpr const char* kPassphrase = "export pass 42";

template <typename Alloc>
std::string text(const std::vector<std::uint8_t, Alloc>& b)
{
    return {b.begin(), b.end()};
}

std::string derOf(X509* cert)
{
    return text(certificateDer(cert));
}

std::string codeName(ErrorCode code)
{
    return std::string(errorName(code));
}

ExportRequest request(ExportFormat format, std::vector<X509*> certs, EVP_PKEY* key = nullptr,
                      const std::string& passphrase = {})
{
    ExportRequest r;
    r.format = format;
    r.certificates = std::move(certs);
    r.key = key;
    r.passphrase = Secret(passphrase);
    r.friendlyName = "Web server";
    return r;
}

// The Error an export throws; fails the test when it succeeds.
Error exportError(const ExportRequest& r)
{
    try {
        exportObjects(r);
    } catch (const Error& e) {
        return e;
    }
    FAIL("the export succeeded");
    return Error(ErrorCode::Internal, "unreachable");
}

template <typename Ptr, typename T>
Ptr decode(const SecureBytes& der, T* (*d2i)(T**, const unsigned char**, long))
{
    const unsigned char* p = der.data();
    Ptr object(d2i(nullptr, &p, static_cast<long>(der.size())));
    REQUIRE(object != nullptr);
    CHECK(p == der.data() + der.size());
    return object;
}

std::vector<std::string> pkcs7Ders(const SecureBytes& der)
{
    const auto p7 = decode<Pkcs7Ptr>(der, d2i_PKCS7);
    REQUIRE(OBJ_obj2nid(p7->type) == NID_pkcs7_signed);
    CHECK(sk_PKCS7_SIGNER_INFO_num(p7->d.sign->signer_info) == 0);
    std::vector<std::string> out;
    out.reserve(static_cast<std::size_t>(sk_X509_num(p7->d.sign->cert)));
    for (int i = 0; i < sk_X509_num(p7->d.sign->cert); ++i)
        out.push_back(derOf(sk_X509_value(p7->d.sign->cert, i)));
    return out;
}

void freePkcs7Stack(STACK_OF(PKCS7) * s)
{
    sk_PKCS7_pop_free(s, PKCS7_free);
}
using Pkcs7StackPtr = OsslPtr<STACK_OF(PKCS7), freePkcs7Stack>;

// The PBES2 parameters of an EncryptedPrivateKeyInfo: (cipher, PRF, iterations).
struct Pbes2 {
    int cipher = NID_undef;
    int prf = NID_undef;
    long iterations = 0;
};
Pbes2 pbes2Of(const X509_ALGOR* alg)
{
    Pbes2 out;
    REQUIRE(OBJ_obj2nid(alg->algorithm) == NID_pbes2);
    using Pbe2Ptr = OsslPtr<PBE2PARAM, PBE2PARAM_free>;
    using Pbkdf2Ptr = OsslPtr<PBKDF2PARAM, PBKDF2PARAM_free>;
    const Pbe2Ptr pbe2(
        static_cast<PBE2PARAM*>(ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBE2PARAM), alg->parameter)));
    REQUIRE(pbe2 != nullptr);
    out.cipher = OBJ_obj2nid(pbe2->encryption->algorithm);
    REQUIRE(OBJ_obj2nid(pbe2->keyfunc->algorithm) == NID_id_pbkdf2);
    const Pbkdf2Ptr kdf(static_cast<PBKDF2PARAM*>(
        ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBKDF2PARAM), pbe2->keyfunc->parameter)));
    REQUIRE(kdf != nullptr);
    out.prf = kdf->prf != nullptr ? OBJ_obj2nid(kdf->prf->algorithm) : NID_hmacWithSHA1;
    out.iterations = ASN1_INTEGER_get(kdf->iter);
    return out;
}

void checkModernPbes2(const X509_ALGOR* alg)
{
    const Pbes2 p = pbes2Of(alg);
    CHECK(p.cipher == NID_aes_256_cbc);
    CHECK(p.prf == NID_hmacWithSHA256);
    CHECK(p.iterations >= 2048);
}

} // namespace

TEST_CASE("export format names parse and unknown names do not")
{
    CHECK(parseExportFormat("auto") == ExportFormat::Auto);
    CHECK(parseExportFormat("der") == ExportFormat::Der);
    CHECK(parseExportFormat("pem") == ExportFormat::Pem);
    CHECK(parseExportFormat("pkcs7") == ExportFormat::Pkcs7);
    CHECK(parseExportFormat("pkcs8") == ExportFormat::Pkcs8);
    CHECK(parseExportFormat("pkcs12") == ExportFormat::Pkcs12);
    CHECK_FALSE(parseExportFormat("PKCS12").has_value());
    CHECK_FALSE(parseExportFormat("p12").has_value());
    CHECK_FALSE(parseExportFormat("").has_value());
}

TEST_CASE("auto export of one certificate is its DER")
{
    const auto pki = makeTestPki();
    const SecureBytes out = exportObjects(request(ExportFormat::Auto, {pki.leaf.cert.get()}));
    CHECK(text(out) == derOf(pki.leaf.cert.get()));
}

TEST_CASE("auto export of a key alone is PKCS#8 DER, plain or AES-256 encrypted")
{
    const auto key = testKey(KeyType::Rsa2048);
    const SecureBytes plain = exportObjects(request(ExportFormat::Auto, {}, key.get()));
    CHECK(plain == privateKeyToPkcs8Der(key.get()));

    const SecureBytes encrypted = exportObjects(request(ExportFormat::Auto, {}, key.get(), kPassphrase));
    const auto sig = decode<X509SigPtr>(encrypted, d2i_X509_SIG);
    const X509_ALGOR* alg = nullptr;
    X509_SIG_get0(sig.get(), &alg, nullptr);
    checkModernPbes2(alg);
    const Pkcs8InfoPtr p8(PKCS8_decrypt(sig.get(), kPassphrase, -1));
    REQUIRE(p8 != nullptr);
    const EvpPkeyPtr back(EVP_PKCS82PKEY(p8.get()));
    CHECK(EVP_PKEY_eq(back.get(), key.get()) == 1);
}

TEST_CASE("auto export of several certificates is a certs-only PKCS#7")
{
    const auto pki = makeTestPki();
    const SecureBytes out =
        exportObjects(request(ExportFormat::Auto, {pki.leaf.cert.get(), pki.intermediate.cert.get()}));
    CHECK(pkcs7Ders(out) ==
          std::vector<std::string>{derOf(pki.leaf.cert.get()), derOf(pki.intermediate.cert.get())});
}

TEST_CASE("auto export of certificate and key is PKCS#12 with AES-256, PBKDF2 and a SHA-256 MAC")
{
    const auto pki = makeTestPki();
    const SecureBytes out =
        exportObjects(request(ExportFormat::Auto, {pki.leaf.cert.get(), pki.intermediate.cert.get()},
                              pki.leaf.key.get(), kPassphrase));
    const auto p12 = decode<Pkcs12Ptr>(out, d2i_PKCS12);
    CHECK(PKCS12_verify_mac(p12.get(), kPassphrase, -1) == 1);
    const X509_ALGOR* macAlg = nullptr;
    const ASN1_INTEGER* macIter = nullptr;
    PKCS12_get0_mac(nullptr, &macAlg, nullptr, &macIter, p12.get());
    REQUIRE(macAlg != nullptr);
    CHECK(OBJ_obj2nid(macAlg->algorithm) == NID_sha256);
    CHECK(ASN1_INTEGER_get(macIter) >= 2048);

    // The certificate bags are encrypted and the key is shrouded, both with PBES2/AES-256.
    const Pkcs7StackPtr safes(PKCS12_unpack_authsafes(p12.get()));
    REQUIRE(safes != nullptr);
    int encrypted = 0;
    int shrouded = 0;
    for (int i = 0; i < sk_PKCS7_num(safes.get()); ++i) {
        PKCS7* safe = sk_PKCS7_value(safes.get(), i);
        if (OBJ_obj2nid(safe->type) == NID_pkcs7_encrypted) {
            ++encrypted;
            checkModernPbes2(safe->d.encrypted->enc_data->algorithm);
            continue;
        }
        STACK_OF(PKCS12_SAFEBAG)* bags = PKCS12_unpack_p7data(safe);
        for (int j = 0; j < sk_PKCS12_SAFEBAG_num(bags); ++j) {
            const PKCS12_SAFEBAG* bag = sk_PKCS12_SAFEBAG_value(bags, j);
            CHECK(PKCS12_SAFEBAG_get_nid(bag) == NID_pkcs8ShroudedKeyBag);
            const X509_ALGOR* alg = nullptr;
            X509_SIG_get0(PKCS12_SAFEBAG_get0_pkcs8(bag), &alg, nullptr);
            checkModernPbes2(alg);
            ++shrouded;
        }
        sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
    }
    CHECK(encrypted == 1);
    CHECK(shrouded == 1);

    // PKCS12_parse pairs key and leaf and hands the rest back as CA certificates.
    EVP_PKEY* key = nullptr;
    X509* cert = nullptr;
    STACK_OF(X509)* ca = nullptr;
    REQUIRE(PKCS12_parse(p12.get(), kPassphrase, &key, &cert, &ca) == 1);
    const EvpPkeyPtr keyOwner(key);
    const X509Ptr certOwner(cert);
    const X509StackPtr caOwner(ca);
    CHECK(EVP_PKEY_eq(key, pki.leaf.key.get()) == 1);
    CHECK(derOf(cert) == derOf(pki.leaf.cert.get()));
    REQUIRE(sk_X509_num(ca) == 1);
    CHECK(derOf(sk_X509_value(ca, 0)) == derOf(pki.intermediate.cert.get()));
    int aliasLength = 0;
    const unsigned char* alias = X509_alias_get0(cert, &aliasLength);
    REQUIRE(alias != nullptr);
    CHECK(std::string(reinterpret_cast<const char*>(alias), static_cast<std::size_t>(aliasLength)) ==
          "Web server");
}

TEST_CASE("PKCS#12 export round-trips through import, the failover copy")
{
    const auto pki = makeTestPki();
    for (const std::string& passphrase : {std::string(kPassphrase), std::string()}) {
        CAPTURE(passphrase);
        const SecureBytes out = exportObjects(request(
            ExportFormat::Pkcs12, {pki.leaf.cert.get(), pki.intermediate.cert.get(), pki.root.cert.get()},
            pki.leaf.key.get(), passphrase));
        const auto bundle = parseImport(ByteView(out.data(), out.size()), Secret(passphrase));
        REQUIRE(bundle.certificates.size() == 3);
        CHECK(derOf(bundle.certificates[0].get()) == derOf(pki.leaf.cert.get()));
        REQUIRE(bundle.keys.size() == 1);
        CHECK(EVP_PKEY_eq(bundle.keys[0].get(), pki.leaf.key.get()) == 1);
        CHECK(bundle.warnings.empty());
    }
}

TEST_CASE("PKCS#12 export refuses a key that does not belong to the first certificate")
{
    const auto pki = makeTestPki();
    const Error e = exportError(request(
        ExportFormat::Pkcs12, {pki.intermediate.cert.get(), pki.leaf.cert.get()}, pki.leaf.key.get()));
    CHECK(codeName(e.code()) == codeName(ErrorCode::KeyMismatch));
    const Error pem = exportError(request(ExportFormat::Pem, {pki.root.cert.get()}, pki.leaf.key.get()));
    CHECK(codeName(pem.code()) == codeName(ErrorCode::KeyMismatch));
}

TEST_CASE("PKCS#12 export may hold certificates alone or a key alone")
{
    const auto pki = makeTestPki();
    const SecureBytes certsOnly = exportObjects(
        request(ExportFormat::Pkcs12, {pki.leaf.cert.get(), pki.root.cert.get()}, nullptr, kPassphrase));
    const auto certs = parseImport(ByteView(certsOnly.data(), certsOnly.size()), Secret(kPassphrase));
    CHECK(certs.certificates.size() == 2);
    CHECK(certs.keys.empty());

    const SecureBytes keyOnly =
        exportObjects(request(ExportFormat::Pkcs12, {}, pki.leaf.key.get(), kPassphrase));
    const auto keys = parseImport(ByteView(keyOnly.data(), keyOnly.size()), Secret(kPassphrase));
    CHECK(keys.certificates.empty());
    REQUIRE(keys.keys.size() == 1);
    CHECK(EVP_PKEY_eq(keys.keys[0].get(), pki.leaf.key.get()) == 1);
}

TEST_CASE("PEM export writes every certificate, then the key")
{
    const auto pki = makeTestPki();
    const SecureBytes out = exportObjects(
        request(ExportFormat::Pem, {pki.leaf.cert.get(), pki.intermediate.cert.get()}, pki.leaf.key.get()));
    const std::string pem = text(out);
    CHECK(pem == certificatePem(pki.leaf.cert.get()) + certificatePem(pki.intermediate.cert.get()) +
                     pem.substr(pem.find("-----BEGIN PRIVATE KEY-----")));
    const auto bundle = parseImport(ByteView(out.data(), out.size()), Secret());
    CHECK(bundle.certificates.size() == 2);
    REQUIRE(bundle.keys.size() == 1);
    CHECK(EVP_PKEY_eq(bundle.keys[0].get(), pki.leaf.key.get()) == 1);
}

TEST_CASE("PEM export with a passphrase writes an ENCRYPTED PRIVATE KEY block")
{
    const auto pki = makeTestPki();
    const SecureBytes out =
        exportObjects(request(ExportFormat::Pem, {pki.leaf.cert.get()}, pki.leaf.key.get(), kPassphrase));
    const std::string pem = text(out);
    CHECK(pem.find("-----BEGIN ENCRYPTED PRIVATE KEY-----") != std::string::npos);
    CHECK(pem.find("-----BEGIN PRIVATE KEY-----") == std::string::npos);
    const BioPtr bio = memoryBio(ByteView(out.data(), out.size()));
    const X509SigPtr sig(PEM_read_bio_PKCS8(bio.get(), nullptr, nullptr, nullptr));
    REQUIRE(sig != nullptr);
    const X509_ALGOR* alg = nullptr;
    X509_SIG_get0(sig.get(), &alg, nullptr);
    checkModernPbes2(alg);
    const auto bundle = parseImport(ByteView(out.data(), out.size()), Secret(kPassphrase));
    REQUIRE(bundle.keys.size() == 1);
    CHECK(EVP_PKEY_eq(bundle.keys[0].get(), pki.leaf.key.get()) == 1);
}

TEST_CASE("PKCS#8 export ignores certificates, since include_certificate defaults to true")
{
    const auto pki = makeTestPki();
    const SecureBytes out =
        exportObjects(request(ExportFormat::Pkcs8, {pki.leaf.cert.get()}, pki.leaf.key.get()));
    CHECK(out == privateKeyToPkcs8Der(pki.leaf.key.get()));
}

TEST_CASE("export refuses combinations a format cannot hold, naming the option")
{
    const auto pki = makeTestPki();
    X509* leaf = pki.leaf.cert.get();
    EVP_PKEY* key = pki.leaf.key.get();
    struct Case {
        ExportRequest request;
        const char* option;
    };
    std::vector<Case> cases;
    cases.push_back({request(ExportFormat::Der, {leaf, pki.root.cert.get()}), "format"});
    cases.push_back({request(ExportFormat::Der, {leaf}, key), "include_private_key"});
    cases.push_back({request(ExportFormat::Pkcs7, {leaf}, key), "include_private_key"});
    cases.push_back({request(ExportFormat::Pkcs8, {leaf}), "include_private_key"});
    cases.push_back({request(ExportFormat::Auto, {}), "include_certificate"});
    cases.push_back({request(ExportFormat::Pkcs12, {}), "include_certificate"});
    for (const Case& c : cases) {
        const Error e = exportError(c.request);
        CAPTURE(e.what());
        CHECK(codeName(e.code()) == codeName(ErrorCode::InvalidArgument));
        CHECK(std::string(e.what()).find(c.option) != std::string::npos);
    }
    CHECK(std::string(exportError(cases[0].request).what()) ==
          "format der holds one certificate; use pkcs7 or pem");
}

TEST_CASE("export never writes the passphrase into its output or errors")
{
    const auto pki = makeTestPki();
    for (const auto format : {ExportFormat::Pem, ExportFormat::Pkcs12, ExportFormat::Pkcs8}) {
        const SecureBytes out =
            exportObjects(request(format, {pki.leaf.cert.get()}, pki.leaf.key.get(), kPassphrase));
        CHECK(text(out).find(kPassphrase) == std::string::npos);
    }
    const Error e =
        exportError(request(ExportFormat::Der, {pki.leaf.cert.get()}, pki.leaf.key.get(), kPassphrase));
    CHECK(std::string(e.what()).find(kPassphrase) == std::string::npos);
}

TEST_CASE("Ed25519 and Ed448 export in every format and import back as the same objects")
{
    for (const auto type : {KeyType::Ed25519, KeyType::Ed448}) {
        CAPTURE(keyTypeName(type));
        const auto root = certd::test::makeRoot("Ed Export Root", type, 60);
        certd::test::IssueOptions leafOptions;
        leafOptions.commonName = "ed.example.com";
        leafOptions.dnsNames = {"ed.example.com"};
        const auto leaf = certd::test::issue(root, leafOptions, testKey(type, 61));
        const std::vector<std::string> both{derOf(leaf.cert.get()), derOf(root.cert.get())};
        const auto back = [](const SecureBytes& out, const std::string& passphrase = {}) {
            return parseImport(ByteView(out.data(), out.size()), Secret(passphrase));
        };
        const auto dersOf = [](const ImportedBundle& bundle) {
            std::vector<std::string> out;
            for (const auto& c : bundle.certificates)
                out.push_back(derOf(c.get()));
            return out;
        };
        const auto sameKey = [&](const ImportedBundle& bundle) {
            REQUIRE(bundle.keys.size() == 1);
            CHECK(EVP_PKEY_eq(bundle.keys[0].get(), leaf.key.get()) == 1);
            CHECK(X509_check_private_key(leaf.cert.get(), bundle.keys[0].get()) == 1);
        };

        // DER: the certificate itself.
        CHECK(text(exportObjects(request(ExportFormat::Der, {leaf.cert.get()}))) == derOf(leaf.cert.get()));
        // PKCS#7: both certificates, in order.
        CHECK(pkcs7Ders(exportObjects(request(ExportFormat::Pkcs7, {leaf.cert.get(), root.cert.get()}))) ==
              both);
        // PKCS#8, plain (the store's bytes) and encrypted with PBES2/AES-256.
        const SecureBytes plain = exportObjects(request(ExportFormat::Pkcs8, {}, leaf.key.get()));
        CHECK(plain == privateKeyToPkcs8Der(leaf.key.get()));
        sameKey(back(plain));
        const SecureBytes encrypted =
            exportObjects(request(ExportFormat::Pkcs8, {}, leaf.key.get(), kPassphrase));
        const auto sig = decode<X509SigPtr>(encrypted, d2i_X509_SIG);
        const X509_ALGOR* alg = nullptr;
        X509_SIG_get0(sig.get(), &alg, nullptr);
        checkModernPbes2(alg);
        sameKey(back(encrypted, kPassphrase));
        // PEM: certificates, then the key (plain and encrypted).
        for (const std::string& passphrase : {std::string(), std::string(kPassphrase)}) {
            CAPTURE(passphrase);
            const SecureBytes pem = exportObjects(
                request(ExportFormat::Pem, {leaf.cert.get(), root.cert.get()}, leaf.key.get(), passphrase));
            const auto bundle = back(pem, passphrase);
            CHECK(dersOf(bundle) == both);
            sameKey(bundle);
        }
        // PKCS#12 (what auto picks for a certificate with its key), the failover copy.
        const SecureBytes p12 = exportObjects(
            request(ExportFormat::Auto, {leaf.cert.get(), root.cert.get()}, leaf.key.get(), kPassphrase));
        const auto parsed = decode<Pkcs12Ptr>(p12, d2i_PKCS12);
        CHECK(PKCS12_verify_mac(parsed.get(), kPassphrase, -1) == 1);
        const auto bundle = back(p12, kPassphrase);
        CHECK(dersOf(bundle) == both);
        sameKey(bundle);
        CHECK(bundle.warnings.empty());
        // A foreign EdDSA key is refused as it is for RSA and ECDSA.
        const auto other = testKey(type, 62);
        CHECK(codeName(exportError(request(ExportFormat::Pkcs12, {leaf.cert.get()}, other.get())).code()) ==
              codeName(ErrorCode::KeyMismatch));
    }
}
