#include "chain.hpp"

#include "certificate.hpp"
#include "error.hpp"
#include "text.hpp"

#include <openssl/err.h>
#include <openssl/objects.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <tuple>

namespace certd::pki {
namespace {

// Real chains are 2-4 long; anything deeper is a loop or an attack.
constexpr std::size_t kMaxChainDepth = 10;
constexpr std::uint64_t kUSecPerSecond = 1000000ULL;
constexpr std::uint64_t kUSecPerDay = 86400ULL * kUSecPerSecond;

bool isSelfSigned(X509* cert)
{
    EVP_PKEY* key = X509_get0_pubkey(cert);
    const bool result = key != nullptr &&
                        X509_NAME_cmp(X509_get_subject_name(cert), X509_get_issuer_name(cert)) == 0 &&
                        X509_verify(cert, key) == 1;
    ERR_clear_error();
    return result;
}

bool isCa(X509* cert)
{
    return (X509_get_extension_flags(cert) & EXFLAG_CA) != 0;
}

std::uint64_t nowOr(std::uint64_t nowUSec)
{
    if (nowUSec != 0)
        return nowUSec;
    return static_cast<std::uint64_t>(std::time(nullptr)) * kUSecPerSecond;
}

bool validAt(X509* cert, std::uint64_t nowUSec)
{
    return asn1TimeToUSec(X509_get0_notBefore(cert)) <= nowUSec &&
           nowUSec <= asn1TimeToUSec(X509_get0_notAfter(cert));
}

std::string dateText(std::uint64_t usec)
{
    const auto seconds = static_cast<std::time_t>(usec / kUSecPerSecond);
    std::tm tm{};
    gmtime_r(&seconds, &tm);
    char buf[32] = {};
    std::strftime(buf, sizeof(buf), "%Y-%m-%d", &tm);
    return buf;
}

// "certificate" for the one being described, "issuer 'CN=…'" for the chain.
std::string who(DescribedCertificate cert, bool isLeaf)
{
    if (isLeaf)
        return "certificate";
    return "issuer '" + cert.info->subject + "'";
}

std::string capitalised(std::string s)
{
    if (!s.empty() && s[0] >= 'a' && s[0] <= 'z')
        s[0] = static_cast<char>(s[0] - 'a' + 'A');
    return s;
}

// A description of the key when it is too weak to trust, nullopt otherwise.
std::optional<std::string> weakKeyText(DescribedCertificate cert)
{
    const int bits = cert.traits->keyBits;
    switch (cert.traits->keyType) {
    case EVP_PKEY_RSA:
    case EVP_PKEY_RSA_PSS:
    case EVP_PKEY_DSA:
        // NIST SP 800-131A: under 2048 bits is disallowed since 2014.
        if (bits < 2048)
            return cert.info->publicKey; // publicKeyDescription()
        break;
    case EVP_PKEY_EC:
        if (bits < 256)
            return cert.info->publicKey;
        break;
    default:
        break; // Ed25519 and Ed448 have one size each, both sound; NID_undef: no key
    }
    return std::nullopt;
}

// "Ed25519" / "Ed448" when the signature on `cert` is EdDSA, nullopt otherwise.
std::optional<std::string> edDsaSignature(int signatureNid)
{
    switch (signatureNid) {
    case NID_ED25519:
        return std::string("Ed25519");
    case NID_ED448:
        return std::string("Ed448");
    default:
        return std::nullopt;
    }
}

constexpr std::string_view kEdDsaClients =
    "most browsers do not accept it in a server certificate: only clients that offer the "
    "Ed25519/Ed448 signature algorithm (OpenSSL, curl, GnuTLS; TLS 1.3 or 1.2) can connect, "
    "others fail the handshake";

// The eddsa-limited-clients text for a key of type (base id) EVP_PKEY_ED25519 or EVP_PKEY_ED448.
std::string limitedClientsText(int keyType)
{
    return "The key is " + std::string(keyType == EVP_PKEY_ED448 ? "Ed448" : "Ed25519") + ", and " +
           std::string(kEdDsaClients) + "; for browsers use ECDSA P-256 or RSA 2048";
}

// The digest name when the signature uses a broken hash (SHA-1, MD5, ...).
std::optional<std::string> brokenSignatureDigest(int signatureNid)
{
    int digestNid = NID_undef;
    int keyNid = NID_undef;
    if (OBJ_find_sigid_algs(signatureNid, &digestNid, &keyNid) != 1)
        return std::nullopt;
    switch (digestNid) {
    case NID_sha1:
        return std::string("SHA-1");
    case NID_md5:
    case NID_md5_sha1:
        return std::string("MD5");
    case NID_md4:
        return std::string("MD4");
    case NID_md2:
        return std::string("MD2");
    default:
        return std::nullopt;
    }
}

bool equalNoCase(std::string_view a, std::string_view b)
{
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

// True when the SANs cover the CN the way clients match: a literal entry,
// or a wildcard SAN for a host CN; the subject CN itself never counts.
bool sanCoversCommonName(X509* cert, const CertificateInfo& info, const std::string& cn, bool isIp)
{
    for (const auto& [type, value] : info.subjectAlternativeNames)
        if (type == (isIp ? "IP" : "DNS") && equalNoCase(value, cn))
            return true;
    const int matched =
        isIp ? X509_check_ip_asc(cert, cn.c_str(), 0)
             : X509_check_host(cert, cn.c_str(), cn.size(), X509_CHECK_FLAG_NEVER_CHECK_SUBJECT, nullptr);
    ERR_clear_error();
    return matched == 1;
}

} // namespace

std::string_view kindName(CertificateKind kind)
{
    switch (kind) {
    case CertificateKind::Server:
        return "server";
    case CertificateKind::Intermediate:
        return "intermediate";
    case CertificateKind::Root:
        return "root";
    }
    return "server";
}

CertificateKind classify(X509* cert)
{
    if (!isCa(cert))
        return CertificateKind::Server;
    return isSelfSigned(cert) ? CertificateKind::Root : CertificateKind::Intermediate;
}

bool issuedBy(X509* subject, X509* issuer)
{
    if (subject == nullptr || issuer == nullptr)
        return false;
    if (X509_NAME_cmp(X509_get_issuer_name(subject), X509_get_subject_name(issuer)) != 0)
        return false;
    // Cheap rejection before the signature check; also what tells apart two
    // CAs with the same name whose keys differ (re-keyed or decoy).
    const ASN1_OCTET_STRING* akid = X509_get0_authority_key_id(subject);
    const ASN1_OCTET_STRING* skid = X509_get0_subject_key_id(issuer);
    if (akid != nullptr && skid != nullptr && ASN1_OCTET_STRING_cmp(akid, skid) != 0)
        return false;
    EVP_PKEY* key = X509_get0_pubkey(issuer);
    const bool verified = key != nullptr && X509_verify(subject, key) == 1;
    ERR_clear_error();
    return verified;
}

ChainResult buildChain(X509* leaf, std::span<X509* const> pool)
{
    ChainResult result;
    if (leaf == nullptr)
        return result;
    if (isSelfSigned(leaf)) {
        result.complete = true;
        return result;
    }
    // Compared by content (X509_cmp), so a second copy of a certificate in
    // the pool counts as visited too.
    std::vector<X509*> visited{leaf};
    const auto seen = [&](X509* c) {
        return std::any_of(visited.begin(), visited.end(),
                           [&](X509* v) { return v == c || X509_cmp(v, c) == 0; });
    };
    const std::uint64_t now = nowOr(0);

    X509* current = leaf;
    while (result.issuers.size() < kMaxChainDepth) {
        // Among several issuers (a renewed CA, a cross-signed root) prefer one
        // valid now, then one that ends the chain, then the longest-lived.
        X509* best = nullptr;
        auto bestScore = std::make_tuple(false, false, std::uint64_t{0});
        for (X509* candidate : pool) {
            if (candidate == nullptr || seen(candidate) || !issuedBy(current, candidate))
                continue;
            const auto score = std::make_tuple(validAt(candidate, now), isSelfSigned(candidate),
                                               asn1TimeToUSec(X509_get0_notAfter(candidate)));
            if (best == nullptr || score > bestScore) {
                best = candidate;
                bestScore = score;
            }
        }
        if (best == nullptr)
            return result;
        result.issuers.push_back(best);
        if (isSelfSigned(best)) {
            result.complete = true;
            return result;
        }
        visited.push_back(best);
        current = best;
    }
    return result;
}

std::vector<Warning> certificateWarnings(X509* leaf, const ChainResult& chain, const WarningContext& context)
{
    if (leaf == nullptr)
        return {};
    const CertificateFacts leafFacts = describeFacts(leaf);
    std::vector<CertificateFacts> issuerFacts;
    issuerFacts.reserve(chain.issuers.size());
    std::vector<DescribedCertificate> issuers;
    for (X509* issuer : chain.issuers) {
        const auto& facts = issuerFacts.emplace_back(describeFacts(issuer));
        issuers.push_back({&facts.info, &facts.traits});
    }
    return certificateWarnings({&leafFacts.info, &leafFacts.traits}, leafFacts.kind, issuers, chain.complete,
                               context);
}

std::vector<Warning> certificateWarnings(DescribedCertificate leaf, CertificateKind leafKind,
                                         std::span<const DescribedCertificate> issuers, bool complete,
                                         const WarningContext& context)
{
    std::vector<Warning> warnings;
    const auto add = [&](std::string_view code, std::string text) {
        warnings.push_back({std::string(code), std::move(text)});
    };
    const std::uint64_t now = nowOr(context.nowUSec);
    const bool server = leafKind == CertificateKind::Server;

    std::vector<DescribedCertificate> all{leaf};
    all.insert(all.end(), issuers.begin(), issuers.end());

    for (std::size_t i = 0; i < all.size(); ++i) {
        const DescribedCertificate cert = all[i];
        const bool isLeaf = i == 0;
        const std::uint64_t notBefore = cert.info->notBeforeUSec;
        const std::uint64_t notAfter = cert.info->notAfterUSec;
        if (notAfter < now)
            add(warning::kExpired, capitalised(who(cert, isLeaf)) + " expired on " + dateText(notAfter) +
                                       (isLeaf ? "; renew it and assign the new certificate"
                                               : "; import the issuer's renewed certificate"));
        else if (notBefore > now)
            add(warning::kNotYetValid, capitalised(who(cert, isLeaf)) + " is not valid until " +
                                           dateText(notBefore) +
                                           "; check the appliance clock or wait until then");
        else if (isLeaf && notAfter - now <= context.expiringWithinDays * kUSecPerDay)
            add(warning::kExpiringSoon, "Certificate expires on " + dateText(notAfter) + ", in " +
                                            std::to_string((notAfter - now) / kUSecPerDay) +
                                            " days; renew it before then");
    }

    if (server && !context.hasPrivateKey)
        add(warning::kNoPrivateKey,
            "Certificate has no private key on this appliance; import the key or re-key");

    if (!complete) {
        const CertificateInfo& info = issuers.empty() ? *leaf.info : *issuers.back().info;
        std::string text =
            "Chain incomplete: issuer '" + info.issuer + "' is not on this appliance; import it";
        if (!info.authorityInfoAccess.empty())
            text += " or use FetchIssuer";
        add(warning::kChainIncomplete, text);
    }

    for (std::size_t i = 0; i < all.size(); ++i) {
        const DescribedCertificate cert = all[i];
        const bool isLeaf = i == 0;
        if (auto weak = weakKeyText(cert))
            add(warning::kWeakKey, capitalised(who(cert, isLeaf)) + " uses a weak key (" + *weak + "); " +
                                       (isLeaf ? "re-key with RSA 2048 or larger, or ECDSA P-256"
                                               : "ask the CA for a chain with RSA 2048+ or ECDSA keys"));
        // A trust anchor's self-signature is never checked by clients (its
        // trust comes from being in the store), so a SHA-1 root is harmless;
        // a self-signed server certificate is still flagged, as it is re-made
        // in a second with certd.
        if (cert.info->isCa && cert.info->selfSigned)
            continue;
        if (auto digest = brokenSignatureDigest(cert.traits->signatureNid))
            add(warning::kSha1Signature,
                capitalised(who(cert, isLeaf)) + " is signed with " + *digest + ", which clients reject; " +
                    (isLeaf ? "have it re-issued with SHA-256" : "import a SHA-256 version of the issuer"));
    }

    // Served only to clients that offer EdDSA: the leaf's key signs the handshake, and a
    // client must verify every EdDSA signature in the chain but the root's self-signature.
    if (server || context.hasPrivateKey) {
        for (std::size_t i = 0; i < all.size(); ++i) {
            const DescribedCertificate cert = all[i];
            const bool isLeaf = i == 0;
            const int keyType = cert.traits->keyType;
            if (isLeaf && (keyType == EVP_PKEY_ED25519 || keyType == EVP_PKEY_ED448))
                add(warning::kEdDsaLimitedClients, limitedClientsText(keyType));
            else if (auto algorithm = edDsaSignature(cert.traits->signatureNid);
                     algorithm && !cert.info->selfSigned)
                add(warning::kEdDsaLimitedClients, capitalised(who(cert, isLeaf)) + " is signed with " +
                                                       *algorithm + ", and " + std::string(kEdDsaClients) +
                                                       "; for browsers use a chain of RSA or ECDSA CAs");
        }
    }

    if (server) {
        bool hasHostSan = false;
        for (const auto& [type, value] : leaf.info->subjectAlternativeNames)
            hasHostSan = hasHostSan || type == "DNS" || type == "IP";
        if (!hasHostSan) {
            add(warning::kNoSubjectAltName,
                "Certificate has no subject alternative names; browsers ignore the "
                "common name, so re-issue it with its host names as SANs");
        } else if (leaf.traits->commonNameNotInSan) {
            add(warning::kCommonNameNotInSan,
                "Common name '" + leaf.info->issuedTo +
                    "' is not among the subject alternative names, so clients reject it under that "
                    "name; re-issue the certificate with it as a SAN");
        }
    }
    return warnings;
}

CertificateFacts describeFacts(X509* cert)
{
    CertificateFacts facts;
    facts.info = describeCertificate(cert);
    facts.kind = !facts.info.isCa        ? CertificateKind::Server
                 : facts.info.selfSigned ? CertificateKind::Root
                                         : CertificateKind::Intermediate;
    facts.traits.subjectHash = static_cast<std::uint32_t>(X509_subject_name_hash(cert));
    facts.traits.issuerHash = static_cast<std::uint32_t>(X509_issuer_name_hash(cert));
    facts.traits.signatureNid = X509_get_signature_nid(cert);
    if (EVP_PKEY* key = X509_get0_pubkey(cert)) {
        facts.traits.keyType = EVP_PKEY_get_base_id(key);
        facts.traits.keyBits = EVP_PKEY_get_bits(key);
    }

    // The issuer identity: each part length-prefixed, an absent SKI apart from an empty one.
    Bytes identity;
    const auto append = [&](const unsigned char* data, int length, bool present) {
        identity.push_back(present ? 1 : 0);
        const auto n = static_cast<std::uint32_t>(length < 0 ? 0 : length);
        for (int shift = 24; shift >= 0; shift -= 8)
            identity.push_back(static_cast<std::uint8_t>(n >> shift));
        if (data != nullptr && n > 0)
            identity.insert(identity.end(), data, data + n);
    };
    const auto appendDer = [&](int length, unsigned char* der) {
        append(der, length, length >= 0);
        OPENSSL_free(der);
    };
    unsigned char* der = nullptr;
    int length = i2d_X509_NAME(X509_get_subject_name(cert), &der);
    appendDer(length, der);
    const ASN1_OCTET_STRING* skid = X509_get0_subject_key_id(cert);
    append(skid ? ASN1_STRING_get0_data(skid) : nullptr, skid ? ASN1_STRING_length(skid) : 0,
           skid != nullptr);
    der = nullptr;
    length = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der);
    appendDer(length, der);
    const Bytes digest = sha256(identity);
    std::copy_n(digest.begin(), facts.traits.issuerIdentity.size(), facts.traits.issuerIdentity.begin());
    const auto hash64 = [](const ASN1_OCTET_STRING* octets) {
        const Bytes d = sha256(
            ByteView(ASN1_STRING_get0_data(octets), static_cast<std::size_t>(ASN1_STRING_length(octets))));
        std::uint64_t v = 0;
        for (int i = 0; i < 8; ++i)
            v = v << 8 | d[static_cast<std::size_t>(i)];
        return v;
    };
    if (const ASN1_OCTET_STRING* akid = X509_get0_authority_key_id(cert)) {
        facts.traits.hasAuthorityKeyId = true;
        facts.traits.authorityKeyIdHash = hash64(akid);
    }
    if (skid != nullptr) {
        facts.traits.hasSubjectKeyId = true;
        facts.traits.subjectKeyIdHash = hash64(skid);
    }

