#include "cert_factory.hpp"
#include "error.hpp"
#include "pki/certificate.hpp"
#include "process.hpp"
#include "temp_dir.hpp"

#include <doctest/doctest.h>

#include <openssl/pem.h>

#include <cstring>
#include <ctime>
#include <string>

using namespace certd;
using namespace certd::pki;
using namespace certd::test;

namespace {

std::uint64_t nowUSec()
{
    return static_cast<std::uint64_t>(std::time(nullptr)) * 1000000ULL;
}

} // namespace

TEST_CASE("test factory builds a root -> intermediate -> leaf PKI that openssl verifies")
{
    const TestPki pki = makeTestPki();
    const auto root = describeCertificate(pki.root.cert.get());
    const auto intermediate = describeCertificate(pki.intermediate.cert.get());
    const auto leaf = describeCertificate(pki.leaf.cert.get());
    CHECK(root.subject == "CN=Test Root CA");
    CHECK(root.selfSigned);
    CHECK(root.isCa);
    CHECK(intermediate.issuer == "CN=Test Root CA");
    CHECK(intermediate.isCa);
    CHECK_FALSE(intermediate.selfSigned);
    CHECK(leaf.subject == "CN=leaf.example.com");
    CHECK(leaf.issuedBy == "Test Intermediate CA");
    CHECK_FALSE(leaf.isCa);
    CHECK(X509_check_private_key(pki.leaf.cert.get(), pki.leaf.key.get()) == 1);

    TempDir dir;
    writeTestFile(dir / "root.pem", certificatePem(pki.root.cert.get()));
    writeTestFile(dir / "inter.pem", certificatePem(pki.intermediate.cert.get()));
    const auto result = runProcess({"openssl", "verify", "-CAfile", dir / "root.pem", "-untrusted",
                                    dir / "inter.pem", "-purpose", "sslserver"},
                                   certificatePem(pki.leaf.cert.get()));
    INFO(result.err);
    CHECK(result.exitCode == 0);
    CHECK(result.out.find("OK") != std::string::npos);
}

TEST_CASE("certificate id is the first 32 hex digits of the SHA-256 fingerprint")
{
    const TestCert root = makeRoot("Id Root");
    const auto info = describeCertificate(root.cert.get());
    const Bytes der = certificateDer(root.cert.get());
    CHECK(info.fingerprintSha256 == toHex(sha256(der)));
    CHECK(info.fingerprintSha256.size() == 64);
    CHECK(certificateId(root.cert.get()) == info.fingerprintSha256.substr(0, 32));
    CHECK(certificateId(root.cert.get()).size() == kIdLength);

    const auto result =
        runProcess({"openssl", "x509", "-noout", "-fingerprint", "-sha256"}, certificatePem(root.cert.get()));
    REQUIRE(result.exitCode == 0);
    std::string hex;
    for (const char c : result.out.substr(result.out.find('=') + 1))
        if (std::isxdigit(static_cast<unsigned char>(c)))
            hex.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    CHECK(hex == info.fingerprintSha256);
}

