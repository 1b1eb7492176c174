#include "cert_factory.hpp"
#include "error.hpp"
#include "pki/certificate.hpp"
#include "pki/chain.hpp"
#include "process.hpp"
#include "temp_dir.hpp"

#include <doctest/doctest.h>

#include <openssl/err.h>

#include <algorithm>
#include <ctime>
#include <optional>
#include <string>
#include <vector>

using namespace certd;
using namespace certd::pki;
using namespace certd::test;

namespace {

constexpr long kDay = 86400;

std::uint64_t nowUSec()
{
    return static_cast<std::uint64_t>(std::time(nullptr)) * 1000000ULL;
}

std::vector<std::string> codesOf(const std::vector<Warning>& warnings)
{
    std::vector<std::string> out;
    out.reserve(warnings.size());
    for (const auto& w : warnings)
        out.push_back(w.code);
    return out;
}

bool hasCode(const std::vector<Warning>& warnings, std::string_view code)
{
    return std::any_of(warnings.begin(), warnings.end(), [&](const Warning& w) { return w.code == code; });
}

// The first warning with the code (a copy: callers often pass a temporary).
std::optional<Warning> find(const std::vector<Warning>& warnings, std::string_view code)
{
    for (const auto& w : warnings)
        if (w.code == code)
            return w;
    return std::nullopt;
}

WarningContext goodContext()
{
    WarningContext context;
    context.hasPrivateKey = true;
    context.nowUSec = nowUSec();
    context.expiringWithinDays = 30;
    return context;
}

// Warnings of `leaf` with its chain built from `pool`.
std::vector<Warning> warningsFor(X509* leaf, std::vector<X509*> pool, WarningContext context = goodContext())
{
    return certificateWarnings(leaf, buildChain(leaf, pool), context);
}

IssueOptions caOptions(const std::string& cn)
{
    IssueOptions options;
    options.commonName = cn;
    options.ca = true;
    return options;
}

IssueOptions serverOptions(const std::string& cn = "leaf.example.com")
{
    IssueOptions options;
    options.commonName = cn;
    options.dnsNames = {cn};
    return options;
}

// A copy of `cert` whose subject key identifier is replaced, re-signed with `key`.
X509Ptr withOtherSki(X509* cert, EVP_PKEY* key)
{
    X509Ptr copy(X509_dup(cert));
    REQUIRE(copy);
    const int index = X509_get_ext_by_NID(copy.get(), NID_subject_key_identifier, -1);
    REQUIRE(index >= 0);
    X509ExtensionPtr old(X509_delete_ext(copy.get(), index));
    Asn1OctetStringPtr ski(ASN1_OCTET_STRING_new());
    const unsigned char other[20] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20};
    REQUIRE(ASN1_OCTET_STRING_set(ski.get(), other, sizeof(other)) == 1);
    REQUIRE(X509_add1_ext_i2d(copy.get(), NID_subject_key_identifier, ski.get(), 0, X509V3_ADD_DEFAULT) == 1);
    REQUIRE(X509_sign(copy.get(), key, EVP_sha256()) > 0);
    return copy;
}

} // namespace

TEST_CASE("kind names are stable")
{
    CHECK(kindName(CertificateKind::Server) == "server");
    CHECK(kindName(CertificateKind::Intermediate) == "intermediate");
    CHECK(kindName(CertificateKind::Root) == "root");
}

TEST_CASE("classify: self-signed CA is root, other CA intermediate, everything else server")
{
    const TestPki pki = makeTestPki();
    CHECK(classify(pki.root.cert.get()) == CertificateKind::Root);
    CHECK(classify(pki.intermediate.cert.get()) == CertificateKind::Intermediate);
    CHECK(classify(pki.leaf.cert.get()) == CertificateKind::Server);
    // A self-signed certificate without CA:TRUE is a server certificate.
    CHECK(classify(makeSelfSigned(serverOptions("self.example.com")).cert.get()) == CertificateKind::Server);
    // A CA named like its issuer but signed by another key is not a root.
    const TestCert lookalike = issue(pki.root, caOptions("Test Root CA"));
    CHECK(classify(lookalike.cert.get()) == CertificateKind::Intermediate);
}

