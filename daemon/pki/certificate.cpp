#include "certificate.hpp"

#include "error.hpp"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include <arpa/inet.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <ctime>

namespace certd::pki {
namespace {

using AkidPtr = OsslPtr<AUTHORITY_KEYID, AUTHORITY_KEYID_free>;
using BasicConstraintsPtr = OsslPtr<BASIC_CONSTRAINTS, BASIC_CONSTRAINTS_free>;
using Asn1BitStringPtr = OsslPtr<ASN1_BIT_STRING, ASN1_BIT_STRING_free>;
using Asn1ObjectStackPtr = OsslPtr<EXTENDED_KEY_USAGE, EXTENDED_KEY_USAGE_free>;
using GeneralNamePtr = OsslPtr<GENERAL_NAME, GENERAL_NAME_free>;
using AiaPtr = OsslPtr<AUTHORITY_INFO_ACCESS, AUTHORITY_INFO_ACCESS_free>;

// Clients whose clocks run a little behind the appliance would reject a
// certificate that only becomes valid "now"; back-date notBefore by five
// minutes, as common CAs do, and count `days` from the current time.
constexpr long kClockSkewSeconds = 5L * 60;

void check(bool ok, std::string_view what)
{
    if (!ok)
        throwOpenSsl(ErrorCode::Internal, what);
}

Asn1IntegerPtr randomSerial()
{
    // 128 random bits with the top bit cleared: positive in DER's two's
    // complement and at most 16 content bytes (RFC 5280 allows 20).
    unsigned char buf[16];
    do {
        check(RAND_bytes(buf, sizeof(buf)) == 1, "cannot generate a serial number");
        buf[0] &= 0x7f;
    } while (std::all_of(std::begin(buf), std::end(buf), [](unsigned char b) { return b == 0; }));
    BignumPtr bn(BN_bin2bn(buf, sizeof(buf), nullptr));
    check(bn != nullptr, "cannot generate a serial number");
    Asn1IntegerPtr serial(BN_to_ASN1_INTEGER(bn.get(), nullptr));
    check(serial != nullptr, "cannot encode the serial number");
    return serial;
}

void addNameEntry(X509_NAME* name, int nid, const std::string& value, std::string_view specKey)
{
    if (value.empty())
        return;
    if (X509_NAME_add_entry_by_NID(name, nid, MBSTRING_UTF8,
                                   reinterpret_cast<const unsigned char*>(value.data()),
                                   static_cast<int>(value.size()), -1, 0) != 1)
        throwOpenSsl(ErrorCode::InvalidArgument,
                     std::string(specKey) + ": '" + value + "' cannot be encoded");
}

X509NamePtr subjectName(const SubjectSpec& subject)
{
    X509NamePtr name(X509_NAME_new());
    check(name != nullptr, "cannot allocate a name");
    // Most general first (C ... CN), the order CAs and browsers expect in DER.
    addNameEntry(name.get(), NID_countryName, subject.country, "country");
    addNameEntry(name.get(), NID_stateOrProvinceName, subject.state, "state");
    addNameEntry(name.get(), NID_localityName, subject.locality, "locality");
    addNameEntry(name.get(), NID_organizationName, subject.organization, "organization");
    addNameEntry(name.get(), NID_organizationalUnitName, subject.organizationalUnit, "organizational_unit");
    addNameEntry(name.get(), NID_commonName, subject.commonName, "common_name");
    return name;
}

GeneralNamesPtr generalNames(const std::vector<SubjectAltName>& sans)
{
    GeneralNamesPtr names(sk_GENERAL_NAME_new_null());
    check(names != nullptr, "cannot allocate subject alternative names");
    for (const auto& san : sans) {
        GeneralNamePtr gn(GENERAL_NAME_new());
        check(gn != nullptr, "cannot allocate a subject alternative name");
        if (san.type == SubjectAltName::Type::Dns) {
            ASN1_IA5STRING* dns = ASN1_IA5STRING_new();
            check(dns != nullptr, "cannot allocate a DNS name");
            if (ASN1_STRING_set(dns, san.value.data(), static_cast<int>(san.value.size())) != 1) {
                ASN1_IA5STRING_free(dns);
                throwOpenSsl(ErrorCode::Internal, "cannot encode a DNS name");
            }
            GENERAL_NAME_set0_value(gn.get(), GEN_DNS, dns);
        } else {
            ASN1_OCTET_STRING* ip = a2i_IPADDRESS(san.value.c_str());
            if (ip == nullptr)
                throwOpenSsl(ErrorCode::InvalidArgument,
                             "subject_alt_names: '" + san.value + "' is not an IP address");
            GENERAL_NAME_set0_value(gn.get(), GEN_IPADD, ip);
        }
        check(sk_GENERAL_NAME_push(names.get(), gn.get()) > 0, "cannot add a subject alternative name");
        static_cast<void>(gn.release()); // owned by the stack now
    }
    return names;
}

Asn1BitStringPtr keyUsageFor(EVP_PKEY* key)
{
    Asn1BitStringPtr usage(ASN1_BIT_STRING_new());
    check(usage != nullptr, "cannot allocate key usage");
    check(ASN1_BIT_STRING_set_bit(usage.get(), 0, 1) == 1, "key usage"); // digitalSignature
    // keyEncipherment only where the key can do it: RSA key transport. An EC or
    // EdDSA key with keyEncipherment is a policy error some clients reject.
    if (EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA)
        check(ASN1_BIT_STRING_set_bit(usage.get(), 2, 1) == 1, "key usage");
    return usage;
}

Asn1ObjectStackPtr serverAuthUsage()
{
    Asn1ObjectStackPtr eku(sk_ASN1_OBJECT_new_null());
    check(eku != nullptr, "cannot allocate extended key usage");
    ASN1_OBJECT* serverAuth = OBJ_nid2obj(NID_server_auth);
    check(serverAuth != nullptr && sk_ASN1_OBJECT_push(eku.get(), serverAuth) > 0, "extended key usage");
    return eku;
}

// The extensions both a self-signed certificate and a request carry.
ExtensionStackPtr commonExtensions(const CertificateSpec& spec, EVP_PKEY* key)
{
    ExtensionStackPtr exts(sk_X509_EXTENSION_new_null());
    check(exts != nullptr, "cannot allocate extensions");
    auto push = [&](int nid, int critical, void* value) {
        X509_EXTENSION* ext = X509V3_EXT_i2d(nid, critical, value);
        check(ext != nullptr, "cannot encode an extension");
        if (sk_X509_EXTENSION_push(exts.get(), ext) <= 0) {
            X509_EXTENSION_free(ext);
            throwOpenSsl(ErrorCode::Internal, "cannot add an extension");
        }
    };
    BasicConstraintsPtr bc(BASIC_CONSTRAINTS_new());
    check(bc != nullptr, "cannot allocate basic constraints");
    bc->ca = 0;
    push(NID_basic_constraints, 1, bc.get());
    push(NID_key_usage, 1, keyUsageFor(key).get());
    push(NID_ext_key_usage, 0, serverAuthUsage().get());
    if (!spec.subjectAltNames.empty())
        // Not critical: the subject always holds a CN (validateSpec requires it).
        push(NID_subject_alt_name, 0, generalNames(spec.subjectAltNames).get());
    return exts;
}

Asn1OctetStringPtr keyIdentifier(X509* cert)
{
    // RFC 5280 §4.2.1.2 method (1): SHA-1 of the subjectPublicKey bits.
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    check(X509_pubkey_digest(cert, EVP_sha1(), md, &len) == 1, "cannot compute the key identifier");
    Asn1OctetStringPtr id(ASN1_OCTET_STRING_new());
    check(id != nullptr && ASN1_OCTET_STRING_set(id.get(), md, static_cast<int>(len)) == 1,
          "cannot encode the key identifier");
    return id;
}

std::string commonNameOf(const X509_NAME* name)
{
    // The last CN is the most specific one when a name holds several.
    int index = -1;
    int last = -1;
    while ((index = X509_NAME_get_index_by_NID(name, NID_commonName, index)) >= 0)
        last = index;
    if (last < 0)
        return {};
    const ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, last));
    unsigned char* utf8 = nullptr;
    const int len = ASN1_STRING_to_UTF8(&utf8, data);
    if (len < 0) {
        ERR_clear_error();
        return {};
    }
    OpenSslStringPtr owner(reinterpret_cast<char*>(utf8));
    return std::string(owner.get(), static_cast<std::size_t>(len));
}