TEST_CASE("DER and PEM encodings round trip")
{
    const TestCert root = makeRoot("Round Trip");
    const Bytes der = certificateDer(root.cert.get());
    const auto back = certificateFromDer(der);
    CHECK(X509_cmp(back.get(), root.cert.get()) == 0);
    CHECK(certificateId(back.get()) == certificateId(root.cert.get()));

    const std::string pem = certificatePem(root.cert.get());
    CHECK(pem.rfind("-----BEGIN CERTIFICATE-----\n", 0) == 0);
    BioPtr bio = memoryBio(asBytes(pem));
    X509Ptr fromPem(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    REQUIRE(fromPem);
    CHECK(X509_cmp(fromPem.get(), root.cert.get()) == 0);
}

TEST_CASE("certificateFromDer rejects garbage, truncation and trailing bytes as InvalidCertificate")
{
    const TestCert root = makeRoot("Bad DER");
    const Bytes der = certificateDer(root.cert.get());
    const auto expectInvalid = [](ByteView data) {
        try {
            (void)certificateFromDer(data);
            FAIL("accepted a bad certificate");
        } catch (const Error& e) {
            CHECK(e.code() == ErrorCode::InvalidCertificate);
        }
    };
    expectInvalid({});
    expectInvalid(asBytes("hello"));
    expectInvalid(ByteView(der.data(), der.size() - 1));
    Bytes trailing = der;
    trailing.push_back(0x00);
    expectInvalid(trailing);
}

TEST_CASE("asn1TimeToUSec converts UTCTime and GeneralizedTime to microseconds")
{
    using Asn1TimePtr = OsslPtr<ASN1_TIME, ASN1_TIME_free>;
    Asn1TimePtr t(ASN1_TIME_new());
    REQUIRE(ASN1_TIME_set_string(t.get(), "20240229123456Z") == 1); // GeneralizedTime
    CHECK(asn1TimeToUSec(t.get()) == 1709210096ULL * 1000000ULL);
    REQUIRE(ASN1_TIME_set_string(t.get(), "700101000001Z") == 1); // UTCTime
    CHECK(asn1TimeToUSec(t.get()) == 1000000ULL);
    REQUIRE(ASN1_TIME_set_string(t.get(), "20991231235959Z") == 1);
    CHECK(asn1TimeToUSec(t.get()) == 4102444799ULL * 1000000ULL);

    const TestCert root = makeRoot("Times");
    const auto info = describeCertificate(root.cert.get());
    CHECK(info.notBeforeUSec < nowUSec());
    CHECK(info.notAfterUSec > nowUSec() + 9ULL * 365 * 86400 * 1000000ULL);
}

namespace {

CertificateSpec webSpec()
{
    CertificateSpec spec;
    spec.friendlyName = "Web";
    spec.subject.country = "DE";
    spec.subject.state = "Bavaria";
    spec.subject.locality = "München";
    spec.subject.organization = "Example GmbH";
    spec.subject.organizationalUnit = "IT";
    spec.subject.commonName = "www.example.com";
    spec.subjectAltNames = {parseSubjectAltName("*.example.com"), parseSubjectAltName("IP:192.0.2.1"),
                            parseSubjectAltName("IP:2001:db8::1")};
    spec.days = 90;
    (void)validateSpec(spec);
    return spec;
}

X509Ptr selfSigned(KeyType type, int slot = 0)
{
    const auto key = testKey(type, slot);
    return createSelfSigned(webSpec(), key.get());
}

// -1 when absent, else 0/1 for not critical / critical.
int extensionCriticality(const X509* cert, int nid)
{
    const int index = X509_get_ext_by_NID(cert, nid, -1);
    if (index < 0)
        return -1;
    return X509_EXTENSION_get_critical(X509_get_ext(cert, index));
}

std::vector<std::pair<std::string, std::string>> sansOf(X509* cert)
{
    return describeCertificate(cert).subjectAlternativeNames;
}

using SanList = std::vector<std::pair<std::string, std::string>>;

std::string nameEntry(const X509_NAME* name, int nid, int* asn1Type = nullptr)
{
    const int index = X509_NAME_get_index_by_NID(name, nid, -1);
    if (index < 0)
        return {};
    const ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, index));
    if (asn1Type != nullptr)
        *asn1Type = ASN1_STRING_type(data);
    return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(data)),
                       static_cast<std::size_t>(ASN1_STRING_length(data)));
}

} // namespace

TEST_CASE("self-signed certificate is X.509 v3 with a positive random 128-bit serial")
{
    const auto a = selfSigned(KeyType::EcP256);
    const auto b = selfSigned(KeyType::EcP256);
    CHECK(X509_get_version(a.get()) == X509_VERSION_3);

    const auto serialBits = [](X509* cert) {
        BignumPtr bn(ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr));
        REQUIRE(bn);
        CHECK_FALSE(BN_is_negative(bn.get()));
        CHECK_FALSE(BN_is_zero(bn.get()));
        return BN_num_bits(bn.get());
    };
    const int bitsA = serialBits(a.get());
    CHECK(bitsA <= 127); // top bit cleared: positive in 16 DER bytes
    CHECK(bitsA >= 96);  // random: fewer would be a 2^-31 event
    CHECK(ASN1_STRING_length(X509_get0_serialNumber(a.get())) <= 16);
    CHECK(ASN1_INTEGER_cmp(X509_get0_serialNumber(a.get()), X509_get0_serialNumber(b.get())) != 0);

    const auto info = describeCertificate(a.get());
    CHECK(info.serialNumber.size() >= 24);
    CHECK(info.serialNumber.find_first_not_of("0123456789ABCDEF") == std::string::npos);
    const auto result = runProcess({"openssl", "x509", "-noout", "-serial"}, certificatePem(a.get()));
    CHECK(result.out == "serial=" + info.serialNumber + "\n");
}