TEST_CASE("issuedBy needs matching names and a verifying signature")
{
    const TestPki pki = makeTestPki();
    CHECK(issuedBy(pki.leaf.cert.get(), pki.intermediate.cert.get()));
    CHECK(issuedBy(pki.intermediate.cert.get(), pki.root.cert.get()));
    CHECK(issuedBy(pki.root.cert.get(), pki.root.cert.get()));
    CHECK_FALSE(issuedBy(pki.leaf.cert.get(), pki.root.cert.get()));
    CHECK_FALSE(issuedBy(pki.intermediate.cert.get(), pki.leaf.cert.get()));
    CHECK_FALSE(issuedBy(pki.leaf.cert.get(), nullptr));

    // Same subject name, different key, no AKI to tell them apart: only the signature can.
    const TestCert root = makeRoot("Decoy Root", KeyType::EcP256, 10);
    const TestCert decoy = makeRoot("Decoy Root", KeyType::EcP256, 11);
    IssueOptions noAki = serverOptions();
    noAki.authorityKeyId = false;
    const TestCert leaf = issue(root, noAki);
    CHECK(issuedBy(leaf.cert.get(), root.cert.get()));
    CHECK_FALSE(issuedBy(leaf.cert.get(), decoy.cert.get()));
    CHECK(ERR_peek_error() == 0); // a failed check leaves the error queue clean
}

TEST_CASE("issuedBy rejects an issuer whose SKI differs from the AKI even when the signature verifies")
{
    const TestCert root = makeRoot("SKI Root", KeyType::EcP256, 12);
    const TestCert leaf = issue(root, serverOptions());
    const X509Ptr sameKeyOtherSki = withOtherSki(root.cert.get(), root.key.get());
    REQUIRE(X509_verify(leaf.cert.get(), X509_get0_pubkey(sameKeyOtherSki.get())) == 1);
    CHECK_FALSE(issuedBy(leaf.cert.get(), sameKeyOtherSki.get()));
    CHECK(issuedBy(leaf.cert.get(), root.cert.get()));
}

TEST_CASE("buildChain finds intermediate and root in a shuffled pool with decoys")
{
    const TestPki pki = makeTestPki();
    // Decoys with the very names of the real CAs but other keys.
    const TestCert decoyRoot = makeRoot("Test Root CA", KeyType::EcP256, 20);
    const TestCert decoyIntermediate = issue(pki.root, caOptions("Test Intermediate CA"));
    const TestCert unrelated = makeRoot("Unrelated Root", KeyType::EcP256, 21);
    const TestCert otherLeaf = issue(pki.intermediate, serverOptions("other.example.com"));

    std::vector<X509*> pool{decoyRoot.cert.get(),         pki.leaf.cert.get(),  unrelated.cert.get(),
                            decoyIntermediate.cert.get(), otherLeaf.cert.get(), pki.root.cert.get(),
                            pki.intermediate.cert.get()};
    for (int round = 0; round < 2; ++round) {
        for (std::size_t r = 0; r < pool.size(); ++r) {
            std::rotate(pool.begin(), pool.begin() + 1, pool.end());
            const ChainResult chain = buildChain(pki.leaf.cert.get(), pool);
            REQUIRE(chain.issuers.size() == 2);
            CHECK(chain.issuers[0] == pki.intermediate.cert.get());
            CHECK(chain.issuers[1] == pki.root.cert.get());
            CHECK(chain.complete);
        }
        std::reverse(pool.begin(), pool.end());
    }

    // The chain is one openssl accepts.
    TempDir dir;
    writeTestFile(dir / "root.pem", certificatePem(pki.root.cert.get()));
    writeTestFile(dir / "chain.pem", certificatePem(pki.intermediate.cert.get()));
    const auto verify =
        runProcess({"openssl", "verify", "-CAfile", dir / "root.pem", "-untrusted", dir / "chain.pem"},
                   certificatePem(pki.leaf.cert.get()));
    CHECK(verify.exitCode == 0);
}