std::string ipText(const ASN1_OCTET_STRING* ip)
{
    char buf[INET6_ADDRSTRLEN] = {};
    const int len = ASN1_STRING_length(ip);
    const unsigned char* data = ASN1_STRING_get0_data(ip);
    if (len == 4 && inet_ntop(AF_INET, data, buf, sizeof(buf)) != nullptr)
        return buf;
    if (len == 16 && inet_ntop(AF_INET6, data, buf, sizeof(buf)) != nullptr)
        return buf;
    return toHex(ByteView(data, static_cast<std::size_t>(len < 0 ? 0 : len)));
}

std::string asn1Text(const ASN1_STRING* s)
{
    return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                       static_cast<std::size_t>(ASN1_STRING_length(s)));
}

std::vector<std::pair<std::string, std::string>> describeGeneralNames(const GENERAL_NAMES* names)
{
    std::vector<std::pair<std::string, std::string>> out;
    for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
        const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names, i);
        switch (gn->type) {
        case GEN_DNS:
            out.emplace_back("DNS", asn1Text(gn->d.dNSName));
            break;
        case GEN_IPADD:
            out.emplace_back("IP", ipText(gn->d.iPAddress));
            break;
        case GEN_EMAIL:
            out.emplace_back("email", asn1Text(gn->d.rfc822Name));
            break;
        case GEN_URI:
            out.emplace_back("URI", asn1Text(gn->d.uniformResourceIdentifier));
            break;
        case GEN_DIRNAME:
            out.emplace_back("DirName", distinguishedName(gn->d.directoryName));
            break;
        default:
            out.emplace_back("other", "");
            break;
        }
    }
    return out;
}