TEST_CASE("self-signed certificate carries serverAuth EKU and SAN")
{
    const auto cert = selfSigned(KeyType::EcP256);
    CHECK(extensionCriticality(cert.get(), NID_ext_key_usage) == 0);
    CHECK(X509_get_extended_key_usage(cert.get()) == XKU_SSL_SERVER);
    CHECK(X509_check_purpose(cert.get(), X509_PURPOSE_SSL_SERVER, 0) == 1);

    CHECK(extensionCriticality(cert.get(), NID_subject_alt_name) == 0);
    CHECK(sansOf(cert.get()) == SanList{{"DNS", "www.example.com"},
                                        {"DNS", "*.example.com"},
                                        {"IP", "192.0.2.1"},
                                        {"IP", "2001:db8::1"}});
    // The names clients check match.
    CHECK(X509_check_host(cert.get(), "www.example.com", 0, 0, nullptr) == 1);
    CHECK(X509_check_host(cert.get(), "api.example.com", 0, 0, nullptr) == 1);
    CHECK(X509_check_host(cert.get(), "example.org", 0, 0, nullptr) == 0);
    CHECK(X509_check_ip_asc(cert.get(), "192.0.2.1", 0) == 1);
    CHECK(X509_check_ip_asc(cert.get(), "2001:db8:0::1", 0) == 1);
}

TEST_CASE("self-signed certificate has critical basicConstraints CA:FALSE")
{
    const auto cert = selfSigned(KeyType::EcP256);
    CHECK(extensionCriticality(cert.get(), NID_basic_constraints) == 1);
    OsslPtr<BASIC_CONSTRAINTS, BASIC_CONSTRAINTS_free> bc(static_cast<BASIC_CONSTRAINTS*>(
        X509_get_ext_d2i(cert.get(), NID_basic_constraints, nullptr, nullptr)));
    REQUIRE(bc);
    CHECK(bc->ca == 0);
    CHECK_FALSE(describeCertificate(cert.get()).isCa);
    CHECK(X509_check_ca(cert.get()) == 0);
}

TEST_CASE("keyUsage is critical and matches the key type")
{
    const auto rsa = selfSigned(KeyType::Rsa2048);
    CHECK(extensionCriticality(rsa.get(), NID_key_usage) == 1);
    CHECK(X509_get_key_usage(rsa.get()) == (KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT));

    for (const auto type : {KeyType::EcP256, KeyType::EcP384}) {
        const auto ec = selfSigned(type);
        CHECK(extensionCriticality(ec.get(), NID_key_usage) == 1);
        CHECK(X509_get_key_usage(ec.get()) == KU_DIGITAL_SIGNATURE);
    }
}

TEST_CASE("subject and authority key identifiers are the SHA-1 of the public key")
{
    const auto cert = selfSigned(KeyType::EcP256);
    CHECK(extensionCriticality(cert.get(), NID_subject_key_identifier) == 0);
    CHECK(extensionCriticality(cert.get(), NID_authority_key_identifier) == 0);
    const ASN1_OCTET_STRING* ski = X509_get0_subject_key_id(cert.get());
    const ASN1_OCTET_STRING* aki = X509_get0_authority_key_id(cert.get());
    REQUIRE(ski != nullptr);
    REQUIRE(aki != nullptr);
    CHECK(ASN1_OCTET_STRING_cmp(ski, aki) == 0);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    REQUIRE(X509_pubkey_digest(cert.get(), EVP_sha1(), md, &len) == 1);
    CHECK(ASN1_STRING_length(ski) == static_cast<int>(len));
    CHECK(std::memcmp(ASN1_STRING_get0_data(ski), md, len) == 0);
}