TEST_CASE("buildChain without the root is incomplete and stops at the last issuer found")
{
    const TestPki pki = makeTestPki();
    const TestCert decoyRoot = makeRoot("Test Root CA", KeyType::EcP256, 22);
    const std::vector<X509*> pool{pki.leaf.cert.get(), pki.intermediate.cert.get(), decoyRoot.cert.get()};
    const ChainResult chain = buildChain(pki.leaf.cert.get(), pool);
    REQUIRE(chain.issuers.size() == 1);
    CHECK(chain.issuers[0] == pki.intermediate.cert.get());
    CHECK_FALSE(chain.complete);

    const ChainResult none = buildChain(pki.leaf.cert.get(), {});
    CHECK(none.issuers.empty());
    CHECK_FALSE(none.complete);
}

TEST_CASE("buildChain of a self-signed certificate is empty and complete")
{
    const TestCert self = makeSelfSigned(serverOptions("self.example.com"));
    const TestPki pki = makeTestPki();
    const std::vector<X509*> pool{self.cert.get(), pki.root.cert.get(), pki.intermediate.cert.get()};
    const ChainResult chain = buildChain(self.cert.get(), pool);
    CHECK(chain.issuers.empty());
    CHECK(chain.complete);
    const ChainResult root = buildChain(pki.root.cert.get(), pool);
    CHECK(root.issuers.empty());
    CHECK(root.complete);
}

TEST_CASE("buildChain terminates on cross-signed CAs")
{
    const TestCert a0 = makeRoot("Cross A", KeyType::EcP256, 30);
    const TestCert b0 = makeRoot("Cross B", KeyType::EcP256, 31);
    // A signed by B and B signed by A: following issuers goes round in a circle.
    const TestCert aByB = issue(b0, caOptions("Cross A"), testKey(KeyType::EcP256, 30));
    const TestCert bByA = issue(a0, caOptions("Cross B"), testKey(KeyType::EcP256, 31));
    const TestCert leaf = issue(aByB, serverOptions());

    const std::vector<X509*> pool{bByA.cert.get(), aByB.cert.get(), leaf.cert.get()};
    const ChainResult chain = buildChain(leaf.cert.get(), pool);
    REQUIRE(chain.issuers.size() == 2);
    CHECK(chain.issuers[0] == aByB.cert.get());
    CHECK(chain.issuers[1] == bByA.cert.get());
    CHECK_FALSE(chain.complete);

    // With a self-signed A in the pool the walk ends there instead.
    const std::vector<X509*> withRoot{bByA.cert.get(), aByB.cert.get(), a0.cert.get(), leaf.cert.get()};
    const ChainResult rooted = buildChain(leaf.cert.get(), withRoot);
    REQUIRE_FALSE(rooted.issuers.empty());
    CHECK(rooted.issuers.front() == a0.cert.get()); // same key as aByB; the self-signed one ends the chain
    CHECK(rooted.complete);
}

TEST_CASE("buildChain stops after a bounded depth")
{
    std::vector<TestCert> cas;
    cas.push_back(makeRoot("Depth 0", KeyType::EcP256, 40));
    for (int i = 1; i <= 14; ++i)
        cas.push_back(issue(cas.back(), caOptions("Depth " + std::to_string(i))));
    const TestCert leaf = issue(cas.back(), serverOptions());
    std::vector<X509*> pool;
    pool.reserve(cas.size());
    for (const auto& ca : cas)
        pool.push_back(ca.cert.get());
    const ChainResult chain = buildChain(leaf.cert.get(), pool);
    CHECK(chain.issuers.size() == 10);
    CHECK_FALSE(chain.complete);
}

TEST_CASE("buildChain prefers a currently valid issuer over an expired one with the same key")
{
    const TestCert root = makeRoot("Renewal Root", KeyType::EcP256, 41);
    auto intermediateKey = testKey(KeyType::EcP256, 42);
    IssueOptions expiredOptions = caOptions("Renewal CA");
    expiredOptions.notBeforeOffsetSeconds = -400 * kDay;
    expiredOptions.notAfterOffsetSeconds = -10 * kDay;
    const TestCert expired = issue(root, expiredOptions, testKey(KeyType::EcP256, 42));
    const TestCert current = issue(root, caOptions("Renewal CA"), std::move(intermediateKey));
    const TestCert leaf = issue(current, serverOptions());

    for (const auto& pool : {std::vector<X509*>{expired.cert.get(), current.cert.get(), root.cert.get()},
                             std::vector<X509*>{current.cert.get(), expired.cert.get(), root.cert.get()}}) {
        const ChainResult chain = buildChain(leaf.cert.get(), pool);
        REQUIRE(chain.issuers.size() == 2);
        CHECK(chain.issuers[0] == current.cert.get());
        CHECK(chain.complete);
    }
}