std::string serialHex(const ASN1_INTEGER* serial)
{
    BignumPtr bn(ASN1_INTEGER_to_BN(serial, nullptr));
    check(bn != nullptr, "cannot read the serial number");
    OpenSslStringPtr hex(BN_bn2hex(bn.get()));
    check(hex != nullptr, "cannot format the serial number");
    return hex.get();
}

std::string signatureAlgorithmName(const X509* cert)
{
    const int nid = X509_get_signature_nid(cert);
    if (nid != NID_undef)
        if (const char* ln = OBJ_nid2ln(nid))
            return ln;
    const X509_ALGOR* alg = nullptr;
    X509_get0_signature(nullptr, &alg, cert);
    const ASN1_OBJECT* oid = nullptr;
    X509_ALGOR_get0(&oid, nullptr, nullptr, alg);
    char buf[128] = {};
    OBJ_obj2txt(buf, sizeof(buf), oid, 1);
    return buf;
}

} // namespace

std::string distinguishedName(const X509_NAME* name)
{
    // RFC 2253 order (most specific first) with ", " between RDNs and the
    // values kept as UTF-8 (ASN1_STRFLGS_RFC2253 would \-escape every
    // non-ASCII byte, turning "München" into "M\C3\BCnchen").
    constexpr unsigned long kFlags =
        XN_FLAG_SEP_CPLUS_SPC | XN_FLAG_DN_REV | XN_FLAG_FN_SN | ASN1_STRFLGS_ESC_2253 |
        ASN1_STRFLGS_ESC_CTRL | ASN1_STRFLGS_UTF8_CONVERT | ASN1_STRFLGS_DUMP_UNKNOWN | ASN1_STRFLGS_DUMP_DER;
    BioPtr bio(BIO_new(BIO_s_mem()));
    check(bio != nullptr, "cannot allocate a memory BIO");
    if (X509_NAME_print_ex(bio.get(), name, 0, kFlags) < 0)
        throwOpenSsl(ErrorCode::Internal, "cannot format a name");
    const Bytes text = bioBytes(bio.get());
    return std::string(text.begin(), text.end());
}

X509Ptr createSelfSigned(const CertificateSpec& spec, EVP_PKEY* key)
{
    if (key == nullptr)
        throw Error(ErrorCode::Internal, "createSelfSigned: no key");
    if (spec.days < 1)
        throw Error(ErrorCode::InvalidArgument, "days: must be at least 1");

    X509Ptr cert(X509_new());
    check(cert != nullptr, "cannot allocate a certificate");
    check(X509_set_version(cert.get(), X509_VERSION_3) == 1, "cannot set the version");
    check(X509_set_serialNumber(cert.get(), randomSerial().get()) == 1, "cannot set the serial number");

    const X509NamePtr name = subjectName(spec.subject);
    check(X509_set_subject_name(cert.get(), name.get()) == 1, "cannot set the subject");
    check(X509_set_issuer_name(cert.get(), name.get()) == 1, "cannot set the issuer");

    std::time_t now = std::time(nullptr);
    check(X509_time_adj_ex(X509_getm_notBefore(cert.get()), 0, -kClockSkewSeconds, &now) != nullptr,
          "cannot set notBefore");
    check(X509_time_adj_ex(X509_getm_notAfter(cert.get()), spec.days, 0, &now) != nullptr,
          "cannot set notAfter");
    check(X509_set_pubkey(cert.get(), key) == 1, "cannot set the public key");

    const ExtensionStackPtr exts = commonExtensions(spec, key);
    for (int i = 0; i < sk_X509_EXTENSION_num(exts.get()); ++i)
        check(X509_add_ext(cert.get(), sk_X509_EXTENSION_value(exts.get(), i), -1) == 1,
              "cannot add an extension");

    const Asn1OctetStringPtr ski = keyIdentifier(cert.get());
    check(X509_add1_ext_i2d(cert.get(), NID_subject_key_identifier, ski.get(), 0, X509V3_ADD_DEFAULT) == 1,
          "cannot add the subject key identifier");
    AkidPtr akid(AUTHORITY_KEYID_new());
    check(akid != nullptr, "cannot allocate the authority key identifier");
    akid->keyid = ASN1_OCTET_STRING_dup(ski.get());
    check(akid->keyid != nullptr, "cannot copy the key identifier");
    check(X509_add1_ext_i2d(cert.get(), NID_authority_key_identifier, akid.get(), 0, X509V3_ADD_DEFAULT) == 1,
          "cannot add the authority key identifier");

    if (X509_sign(cert.get(), key, signingDigest(key)) <= 0)
        throwOpenSsl(ErrorCode::Internal, "cannot sign the certificate");
    return cert;
}