TEST_CASE("subject holds C, ST, L, O, OU, CN as UTF-8 and reads back most specific first")
{
    const auto cert = selfSigned(KeyType::EcP256);
    const X509_NAME* name = X509_get_subject_name(cert.get());
    int type = 0;
    CHECK(nameEntry(name, NID_countryName, &type) == "DE");
    CHECK(type == V_ASN1_PRINTABLESTRING);
    CHECK(nameEntry(name, NID_stateOrProvinceName, &type) == "Bavaria");
    CHECK(type == V_ASN1_UTF8STRING);
    CHECK(nameEntry(name, NID_localityName, &type) == "München");
    CHECK(type == V_ASN1_UTF8STRING);
    CHECK(nameEntry(name, NID_organizationName) == "Example GmbH");
    CHECK(nameEntry(name, NID_organizationalUnitName) == "IT");
    CHECK(nameEntry(name, NID_commonName) == "www.example.com");
    CHECK(X509_NAME_cmp(name, X509_get_issuer_name(cert.get())) == 0);

    const auto info = describeCertificate(cert.get());
    CHECK(info.subject == "CN=www.example.com, OU=IT, O=Example GmbH, L=München, ST=Bavaria, C=DE");
    CHECK(info.issuer == info.subject);
    CHECK(info.issuedTo == "www.example.com");
    CHECK(info.issuedBy == "www.example.com");
}

TEST_CASE("self-signed validity runs `days` from now with notBefore back-dated for clock skew")
{
    const std::uint64_t before = nowUSec();
    const auto cert = selfSigned(KeyType::EcP256);
    const std::uint64_t after = nowUSec();
    const auto info = describeCertificate(cert.get());
    constexpr std::uint64_t kSecond = 1000000ULL;
    CHECK(info.notBeforeUSec <= before - 4ULL * 60 * kSecond);
    CHECK(info.notBeforeUSec >= before - 6ULL * 60 * kSecond);
    CHECK(info.notAfterUSec >= before - kSecond + 90ULL * 86400 * kSecond);
    CHECK(info.notAfterUSec <= after + kSecond + 90ULL * 86400 * kSecond);
}

TEST_CASE("self-signed certificate is signed with SHA-256 by its own key")
{
    const auto rsaKey = testKey(KeyType::Rsa2048);
    const auto rsa = createSelfSigned(webSpec(), rsaKey.get());
    const auto rsaInfo = describeCertificate(rsa.get());
    CHECK(rsaInfo.signatureAlgorithm == "sha256WithRSAEncryption");
    CHECK(rsaInfo.selfSigned);
    CHECK(rsaInfo.publicKey == "RSA (2048 Bits)");
    CHECK(rsaInfo.spkiSha256 == spkiSha256Hex(rsaKey.get()));
    CHECK(X509_verify(rsa.get(), rsaKey.get()) == 1);
    CHECK(X509_check_private_key(rsa.get(), rsaKey.get()) == 1);

    const auto ecKey = testKey(KeyType::EcP384);
    const auto ec = createSelfSigned(webSpec(), ecKey.get());
    const auto ecInfo = describeCertificate(ec.get());
    CHECK(ecInfo.signatureAlgorithm == "ecdsa-with-SHA256");
    CHECK(ecInfo.publicKey == "ECDSA P-384 (384 Bits)");
    CHECK(ecInfo.selfSigned);
}

