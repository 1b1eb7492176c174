#include "acme/challenge.hpp"

#include "error.hpp"
#include "pki/certificate.hpp"
#include "pki/key.hpp"

#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>

namespace certd::acme {
namespace {

void check(bool ok, const char* what)
{
    if (!ok)
        throwOpenSsl(ErrorCode::Internal, what);
}

// 1.3.6.1.5.5.7.1.31, RFC 8737 §3.
constexpr const char* kAcmeIdentifierOid = "1.3.6.1.5.5.7.1.31";

} // namespace

tls::AcmeChallenge tlsAlpnChallenge(const Identifier& id, const std::string& keyAuthorization,
                                    const std::string& listenerAddress)
{
    pki::EvpPkeyPtr key = pki::generateKey(pki::KeyType::EcP256);
    pki::X509Ptr cert(X509_new());
    check(cert != nullptr, "cannot allocate the challenge certificate");
    check(X509_set_version(cert.get(), X509_VERSION_3) == 1, "challenge certificate version");
    unsigned char serial[16];
    check(RAND_bytes(serial, sizeof serial) == 1, "challenge certificate serial");
    serial[0] &= 0x7f;
    pki::BignumPtr bn(BN_bin2bn(serial, sizeof serial, nullptr));
    check(bn && BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert.get())) != nullptr,
          "challenge certificate serial");
    X509_NAME* name = X509_get_subject_name(cert.get());
    check(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                     reinterpret_cast<const unsigned char*>("certd ACME challenge"), -1, -1,
                                     0) == 1,
          "challenge certificate subject");
    check(X509_set_issuer_name(cert.get(), name) == 1, "challenge certificate issuer");
    check(X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600) != nullptr &&
              X509_gmtime_adj(X509_getm_notAfter(cert.get()), 7L * 24 * 3600) != nullptr,
          "challenge certificate validity");
    check(X509_set_pubkey(cert.get(), key.get()) == 1, "challenge certificate key");

    // The identifier, and nothing else, as the only SAN (RFC 8737 §3).
    pki::GeneralNamesPtr names(GENERAL_NAMES_new());
    GENERAL_NAME* gn = GENERAL_NAME_new();
    check(names && gn, "challenge certificate SAN");
    if (id.type == Identifier::Type::Ip) {
        unsigned char buf[16];
        const bool v4 = inet_pton(AF_INET, id.value.c_str(), buf) == 1;
        check(v4 || inet_pton(AF_INET6, id.value.c_str(), buf) == 1, "challenge certificate IP SAN");
        ASN1_OCTET_STRING* ip = ASN1_OCTET_STRING_new();
        check(ip && ASN1_OCTET_STRING_set(ip, buf, v4 ? 4 : 16) == 1, "challenge certificate IP SAN");
        GENERAL_NAME_set0_value(gn, GEN_IPADD, ip);
    } else {
        ASN1_IA5STRING* dns = ASN1_IA5STRING_new();
        check(dns && ASN1_STRING_set(dns, id.value.data(), static_cast<int>(id.value.size())) == 1,
              "challenge certificate DNS SAN");
        GENERAL_NAME_set0_value(gn, GEN_DNS, dns);
    }
    sk_GENERAL_NAME_push(names.get(), gn);
    check(X509_add1_ext_i2d(cert.get(), NID_subject_alt_name, names.get(), 0, X509V3_ADD_DEFAULT) == 1,
          "challenge certificate SAN");

    // acmeIdentifier: critical, an OCTET STRING of the SHA-256 of the key authorization.
    const Bytes digest = pki::sha256(asBytes(keyAuthorization));
    pki::Asn1OctetStringPtr inner(ASN1_OCTET_STRING_new());
    check(inner && ASN1_OCTET_STRING_set(inner.get(), digest.data(), static_cast<int>(digest.size())) == 1,
          "acmeIdentifier");
    const Bytes innerDer = pki::i2dBytes<Bytes>(inner.get(), i2d_ASN1_OCTET_STRING, "acmeIdentifier");
    pki::Asn1OctetStringPtr value(ASN1_OCTET_STRING_new());
    check(value &&
              ASN1_OCTET_STRING_set(value.get(), innerDer.data(), static_cast<int>(innerDer.size())) == 1,
          "acmeIdentifier");
    using ObjectPtr = pki::OsslPtr<ASN1_OBJECT, ASN1_OBJECT_free>;
    const ObjectPtr oid(OBJ_txt2obj(kAcmeIdentifierOid, 1));
    using ExtensionPtr = pki::OsslPtr<X509_EXTENSION, X509_EXTENSION_free>;
    const ExtensionPtr ext(X509_EXTENSION_create_by_OBJ(nullptr, oid.get(), 1, value.get()));
    check(oid && ext && X509_add_ext(cert.get(), ext.get(), -1) == 1, "acmeIdentifier");
    check(X509_sign(cert.get(), key.get(), EVP_sha256()) > 0, "cannot sign the challenge certificate");

    tls::AcmeChallenge challenge;
    challenge.kind = tls::AcmeChallenge::Kind::TlsAlpn01;
    challenge.serverName = validationServerName(id);
    challenge.address = id.type == Identifier::Type::Ip ? listenerAddress : std::string();
    challenge.certificate.id = "acme-" + pki::certificateId(cert.get());
    challenge.certificate.chainPem = pki::certificatePem(cert.get());
    challenge.certificate.keyPkcs8 = pki::privateKeyToPkcs8Der(key.get());
    return challenge;
}

tls::AcmeChallenge httpChallenge(const std::string& token, const std::string& keyAuthorization)
{
    tls::AcmeChallenge challenge;
    challenge.kind = tls::AcmeChallenge::Kind::Http01;
    challenge.token = token;
    challenge.keyAuthorization = keyAuthorization;
    return challenge;
}

std::string dnsTxtValue(const std::string& keyAuthorization)
{
    return base64Url(pki::sha256(asBytes(keyAuthorization)));
}

} // namespace certd::acme