TEST_CASE("a good leaf with its full chain and key carries no warnings")
{
    const TestPki pki = makeTestPki();
    const std::vector<X509*> pool{pki.root.cert.get(), pki.intermediate.cert.get()};
    CHECK(warningsFor(pki.leaf.cert.get(), pool).empty());
    CHECK(warningsFor(pki.intermediate.cert.get(), pool).empty());
    CHECK(warningsFor(pki.root.cert.get(), pool).empty());

    // A self-signed certificate made by certd itself is clean too.
    CertificateSpec spec;
    spec.subject.commonName = "www.example.com";
    (void)validateSpec(spec);
    const auto key = testKey(KeyType::EcP256);
    const auto self = createSelfSigned(spec, key.get());
    CHECK(warningsFor(self.get(), {}).empty());
}

TEST_CASE("chain-incomplete names the missing issuer and suggests FetchIssuer when AIA is present")
{
    const TestPki pki = makeTestPki();
    const auto warnings = warningsFor(pki.leaf.cert.get(), {pki.intermediate.cert.get()});
    CHECK(codesOf(warnings) == std::vector<std::string>{std::string(warning::kChainIncomplete)});
    CHECK(warnings[0].text ==
          "Chain incomplete: issuer 'CN=Test Root CA' is not on this appliance; import it");

    IssueOptions withAia = serverOptions();
    withAia.caIssuersUrls = {"http://ca.example.com/inter.cer"};
    const TestCert leaf = issue(pki.intermediate, withAia);
    const auto noIssuer = warningsFor(leaf.cert.get(), {});
    const auto w = find(noIssuer, warning::kChainIncomplete);
    REQUIRE(w);
    CHECK(w->text == "Chain incomplete: issuer 'CN=Test Intermediate CA' is not on this appliance; import it "
                     "or use FetchIssuer");
}

TEST_CASE("expired and not-yet-valid are flagged on the leaf and on chain certificates")
{
    const TestPki pki = makeTestPki();
    IssueOptions expiredOptions = serverOptions();
    expiredOptions.notBeforeOffsetSeconds = -100 * kDay;
    expiredOptions.notAfterOffsetSeconds = -1 * kDay;
    const TestCert expired = issue(pki.intermediate, expiredOptions);
    const auto e = warningsFor(expired.cert.get(), {pki.intermediate.cert.get(), pki.root.cert.get()});
    CHECK(codesOf(e) == std::vector<std::string>{std::string(warning::kExpired)});
    CHECK(e[0].text.rfind("Certificate expired on ", 0) == 0);

    IssueOptions futureOptions = serverOptions();
    futureOptions.notBeforeOffsetSeconds = 2 * kDay;
    const TestCert future = issue(pki.intermediate, futureOptions);
    const auto f = warningsFor(future.cert.get(), {pki.intermediate.cert.get(), pki.root.cert.get()});
    CHECK(codesOf(f) == std::vector<std::string>{std::string(warning::kNotYetValid)});
    CHECK(f[0].text.find("check the appliance clock") != std::string::npos);

    // An expired intermediate spoils a valid leaf.
    IssueOptions oldCa = caOptions("Old CA");
    oldCa.notBeforeOffsetSeconds = -100 * kDay;
    oldCa.notAfterOffsetSeconds = -1 * kDay;
    const TestCert oldIntermediate = issue(pki.root, oldCa);
    const TestCert leaf = issue(oldIntermediate, serverOptions());
    const auto chained = warningsFor(leaf.cert.get(), {oldIntermediate.cert.get(), pki.root.cert.get()});
    const auto w = find(chained, warning::kExpired);
    REQUIRE(w);
    CHECK(w->text.find("Issuer 'CN=Old CA'") != std::string::npos);
}