TEST_CASE("openssl reads the self-signed certificate and verifies it for TLS servers")
{
    const auto cert = selfSigned(KeyType::Rsa2048);
    const std::string pem = certificatePem(cert.get());
    const auto text = runProcess({"openssl", "x509", "-noout", "-text"}, pem);
    REQUIRE(text.exitCode == 0);
    const auto has = [&](const char* s) { return text.out.find(s) != std::string::npos; };
    CHECK(has("Version: 3 (0x2)"));
    CHECK(has("Signature Algorithm: sha256WithRSAEncryption"));
    CHECK(has("X509v3 Basic Constraints: critical"));
    CHECK(has("CA:FALSE"));
    CHECK(has("X509v3 Key Usage: critical"));
    CHECK(has("Digital Signature, Key Encipherment"));
    CHECK(has("TLS Web Server Authentication"));
    CHECK(
        has("DNS:www.example.com, DNS:*.example.com, IP Address:192.0.2.1, IP Address:2001:DB8:0:0:0:0:0:1"));
    CHECK(has("X509v3 Subject Key Identifier"));
    CHECK(has("X509v3 Authority Key Identifier"));

    TempDir dir;
    writeTestFile(dir / "self.pem", pem);
    const auto verify = runProcess({"openssl", "verify", "-CAfile", dir / "self.pem", "-purpose", "sslserver",
                                    "-verify_hostname", "api.example.com", dir / "self.pem"});
    INFO(verify.err);
    CHECK(verify.exitCode == 0);
}

TEST_CASE("self-signed certificate without SANs has no SAN extension")
{
    CertificateSpec spec;
    spec.subject.commonName = "Appliance";
    (void)validateSpec(spec);
    const auto key = testKey(KeyType::EcP256);
    const auto cert = createSelfSigned(spec, key.get());
    CHECK(extensionCriticality(cert.get(), NID_subject_alt_name) == -1);
    CHECK(describeCertificate(cert.get()).subject == "CN=Appliance");
}

TEST_CASE("CSR verifies and carries the SAN, keyUsage and EKU extension request")
{
    const auto key = testKey(KeyType::Rsa2048);
    const auto req = createRequest(webSpec(), key.get());
    CHECK(X509_REQ_verify(req.get(), key.get()) == 1);
    CHECK(X509_REQ_get_version(req.get()) == X509_REQ_VERSION_1);
    CHECK(X509_REQ_get_signature_nid(req.get()) == NID_sha256WithRSAEncryption);

    ExtensionStackPtr exts(X509_REQ_get_extensions(req.get()));
    REQUIRE(exts);
    GeneralNamesPtr sans(
        static_cast<GENERAL_NAMES*>(X509V3_get_d2i(exts.get(), NID_subject_alt_name, nullptr, nullptr)));
    REQUIRE(sans);
    CHECK(sk_GENERAL_NAME_num(sans.get()) == 4);
    OsslPtr<ASN1_BIT_STRING, ASN1_BIT_STRING_free> usage(
        static_cast<ASN1_BIT_STRING*>(X509V3_get_d2i(exts.get(), NID_key_usage, nullptr, nullptr)));
    REQUIRE(usage);
    CHECK(ASN1_BIT_STRING_get_bit(usage.get(), 0) == 1);
    CHECK(ASN1_BIT_STRING_get_bit(usage.get(), 2) == 1);
    OsslPtr<EXTENDED_KEY_USAGE, EXTENDED_KEY_USAGE_free> eku(
        static_cast<EXTENDED_KEY_USAGE*>(X509V3_get_d2i(exts.get(), NID_ext_key_usage, nullptr, nullptr)));
    REQUIRE(eku);
    REQUIRE(sk_ASN1_OBJECT_num(eku.get()) == 1);
    CHECK(OBJ_obj2nid(sk_ASN1_OBJECT_value(eku.get(), 0)) == NID_server_auth);

    const auto info = describeRequest(req.get());
    CHECK(info.subject == "CN=www.example.com, OU=IT, O=Example GmbH, L=München, ST=Bavaria, C=DE");
    CHECK(info.commonName == "www.example.com");
    CHECK(info.subjectAltNames == webSpec().subjectAltNames);
    CHECK(info.spkiSha256 == spkiSha256Hex(key.get()));
}

TEST_CASE("openssl req verifies the CSR and shows its requested extensions")
{
    const auto key = testKey(KeyType::EcP256);
    const std::string pem = requestPem(createRequest(webSpec(), key.get()).get());
    CHECK(pem.rfind("-----BEGIN CERTIFICATE REQUEST-----\n", 0) == 0);
    const auto result = runProcess({"openssl", "req", "-verify", "-noout", "-text"}, pem);
    INFO(result.err);
    REQUIRE(result.exitCode == 0);
    CHECK((result.err + result.out).find("verify OK") != std::string::npos);
    CHECK(result.out.find("Requested Extensions:") != std::string::npos);
    CHECK(result.out.find("DNS:www.example.com, DNS:*.example.com") != std::string::npos);
    CHECK(result.out.find("TLS Web Server Authentication") != std::string::npos);
}

