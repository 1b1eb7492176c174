#pragma once

#include "spec.hpp"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace certd::pki {

// X.509 v3, random positive 128-bit serial, SHA-256 (Ed25519/Ed448: the
// algorithm alone, no digest), SAN, basicConstraints
// CA:FALSE (critical), keyUsage for the key type, EKU serverAuth, SKI/AKI.
// The spec must have passed validateSpec().
X509Ptr createSelfSigned(const CertificateSpec& spec, EVP_PKEY* key);
// PKCS#10 with the SANs (and EKU/keyUsage) in the extension request, signed as above.
X509ReqPtr createRequest(const CertificateSpec& spec, EVP_PKEY* key);

// What the bus shows of a certificate.
struct CertificateInfo {
    std::string subject; // RFC 2253-like one line, e.g. "CN=a, O=b, C=DE"
    std::string issuer;
    std::string issuedTo;           // subject CN (or the first SAN, or the subject)
    std::string issuedBy;           // issuer CN (or the issuer)
    std::string serialNumber;       // upper-case hex
    std::string signatureAlgorithm; // e.g. "sha256WithRSAEncryption"
    std::uint64_t notBeforeUSec = 0;
    std::uint64_t notAfterUSec = 0;
    std::string publicKey;                                                    // publicKeyDescription()
    std::vector<std::pair<std::string, std::string>> subjectAlternativeNames; // ("DNS", "a.example")
    std::vector<std::string> authorityInfoAccess;                             // caIssuers URLs
    std::string fingerprintSha256;                                            // hex of SHA-256 of the DER
    std::string spkiSha256;                                                   // hex, see spkiSha256Hex()
    bool isCa = false;                                                        // basicConstraints CA:TRUE
    bool selfSigned = false; // subject == issuer and the signature verifies with its own key
};
CertificateInfo describeCertificate(X509* cert);

struct RequestInfo {
    std::string subject;
    std::string commonName;
    std::vector<SubjectAltName> subjectAltNames;
    std::string spkiSha256;
};
RequestInfo describeRequest(X509_REQ* req);

// A certificate's id: the first kIdLength hex digits of its SHA-256 fingerprint.
std::string certificateId(X509* cert);

Bytes certificateDer(X509* cert);
std::string certificatePem(X509* cert);
// Throws Error(InvalidCertificate) when the bytes are not one DER certificate.
X509Ptr certificateFromDer(ByteView der);

std::string requestPem(X509_REQ* req);
// Throws Error(Malformed) when the text is not one PEM CERTIFICATE REQUEST.
X509ReqPtr requestFromPem(std::string_view pem);

// A name as one line, most specific first, ", " between parts, UTF-8 kept:
// "CN=www.example.com, O=Example, C=DE" (what Subject and Issuer show).
std::string distinguishedName(const X509_NAME* name);

// Microseconds since the epoch of an ASN1_TIME.
std::uint64_t asn1TimeToUSec(const ASN1_TIME* t);

} // namespace certd::pki