X509ReqPtr createRequest(const CertificateSpec& spec, EVP_PKEY* key)
{
    if (key == nullptr)
        throw Error(ErrorCode::Internal, "createRequest: no key");
    X509ReqPtr req(X509_REQ_new());
    check(req != nullptr, "cannot allocate a request");
    check(X509_REQ_set_version(req.get(), X509_REQ_VERSION_1) == 1, "cannot set the request version");
    const X509NamePtr name = subjectName(spec.subject);
    check(X509_REQ_set_subject_name(req.get(), name.get()) == 1, "cannot set the subject");
    check(X509_REQ_set_pubkey(req.get(), key) == 1, "cannot set the public key");
    const ExtensionStackPtr exts = commonExtensions(spec, key);
    check(X509_REQ_add_extensions(req.get(), exts.get()) == 1, "cannot add the extension request");
    if (X509_REQ_sign(req.get(), key, signingDigest(key)) <= 0)
        throwOpenSsl(ErrorCode::Internal, "cannot sign the request");
    return req;
}

CertificateInfo describeCertificate(X509* cert)
{
    if (cert == nullptr)
        throw Error(ErrorCode::Internal, "describeCertificate: no certificate");
    CertificateInfo info;
    const X509_NAME* subject = X509_get_subject_name(cert);
    const X509_NAME* issuer = X509_get_issuer_name(cert);
    info.subject = distinguishedName(subject);
    info.issuer = distinguishedName(issuer);
    info.serialNumber = serialHex(X509_get0_serialNumber(cert));
    info.signatureAlgorithm = signatureAlgorithmName(cert);
    info.notBeforeUSec = asn1TimeToUSec(X509_get0_notBefore(cert));
    info.notAfterUSec = asn1TimeToUSec(X509_get0_notAfter(cert));

    EVP_PKEY* publicKey = X509_get0_pubkey(cert);
    if (publicKey != nullptr) {
        info.publicKey = publicKeyDescription(publicKey);
        info.spkiSha256 = spkiSha256Hex(publicKey);
    } else {
        ERR_clear_error();
        info.publicKey = "unknown";
    }

    if (GeneralNamesPtr sans{
            static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr))})
        info.subjectAlternativeNames = describeGeneralNames(sans.get());

    if (AiaPtr aia{
            static_cast<AUTHORITY_INFO_ACCESS*>(X509_get_ext_d2i(cert, NID_info_access, nullptr, nullptr))}) {
        for (int i = 0; i < sk_ACCESS_DESCRIPTION_num(aia.get()); ++i) {
            const ACCESS_DESCRIPTION* ad = sk_ACCESS_DESCRIPTION_value(aia.get(), i);
            if (OBJ_obj2nid(ad->method) == NID_ad_ca_issuers && ad->location->type == GEN_URI)
                info.authorityInfoAccess.push_back(asn1Text(ad->location->d.uniformResourceIdentifier));
        }
    }

    info.fingerprintSha256 = toHex(sha256(certificateDer(cert)));

    info.issuedTo = commonNameOf(subject);
    if (info.issuedTo.empty())
        for (const auto& [type, value] : info.subjectAlternativeNames)
            if (type == "DNS") {
                info.issuedTo = value;
                break;
            }
    if (info.issuedTo.empty())
        info.issuedTo = info.subject;
    info.issuedBy = commonNameOf(issuer);
    if (info.issuedBy.empty())
        info.issuedBy = info.issuer;

    info.isCa = (X509_get_extension_flags(cert) & EXFLAG_CA) != 0;
    // Both checks: a matching name alone is also what a forged or cross-signed
    // certificate shows; only our own key verifying the signature proves it.
    info.selfSigned =
        X509_NAME_cmp(subject, issuer) == 0 && publicKey != nullptr && X509_verify(cert, publicKey) == 1;
    ERR_clear_error();
    return info;
}