TEST_CASE("expiring-soon follows expiringWithinDays and the context clock")
{
    const TestPki pki = makeTestPki();
    const std::vector<X509*> pool{pki.intermediate.cert.get(), pki.root.cert.get()};
    IssueOptions soon = serverOptions();
    soon.notAfterOffsetSeconds = 10 * kDay + 3600;
    const TestCert leaf = issue(pki.intermediate, soon);

    const auto within30 = warningsFor(leaf.cert.get(), pool);
    CHECK(codesOf(within30) == std::vector<std::string>{std::string(warning::kExpiringSoon)});
    CHECK(within30[0].text.find("in 10 days") != std::string::npos);

    WarningContext narrow = goodContext();
    narrow.expiringWithinDays = 5;
    CHECK(warningsFor(leaf.cert.get(), pool, narrow).empty());

    // The context's clock is what counts: a year on, the 365-day leaf has expired.
    WarningContext later = goodContext();
    later.nowUSec = nowUSec() + 366ULL * 86400 * 1000000ULL;
    CHECK(hasCode(warningsFor(pki.leaf.cert.get(), pool, later), warning::kExpired));
    CHECK_FALSE(hasCode(warningsFor(pki.leaf.cert.get(), pool), warning::kExpired));
}

TEST_CASE("no-private-key applies to server certificates only")
{
    const TestPki pki = makeTestPki();
    const std::vector<X509*> pool{pki.intermediate.cert.get(), pki.root.cert.get()};
    WarningContext noKey = goodContext();
    noKey.hasPrivateKey = false;
    const auto leaf = warningsFor(pki.leaf.cert.get(), pool, noKey);
    CHECK(codesOf(leaf) == std::vector<std::string>{std::string(warning::kNoPrivateKey)});
    CHECK(leaf[0].text == "Certificate has no private key on this appliance; import the key or re-key");
    CHECK(warningsFor(pki.intermediate.cert.get(), pool, noKey).empty());
    CHECK(warningsFor(pki.root.cert.get(), pool, noKey).empty());
}

TEST_CASE("eddsa-limited-clients flags a servable certificate with an Ed25519 or Ed448 key, and nothing else")
{
    for (const auto type : {KeyType::Ed25519, KeyType::Ed448}) {
        const std::string name = type == KeyType::Ed25519 ? "Ed25519" : "Ed448";
        CAPTURE(name);
        // Self-signed, as certd makes it: the one warning, naming the algorithm and the way out.
        const TestCert self = makeSelfSigned(serverOptions(), testKey(type));
        const auto warnings = warningsFor(self.cert.get(), {});
        CHECK(codesOf(warnings) == std::vector<std::string>{std::string(warning::kEdDsaLimitedClients)});
        REQUIRE(!warnings.empty());
        CHECK(warnings[0].text.find("The key is " + name + ", and most browsers do not accept it") == 0);
        CHECK(warnings[0].text.find("use ECDSA P-256 or RSA 2048") != std::string::npos);
        // Without its key a server certificate still says so (it is what would be served).
        WarningContext noKey = goodContext();
        noKey.hasPrivateKey = false;
        CHECK(hasCode(warningsFor(self.cert.get(), {}, noKey), warning::kEdDsaLimitedClients));
        // Not weak: both come in one sound strength.
        CHECK_FALSE(hasCode(warnings, warning::kWeakKey));

        // An Ed25519 root that certd only trusts (no key, never served) carries nothing.
        const TestCert root = makeRoot("Ed Root " + name, type, 40);
        CHECK(warningsFor(root.cert.get(), {}, noKey).empty());
    }
    // RSA and ECDSA: none.
    CHECK_FALSE(limitedClientsWarning(testKey(KeyType::EcP256).get()));
    CHECK_FALSE(limitedClientsWarning(testKey(KeyType::Rsa2048).get()));
    const auto w = limitedClientsWarning(testKey(KeyType::Ed448).get());
    REQUIRE(w);
    CHECK(w->code == "eddsa-limited-clients");
    CHECK(w->text.find("Ed448") != std::string::npos);
}