    if (facts.kind == CertificateKind::Server) {
        bool hasHostSan = false;
        for (const auto& [type, value] : facts.info.subjectAlternativeNames)
            hasHostSan = hasHostSan || type == "DNS" || type == "IP";
        // issuedTo is the subject CN when there is one (else a SAN fallback).
        const bool hasCn = X509_NAME_get_index_by_NID(X509_get_subject_name(cert), NID_commonName, -1) >= 0;
        const std::string cn = hasCn ? facts.info.issuedTo : std::string();
        // Only a CN that names a host (IP literal, dotted DNS name) is
        // expected among the SANs; "Appliance" is a label for people.
        const bool isIp = parseIp(cn).has_value();
        const bool hostLike = isIp || (cn.find('.') != std::string::npos && isValidDnsName(cn, true));
        facts.traits.commonNameNotInSan =
            hasHostSan && !cn.empty() && hostLike && !sanCoversCommonName(cert, facts.info, cn, isIp);
    }
    ERR_clear_error();
    return facts;
}

std::optional<Warning> limitedClientsWarning(EVP_PKEY* key)
{
    if (key == nullptr || !isEdDsa(key))
        return std::nullopt;
    return Warning{std::string(warning::kEdDsaLimitedClients), limitedClientsText(EVP_PKEY_get_base_id(key))};
}

} // namespace certd::pki