RequestInfo describeRequest(X509_REQ* req)
{
    if (req == nullptr)
        throw Error(ErrorCode::Internal, "describeRequest: no request");
    RequestInfo info;
    const X509_NAME* subject = X509_REQ_get_subject_name(req);
    info.subject = distinguishedName(subject);
    info.commonName = commonNameOf(subject);
    if (ExtensionStackPtr exts{X509_REQ_get_extensions(req)}) {
        if (GeneralNamesPtr sans{static_cast<GENERAL_NAMES*>(
                X509V3_get_d2i(exts.get(), NID_subject_alt_name, nullptr, nullptr))}) {
            for (const auto& [type, value] : describeGeneralNames(sans.get())) {
                if (type == "DNS")
                    info.subjectAltNames.push_back({SubjectAltName::Type::Dns, value});
                else if (type == "IP")
                    info.subjectAltNames.push_back({SubjectAltName::Type::Ip, value});
            }
        }
    }
    ERR_clear_error(); // a request without extensions leaves a "not found" entry
    if (EVP_PKEY* key = X509_REQ_get0_pubkey(req))
        info.spkiSha256 = spkiSha256Hex(key);
    ERR_clear_error();
    return info;
}

std::string certificateId(X509* cert)
{
    return toHex(sha256(certificateDer(cert))).substr(0, kIdLength);
}

Bytes certificateDer(X509* cert)
{
    return i2dBytes(cert, i2d_X509, "the certificate");
}

std::string certificatePem(X509* cert)
{
    return pemText(cert, PEM_write_bio_X509, "the certificate");
}

X509Ptr certificateFromDer(ByteView der)
{
    if (der.empty())
        throw Error(ErrorCode::InvalidCertificate, "certificate data is empty");
    if (der.size() > static_cast<std::size_t>(LONG_MAX))
        throw Error(ErrorCode::InvalidCertificate, "certificate data is too large");
    const unsigned char* p = der.data();
    X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
    if (!cert)
        throwOpenSsl(ErrorCode::InvalidCertificate, "data is not a DER certificate");
    if (p != der.data() + der.size())
        throw Error(ErrorCode::InvalidCertificate, "DER certificate is followed by extra data");
    return cert;
}

std::string requestPem(X509_REQ* req)
{
    return pemText(req, PEM_write_bio_X509_REQ, "the request");
}

X509ReqPtr requestFromPem(std::string_view pem)
{
    if (pem.empty())
        throw Error(ErrorCode::Malformed, "request data is empty");
    BioPtr bio = memoryBio(asBytes(pem));
    X509ReqPtr req(PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr));
    if (!req)
        throwOpenSsl(ErrorCode::Malformed, "data is not a PEM CERTIFICATE REQUEST");
    // "One" request: a second PEM block after it is an error, trailing
    // whitespace is not.
    const Bytes rest = [&] {
        Bytes out;
        char buf[256];
        int n = 0;
        while ((n = BIO_read(bio.get(), buf, sizeof(buf))) > 0)
            out.insert(out.end(), buf, buf + n);
        return out;
    }();
    const std::string_view tail(reinterpret_cast<const char*>(rest.data()), rest.size());
    if (tail.find("-----BEGIN") != std::string_view::npos)
        throw Error(ErrorCode::Malformed, "request data holds more than one PEM block");
    return req;
}

std::uint64_t asn1TimeToUSec(const ASN1_TIME* t)
{
    if (t == nullptr)
        throw Error(ErrorCode::InvalidCertificate, "certificate time is missing");
    std::tm tm{};
    if (ASN1_TIME_to_tm(t, &tm) != 1)
        throwOpenSsl(ErrorCode::InvalidCertificate, "certificate time is malformed");
    const std::time_t seconds = timegm(&tm);
    // Times before 1970 cannot be expressed as USec; they clamp to 0, which
    // every validity check treats as "long ago".
    if (seconds <= 0)
        return 0;
    return static_cast<std::uint64_t>(seconds) * 1000000ULL;
}

} // namespace certd::pki
