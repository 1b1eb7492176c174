#pragma once

#include "certificate.hpp"
#include "spec.hpp"

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace certd::pki {

enum class CertificateKind { Server, Intermediate, Root };
std::string_view kindName(CertificateKind kind); // "server", "intermediate", "root"

// Root: a self-signed CA; intermediate: any other CA; server: everything else.
CertificateKind classify(X509* cert);

// True when `issuer` issued `subject`: names match, AKI/SKI agree when both
// are present, and the signature verifies with the issuer's key.
bool issuedBy(X509* subject, X509* issuer);

// What certd derives from a certificate, beyond its description and kind, for chain building
// and warnings: with these the Manager holds no parsed certificate.
struct CertificateTraits {
    std::uint32_t subjectHash = 0; // X509_subject_name_hash
    std::uint32_t issuerHash = 0;  // X509_issuer_name_hash
    // SHA-256 over all that issuedBy() reads of a certificate as the issuer: its subject name
    // (DER), its subject key identifier and its SubjectPublicKeyInfo (DER). Two certificates
    // with the same identity issued the same certificates.
    std::array<std::uint8_t, 32> issuerIdentity{};
    // The first 8 bytes of the SHA-256 of the authority and subject key identifiers, when
    // present: issuedBy()'s cheap rejection (both present and different) without parsing.
    std::uint64_t authorityKeyIdHash = 0;
    std::uint64_t subjectKeyIdHash = 0;
    bool hasAuthorityKeyId = false;
    bool hasSubjectKeyId = false;
    int signatureNid = 0; // X509_get_signature_nid
    int keyType = 0;      // EVP_PKEY_get_base_id of the public key; 0 (NID_undef): none
    int keyBits = 0;      // EVP_PKEY_get_bits
    // A server certificate whose CN names a host (IP, dotted DNS name) its SANs do not cover
    // (clients' matching, RFC 6125): the common-name-not-in-san warning.
    bool commonNameNotInSan = false;
    bool operator==(const CertificateTraits&) const = default;
};

// All of the above: a function of the DER alone, so a certificate id names it for good
// (which is what lets the Manager cache it on disk).
struct CertificateFacts {
    CertificateInfo info;
    CertificateKind kind = CertificateKind::Server;
    CertificateTraits traits;
};
CertificateFacts describeFacts(X509* cert);

struct ChainResult {
    std::vector<X509*> issuers; // the leaf's issuer first, up to the root if found
    bool complete = false;      // ends in a self-signed certificate
};

// Builds the chain of `leaf` from `pool` (which may contain the leaf itself and
// unrelated certificates); never loops.
ChainResult buildChain(X509* leaf, std::span<X509* const> pool);

// Stable warning codes.
namespace warning {
inline constexpr std::string_view kChainIncomplete = "chain-incomplete";
inline constexpr std::string_view kExpired = "expired";
inline constexpr std::string_view kNotYetValid = "not-yet-valid";
inline constexpr std::string_view kExpiringSoon = "expiring-soon";
inline constexpr std::string_view kNoPrivateKey = "no-private-key";
inline constexpr std::string_view kWeakKey = "weak-key";
inline constexpr std::string_view kSha1Signature = "sha1-signature";
inline constexpr std::string_view kNoSubjectAltName = "no-subject-alt-name";
inline constexpr std::string_view kCommonNameNotInSan = "common-name-not-in-san";
inline constexpr std::string_view kStateAbbreviated = "state-abbreviated";
inline constexpr std::string_view kIpSubjectAltName = "ip-subject-alt-name";
inline constexpr std::string_view kEdDsaLimitedClients = "eddsa-limited-clients";
} // namespace warning

struct WarningContext {
    bool hasPrivateKey = false;
    std::uint64_t nowUSec = 0; // 0: the current time
    unsigned expiringWithinDays = 30;
};

// The warnings a certificate carries. No-private-key and SAN warnings apply
// to server certificates only; expiring-soon to `leaf` itself (any kind), not
// its issuers; validity, weak key and SHA-1 to the leaf and every certificate
// in its chain, except the SHA-1 self-signature of a root, which clients never
// check; eddsa-limited-clients to a certificate that can be served (a server
// certificate, or any with a key) whose key, or whose chain's signatures, are
// Ed25519/Ed448. Texts name the certificate at fault and say what to do.
std::vector<Warning> certificateWarnings(X509* leaf, const ChainResult& chain, const WarningContext& context);
// The same from what the Manager holds of the certificates instead of them.
struct DescribedCertificate {
    const CertificateInfo* info = nullptr;
    const CertificateTraits* traits = nullptr;
};
std::vector<Warning> certificateWarnings(DescribedCertificate leaf, CertificateKind leafKind,
                                         std::span<const DescribedCertificate> issuers, bool complete,
                                         const WarningContext& context);

// eddsa-limited-clients for a new certificate's or request's key when it is Ed25519 or
// Ed448 (most browsers refuse such server certificates); nullopt for RSA and ECDSA.
std::optional<Warning> limitedClientsWarning(EVP_PKEY* key);

} // namespace certd::pki