TEST_CASE("eddsa-limited-clients flags an ECDSA leaf whose issuer signs with Ed25519, naming it")
{
    // Ed25519 root -> Ed25519 intermediate -> ECDSA leaf: a client must verify the
    // intermediate's Ed25519 signature on the leaf and the root's on the intermediate.
    const TestCert root = makeRoot("Ed Root", KeyType::Ed25519, 41);
    const TestCert intermediate = issue(root, caOptions("Ed CA"), testKey(KeyType::Ed25519, 42));
    const TestCert leaf = issue(intermediate, serverOptions());
    const std::vector<X509*> pool{intermediate.cert.get(), root.cert.get()};
    REQUIRE(buildChain(leaf.cert.get(), pool).complete);
    const auto warnings = warningsFor(leaf.cert.get(), pool);
    CHECK(codesOf(warnings) == std::vector<std::string>{std::string(warning::kEdDsaLimitedClients),
                                                        std::string(warning::kEdDsaLimitedClients)});
    REQUIRE(warnings.size() == 2);
    CHECK(warnings[0].text.find("Certificate is signed with Ed25519") == 0);
    CHECK(warnings[1].text.find("Issuer 'CN=Ed CA' is signed with Ed25519") == 0);
    CHECK(warnings[1].text.find("use a chain of RSA or ECDSA CAs") != std::string::npos);

    // The same leaf from an ECDSA chain: clean.
    const TestPki pki = makeTestPki();
    CHECK(warningsFor(pki.leaf.cert.get(), {pki.intermediate.cert.get(), pki.root.cert.get()}).empty());
}