TEST_CASE("Ed25519 and Ed448 self-signed certificates are signed by the key alone and openssl verifies them")
{
    struct Expect {
        KeyType type;
        int signatureNid;
        const char* signatureAlgorithm;
        const char* publicKey;
    };
    for (const auto& c : {Expect{KeyType::Ed25519, NID_ED25519, "ED25519", "Ed25519 (256 Bits)"},
                          Expect{KeyType::Ed448, NID_ED448, "ED448", "Ed448 (456 Bits)"}}) {
        CAPTURE(c.publicKey);
        const auto key = testKey(c.type);
        const auto cert = createSelfSigned(webSpec(), key.get());
        CHECK(X509_get_signature_nid(cert.get()) == c.signatureNid);
        CHECK(X509_verify(cert.get(), key.get()) == 1);
        CHECK(X509_check_private_key(cert.get(), key.get()) == 1);
        const auto info = describeCertificate(cert.get());
        CHECK(info.signatureAlgorithm == c.signatureAlgorithm);
        CHECK(info.publicKey == c.publicKey);
        CHECK(info.selfSigned);
        CHECK(info.spkiSha256 == spkiSha256Hex(key.get()));
        // digitalSignature only: EdDSA keys cannot encipher.
        CHECK((X509_get_key_usage(cert.get()) & KU_DIGITAL_SIGNATURE) != 0);
        CHECK((X509_get_key_usage(cert.get()) & KU_KEY_ENCIPHERMENT) == 0);
        CHECK(X509_check_purpose(cert.get(), X509_PURPOSE_SSL_SERVER, 0) == 1);

        TempDir dir;
        writeTestFile(dir / "self.pem", certificatePem(cert.get()));
        const auto verify =
            runProcess({"openssl", "verify", "-CAfile", dir / "self.pem", "-purpose", "sslserver",
                        "-verify_hostname", "www.example.com", dir / "self.pem"});
        INFO(verify.err);
        CHECK(verify.exitCode == 0);
        const auto text = runProcess({"openssl", "x509", "-noout", "-text", "-in", dir / "self.pem"});
        REQUIRE(text.exitCode == 0);
        CHECK(text.out.find(std::string("Signature Algorithm: ") + c.signatureAlgorithm) !=
              std::string::npos);
        CHECK(text.out.find("Digital Signature") != std::string::npos);
        CHECK(text.out.find("Key Encipherment") == std::string::npos);
    }
}

TEST_CASE("Ed25519 and Ed448 CSRs verify, in process and with openssl req -verify")
{
    for (const auto type : {KeyType::Ed25519, KeyType::Ed448}) {
        CAPTURE(keyTypeName(type));
        const auto key = testKey(type);
        const auto req = createRequest(webSpec(), key.get());
        CHECK(X509_REQ_verify(req.get(), key.get()) == 1);
        CHECK(X509_REQ_get_signature_nid(req.get()) == (type == KeyType::Ed25519 ? NID_ED25519 : NID_ED448));
        CHECK(describeRequest(req.get()).spkiSha256 == spkiSha256Hex(key.get()));
        CHECK(describeRequest(req.get()).subjectAltNames == webSpec().subjectAltNames);
        const std::string pem = requestPem(req.get());
        const auto result = runProcess({"openssl", "req", "-verify", "-noout", "-text"}, pem);
        INFO(result.err);
        REQUIRE(result.exitCode == 0);
        CHECK((result.err + result.out).find("verify OK") != std::string::npos);
        CHECK(result.out.find(type == KeyType::Ed25519 ? "ED25519 Public-Key" : "ED448 Public-Key") !=
              std::string::npos);
        // The request reads back from its PEM as the same request.
        CHECK(describeRequest(requestFromPem(pem).get()).spkiSha256 == spkiSha256Hex(key.get()));
    }
}

TEST_CASE("a CSR with an existing key has that key's SubjectPublicKeyInfo hash")
{
    const auto key = testKey(KeyType::EcP384, 3);
    const auto req = createRequest(webSpec(), key.get());
    EVP_PKEY* pub = X509_REQ_get0_pubkey(req.get());
    REQUIRE(pub != nullptr);
    CHECK(spkiSha256Hex(pub) == spkiSha256Hex(key.get()));
    CHECK(keyId(pub) == keyId(key.get()));
    CHECK(describeRequest(req.get()).spkiSha256 == spkiSha256Hex(key.get()));
    // A certificate issued for the same key links to it the same way.
    CHECK(describeCertificate(createSelfSigned(webSpec(), key.get()).get()).spkiSha256 ==
          spkiSha256Hex(key.get()));
}

TEST_CASE("requestFromPem round trips and rejects what is not one PEM request")
{
    const auto key = testKey(KeyType::EcP256);
    const auto req = createRequest(webSpec(), key.get());
    const std::string pem = requestPem(req.get());
    const auto back = requestFromPem(pem);
    CHECK(requestPem(back.get()) == pem);

    const auto expectMalformed = [](const std::string& text) {
        try {
            (void)requestFromPem(text);
            FAIL("accepted bad request data");
        } catch (const Error& e) {
            CHECK(e.code() == ErrorCode::Malformed);
        }
    };
    expectMalformed("");
    expectMalformed("garbage");
    expectMalformed(certificatePem(makeRoot("Not a request").cert.get()));
    expectMalformed(pem + pem);
    CHECK_NOTHROW(requestFromPem(pem + "\n\n"));
}

TEST_CASE("describeCertificate reports AIA caIssuers URLs and the issuer's CN")
{
    const TestCert root = makeRoot("Describe Root");
    IssueOptions options;
    options.commonName = "shop.example.com";
    options.dnsNames = {"shop.example.com", "www.shop.example.com"};
    options.caIssuersUrls = {"http://ca.example.com/root.cer", "http://backup.example.com/root.p7c"};
    const TestCert leaf = issue(root, options);
    const auto info = describeCertificate(leaf.cert.get());
    CHECK(info.authorityInfoAccess ==
          std::vector<std::string>{"http://ca.example.com/root.cer", "http://backup.example.com/root.p7c"});
    CHECK(info.issuedTo == "shop.example.com");
    CHECK(info.issuedBy == "Describe Root");
    CHECK(info.issuer == "CN=Describe Root");
    CHECK(info.subjectAlternativeNames ==
          SanList{{"DNS", "shop.example.com"}, {"DNS", "www.shop.example.com"}});
    CHECK(info.publicKey == "ECDSA P-256 (256 Bits)");
    CHECK(info.signatureAlgorithm == "ecdsa-with-SHA256");
    CHECK_FALSE(info.selfSigned);
    CHECK(describeCertificate(root.cert.get()).authorityInfoAccess.empty());
}

TEST_CASE("issuedTo falls back to the first DNS SAN, then to the subject")
{
    const auto key = testKey(KeyType::EcP256);
    CertificateSpec noCn;
    noCn.subject.organization = "Example";
    noCn.subjectAltNames = {{SubjectAltName::Type::Ip, "192.0.2.9"},
                            {SubjectAltName::Type::Dns, "first.example"}};
    const auto withSan = createSelfSigned(noCn, key.get());
    CHECK(describeCertificate(withSan.get()).issuedTo == "first.example");
    CHECK(describeCertificate(withSan.get()).issuedBy == "O=Example");

    noCn.subjectAltNames.clear();
    const auto bare = createSelfSigned(noCn, key.get());
    CHECK(describeCertificate(bare.get()).issuedTo == "O=Example");
}

TEST_CASE("selfSigned needs the certificate's own key to verify, not just equal names")
{
    const TestCert root = makeRoot("Same Name");
    IssueOptions options;
    options.commonName = "Same Name"; // subject == issuer, but signed by the root's key
    const TestCert lookalike = issue(root, options);
    const auto info = describeCertificate(lookalike.cert.get());
    CHECK(info.subject == info.issuer);
    CHECK_FALSE(info.selfSigned);
    CHECK(describeCertificate(root.cert.get()).selfSigned);
}