TEST_CASE("weak-key flags RSA under 2048 bits and EC under 256 bits, in the leaf and the chain")
{
    const TestPki pki = makeTestPki();
    const std::vector<X509*> pool{pki.intermediate.cert.get(), pki.root.cert.get()};
    const TestCert rsa1024 = issue(pki.intermediate, serverOptions(), testRsaKey(1024));
    const auto weak = warningsFor(rsa1024.cert.get(), pool);
    CHECK(codesOf(weak) == std::vector<std::string>{std::string(warning::kWeakKey)});
    CHECK(weak[0].text.find("RSA (1024 Bits)") != std::string::npos);

    const TestCert rsa2048 = issue(pki.intermediate, serverOptions(), testKey(KeyType::Rsa2048));
    CHECK(warningsFor(rsa2048.cert.get(), pool).empty());

    EvpPkeyPtr p224(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-224"));
    REQUIRE(p224);
    const TestCert ec224 = issue(pki.intermediate, serverOptions(), std::move(p224));
    CHECK(hasCode(warningsFor(ec224.cert.get(), pool), warning::kWeakKey));

    // A weak intermediate is named.
    const TestCert weakCa = issue(pki.root, caOptions("Weak CA"), testRsaKey(1024));
    const TestCert leaf = issue(weakCa, serverOptions());
    const auto w =
        find(warningsFor(leaf.cert.get(), {weakCa.cert.get(), pki.root.cert.get()}), warning::kWeakKey);
    REQUIRE(w);
    CHECK(w->text.find("Issuer 'CN=Weak CA'") != std::string::npos);
}

TEST_CASE("sha1-signature flags SHA-1 and MD5 signatures but not a root's self-signature")
{
    const TestCert rsaRoot = makeRoot("RSA Root", KeyType::Rsa2048, 50);
    IssueOptions caSha256 = caOptions("RSA CA");
    const TestCert intermediate = issue(rsaRoot, caSha256, testKey(KeyType::Rsa2048, 51));
    const std::vector<X509*> pool{intermediate.cert.get(), rsaRoot.cert.get()};

    IssueOptions sha1 = serverOptions();
    sha1.digest = "SHA1";
    const TestCert sha1Leaf = issue(intermediate, sha1);
    CHECK(describeCertificate(sha1Leaf.cert.get()).signatureAlgorithm == "sha1WithRSAEncryption");
    const auto w = warningsFor(sha1Leaf.cert.get(), pool);
    CHECK(codesOf(w) == std::vector<std::string>{std::string(warning::kSha1Signature)});
    CHECK(w[0].text.find("SHA-1") != std::string::npos);

    IssueOptions md5 = serverOptions();
    md5.digest = "MD5";
    const TestCert md5Leaf = issue(intermediate, md5);
    const auto m = find(warningsFor(md5Leaf.cert.get(), pool), warning::kSha1Signature);
    REQUIRE(m);
    CHECK(m->text.find("MD5") != std::string::npos);

    const TestCert sha256Leaf = issue(intermediate, serverOptions());
    CHECK(warningsFor(sha256Leaf.cert.get(), pool).empty());

    // A SHA-1 self-signed root is a trust anchor: its own signature is never checked.
    IssueOptions sha1Root = caOptions("SHA1 Root");
    sha1Root.digest = "SHA1";
    const TestCert oldRoot = makeSelfSigned(sha1Root, testKey(KeyType::Rsa2048, 52));
    const TestCert underOldRoot = issue(oldRoot, serverOptions());
    CHECK(warningsFor(underOldRoot.cert.get(), {oldRoot.cert.get()}).empty());
    CHECK(warningsFor(oldRoot.cert.get(), {}).empty());

    // A SHA-1 intermediate is flagged on the leaf.
    IssueOptions sha1Ca = caOptions("SHA1 CA");
    sha1Ca.digest = "SHA1";
    const TestCert sha1Intermediate = issue(rsaRoot, sha1Ca);
    const TestCert leaf = issue(sha1Intermediate, serverOptions());
    const auto i = find(warningsFor(leaf.cert.get(), {sha1Intermediate.cert.get(), rsaRoot.cert.get()}),
                        warning::kSha1Signature);
    REQUIRE(i);
    CHECK(i->text.find("Issuer 'CN=SHA1 CA'") != std::string::npos);
}

TEST_CASE("no-subject-alt-name and common-name-not-in-san apply to server certificates")
{
    const TestPki pki = makeTestPki();
    const std::vector<X509*> pool{pki.intermediate.cert.get(), pki.root.cert.get()};

    IssueOptions noSan = serverOptions("nosan.example.com");
    noSan.dnsNames.clear();
    const TestCert noSanLeaf = issue(pki.intermediate, noSan);
    CHECK(codesOf(warningsFor(noSanLeaf.cert.get(), pool)) ==
          std::vector<std::string>{std::string(warning::kNoSubjectAltName)});

    IssueOptions mismatch = serverOptions("shop.example.com");
    mismatch.dnsNames = {"other.example.com"};
    const TestCert mismatchLeaf = issue(pki.intermediate, mismatch);
    const auto m = warningsFor(mismatchLeaf.cert.get(), pool);
    CHECK(codesOf(m) == std::vector<std::string>{std::string(warning::kCommonNameNotInSan)});
    CHECK(m[0].text.find("'shop.example.com'") != std::string::npos);

    // Covered by a wildcard, differing only in case, a wildcard CN listed as such,
    // or a CN that is no host name: all fine.
    IssueOptions wildcard = serverOptions("shop.example.com");
    wildcard.dnsNames = {"*.example.com"};
    CHECK(warningsFor(issue(pki.intermediate, wildcard).cert.get(), pool).empty());
    IssueOptions upper = serverOptions("Shop.Example.com");
    upper.dnsNames = {"shop.example.com"};
    CHECK(warningsFor(issue(pki.intermediate, upper).cert.get(), pool).empty());
    IssueOptions wildcardCn = serverOptions("*.example.com");
    CHECK(warningsFor(issue(pki.intermediate, wildcardCn).cert.get(), pool).empty());
    IssueOptions word = serverOptions("Appliance");
    word.dnsNames = {"appliance.example.com"};
    CHECK(warningsFor(issue(pki.intermediate, word).cert.get(), pool).empty());

    // CAs have no SANs and are not flagged.
    CHECK(warningsFor(pki.root.cert.get(), pool).empty());
}

TEST_CASE("an IP common name is matched against IP SANs")
{
    CertificateSpec spec;
    spec.subject.commonName = "192.0.2.5";
    (void)validateSpec(spec);
    const auto key = testKey(KeyType::EcP256);
    const auto good = createSelfSigned(spec, key.get());
    CHECK(warningsFor(good.get(), {}).empty());

    spec.subjectAltNames = {{SubjectAltName::Type::Ip, "192.0.2.6"}};
    const auto bad = createSelfSigned(spec, key.get());
    CHECK(codesOf(warningsFor(bad.get(), {})) ==
          std::vector<std::string>{std::string(warning::kCommonNameNotInSan)});
}
