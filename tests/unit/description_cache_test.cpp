// The Manager's description cache (certificates.cache): start-up against a store with the cache
// gives the model parsing every certificate gives, takes each description from the cache, and
// ignores what of the cache is damaged, foreign or dead (then rebuilds it).
#include "cert_factory.hpp"
#include "manager/description_cache.hpp"
#include "manager/manager.hpp"
#include "pki/certificate.hpp"
#include "temp_dir.hpp"

#include <doctest/doctest.h>

#include <openssl/pem.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>

using namespace certd;
using certd::test::keyPem;
using certd::test::pem;

namespace {

// Everything the Manager holds of each certificate, as one text.
std::string model(const Manager& manager)
{
    std::string out;
    for (const auto& [id, entry] : manager.certificates()) {
        const DescriptionCache::Record record{{entry.info, entry.kind, entry.traits}, {}};
        out += id + " " + toHex(DescriptionCache::encode({}, record)) + " key=" + entry.keyId + " chain=";
        for (const auto& issuer : entry.chain)
            out += issuer + ",";
        out += entry.chainComplete ? " complete" : " incomplete";
        for (const auto& warning : entry.warnings)
            out += " [" + warning.code + ": " + warning.text + "]";
        out += "\n";
    }
    return out;
}

// The facts of a stored certificate, parsed from its DER.
pki::CertificateFacts parsedFacts(const Store& store, const std::string& id)
{
    return pki::describeFacts(pki::certificateFromDer(store.certificateDer(id)).get());
}

// A store of certificates with something for every rule: a chain with its leaf's key, a weak
// RSA key signed with SHA-1, a CN the SANs miss, an expired leaf, EdDSA, an incomplete chain with
// AIA, two CAs of one name with different keys. Returns the ids by name.
std::map<std::string, std::string> fillStore(const std::filesystem::path& directory)
{
    Store store(directory);
    Manager manager(store, {});
    std::map<std::string, std::string> ids;
    const auto add = [&](const std::string& name, const std::string& text) {
        const auto imported = manager.importData(asBytes(text), Secret(), "");
        ids[name] = imported.certificates.front();
    };
    const auto pki = test::makeTestPki();
    add("leaf", pem(pki.leaf.cert.get()) + keyPem(pki.leaf.key.get()));
    add("intermediate", pem(pki.intermediate.cert.get()));
    add("root", pem(pki.root.cert.get()));

    test::IssueOptions weak;
    weak.commonName = "weak.example.com";
    weak.dnsNames = {"weak.example.com"};
    weak.digest = "SHA1";
    add("weak", pem(test::makeSelfSigned(weak, test::testRsaKey(1024)).cert.get()));

    test::IssueOptions cnMissing;
    cnMissing.commonName = "host.example.com";
    cnMissing.dnsNames = {"other.example.com"};
    add("cn-missing", pem(test::makeSelfSigned(cnMissing).cert.get()));

    test::IssueOptions expired;
    expired.commonName = "old.example.com";
    expired.dnsNames = {"old.example.com"};
    expired.notBeforeOffsetSeconds = -20L * 86400;
    expired.notAfterOffsetSeconds = -86400;
    add("expired", pem(test::issue(pki.intermediate, expired).cert.get()));

    const auto edRoot = test::makeRoot("Ed Root", pki::KeyType::Ed25519, 3);
    test::IssueOptions ed;
    ed.commonName = "ed.example.com";
    ed.dnsNames = {"ed.example.com"};
    add("ed-root", pem(edRoot.cert.get()));
    add("ed", pem(test::issue(edRoot, ed).cert.get()));

    const auto lostRoot = test::makeRoot("Lost Root", pki::KeyType::EcP256, 4);
    test::IssueOptions aia;
    aia.commonName = "aia.example.com";
    aia.dnsNames = {"aia.example.com"};
    aia.caIssuersUrls = {"http://ca.test/lost.der"};
    add("aia", pem(test::issue(lostRoot, aia).cert.get()));

    const auto sharedA = test::makeRoot("Shared CA", pki::KeyType::EcP256, 5);
    const auto sharedB = test::makeRoot("Shared CA", pki::KeyType::EcP256, 6);
    test::IssueOptions shared;
    shared.commonName = "shared.example.com";
    shared.dnsNames = {"shared.example.com"};
    add("shared-a", pem(sharedA.cert.get()));
    add("shared-b", pem(sharedB.cert.get()));
    add("shared-leaf", pem(test::issue(sharedA, shared).cert.get()));
    return ids;
}

std::filesystem::path cachePath(const std::filesystem::path& directory)
{
    return directory / DescriptionCache::kFileName;
}

DescriptionCache::Fingerprint fingerprintOf(const Store& store, const std::string& id)
{
    return certificateFingerprint(store.certificateDer(id));
}

// The cache's intact records, by fingerprint; `cache` tells what loading them found.
std::map<DescriptionCache::Fingerprint, DescriptionCache::Record> cacheRecords(DescriptionCache& cache)
{
    cache.load();
    return cache.records();
}

std::map<DescriptionCache::Fingerprint, DescriptionCache::Record>
cacheRecords(const std::filesystem::path& dir)
{
    DescriptionCache cache(dir);
    return cacheRecords(cache);
}

Bytes fileBytes(const std::filesystem::path& path)
{
    std::ifstream in(path, std::ios::binary);
    return Bytes(std::istreambuf_iterator<char>(in), {});
}

void writeBytes(const std::filesystem::path& path, const Bytes& data)
{
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
}

} // namespace

TEST_CASE("start-up with the description cache gives the model that parsing every certificate gives")
{
    test::TempDir dir;
    const auto ids = fillStore(dir.path());
    REQUIRE(std::filesystem::exists(cachePath(dir.path())));

    std::string cachedModel;
    {
        Store store(dir.path());
        Manager manager(store, {});
        cachedModel = model(manager);
        CHECK(manager.takeChanges().empty());
        CHECK(store.loadReport().empty()); // the cache file is not the store's business
        // Each description as parsing the stored DER gives it.
        for (const auto& [id, entry] : manager.certificates()) {
            const auto facts = parsedFacts(store, id);
            CHECK(DescriptionCache::Record{facts, {}} ==
                  DescriptionCache::Record{{entry.info, entry.kind, entry.traits}, {}});
        }
        // The chains were found, and the warnings are there.
        const auto& leaf = manager.certificate(ids.at("leaf"));
        CHECK(leaf.chain == std::vector<std::string>{ids.at("intermediate"), ids.at("root")});
        CHECK(leaf.chainComplete);
        CHECK(manager.certificate(ids.at("shared-leaf")).chain ==
              std::vector<std::string>{ids.at("shared-a")});
        CHECK(manager.certificate(ids.at("expired")).warnings.size() >= 1);
        CHECK_FALSE(manager.certificate(ids.at("aia")).chainComplete);
    }
    std::filesystem::remove(cachePath(dir.path()));
    {
        Store store(dir.path());
        Manager manager(store, {});
        CHECK(model(manager) == cachedModel);
        // And served and exported as before, from the store.
        const auto served = manager.servedChainPem(ids.at("leaf"));
        CHECK(served.find("BEGIN CERTIFICATE") != std::string::npos);
    }
    // Rebuilt by that start-up, whole and intact.
    DescriptionCache loaded(dir.path());
    const auto records = cacheRecords(loaded);
    CHECK_FALSE(loaded.damaged());
    CHECK(records.size() == ids.size());
}

TEST_CASE("start-up takes descriptions from the cache, and verified issuers without a signature check")
{
    test::TempDir dir;
    const auto ids = fillStore(dir.path());
    auto records = [&] {
        Store store(dir.path());
        auto out = cacheRecords(dir.path());
        // The verified issuer of the leaf is the intermediate's identity; a root has none.
        const auto intermediate = parsedFacts(store, ids.at("intermediate"));
        CHECK(out.at(fingerprintOf(store, ids.at("leaf"))).issuerVerified ==
              intermediate.traits.issuerIdentity);
        CHECK(out.at(fingerprintOf(store, ids.at("root"))).issuerVerified == std::array<std::uint8_t, 32>{});
        CHECK(out.at(fingerprintOf(store, ids.at("shared-leaf"))).issuerVerified ==
              parsedFacts(store, ids.at("shared-a")).traits.issuerIdentity);
        return out;
    }();
    std::string fingerprintHex;
    {
        Store store(dir.path());
        const auto fingerprint = fingerprintOf(store, ids.at("weak"));
        records.at(fingerprint).facts.info.subject = "CN=from the cache";
        DescriptionCache(dir.path()).rewrite(records);
    }
    Store store(dir.path());
    Manager manager(store, {});
    // A cache hit: start-up did not parse the certificate.
    CHECK(manager.certificate(ids.at("weak")).info.subject == "CN=from the cache");
    CHECK(manager.certificate(ids.at("leaf")).chain ==
          std::vector<std::string>{ids.at("intermediate"), ids.at("root")});
}

TEST_CASE("damaged, foreign and other-version cache records are ignored: the certificate is parsed")
{
    test::TempDir dir;
    const auto ids = fillStore(dir.path());
    std::string expected;
    {
        Store store(dir.path());
        Manager manager(store, {});
        expected = model(manager);
    }
    const Bytes intact = fileBytes(cachePath(dir.path()));
    const auto startsLikeParsing = [&] {
        Store store(dir.path());
        Manager manager(store, {});
        CHECK(model(manager) == expected);
        CHECK(manager.takeChanges().empty());
    };
    const auto rebuilt = [&] {
        DescriptionCache cache(dir.path());
        const auto records = cacheRecords(cache);
        CHECK_FALSE(cache.damaged());
        CHECK(records.size() == ids.size());
    };

    SUBCASE("a record that fails its checksum")
    {
        // Description text in every record: flip a byte of each record's subject in turn.
        Bytes data = intact;
        std::size_t flipped = 0;
        for (std::size_t i = 40; i + 1 < data.size(); i += 97) {
            data[i] ^= 0x20;
            ++flipped;
        }
        REQUIRE(flipped > 0);
        writeBytes(cachePath(dir.path()), data);
        startsLikeParsing();
        rebuilt();
    }
    SUBCASE("a torn tail, and a file cut anywhere")
    {
        for (const std::size_t cut :
             {intact.size() - 1, intact.size() / 2, std::size_t{30}, std::size_t{3}}) {
            writeBytes(cachePath(dir.path()), Bytes(intact.begin(), intact.begin() + static_cast<long>(cut)));
            startsLikeParsing();
            rebuilt();
        }
    }
    SUBCASE("another version, or garbage")
    {
        Bytes data = intact;
        data[std::string_view("certd-description-cache ").size()] = '9';
        writeBytes(cachePath(dir.path()), data);
        startsLikeParsing();
        rebuilt();
        writeBytes(cachePath(dir.path()), Bytes(5000, 0xff));
        startsLikeParsing();
        rebuilt();
    }
    SUBCASE("a record under the fingerprint of other bytes")
    {
        // The weak certificate's record moved to a fingerprint of nothing stored, and the leaf's
        // record filed under the fingerprint of the root: neither describes the bytes it would be
        // used for, so neither is.
        Store store(dir.path());
        auto records = cacheRecords(dir.path());
        const auto weak = fingerprintOf(store, ids.at("weak"));
        auto foreign = weak;
        foreign[0] ^= 1;
        records[foreign] = records.at(weak);
        records.erase(weak);
        records[fingerprintOf(store, ids.at("root"))] = records.at(fingerprintOf(store, ids.at("leaf")));
        DescriptionCache(dir.path()).rewrite(records);
        Manager manager(store, {});
        CHECK(manager.certificate(ids.at("weak")).info.subject == "CN=weak.example.com");
        CHECK(manager.certificate(ids.at("root")).info.subject ==
              parsedFacts(store, ids.at("root")).info.subject);
        CHECK(model(manager) == expected);
    }
    SUBCASE("a missing file")
    {
        std::filesystem::remove(cachePath(dir.path()));
        startsLikeParsing();
        rebuilt();
    }
}

TEST_CASE("a cache mostly of certificates no longer stored is compacted at start-up")
{
    test::TempDir dir;
    std::vector<std::string> made;
    {
        Store store(dir.path());
        Manager manager(store, {});
        for (int i = 0; i < 6; ++i) {
            test::IssueOptions options;
            options.commonName = "gone" + std::to_string(i) + ".example.com";
            options.dnsNames = {options.commonName};
            made.push_back(
                manager.importData(asBytes(pem(test::makeSelfSigned(options).cert.get())), Secret(), "")
                    .certificates.front());
        }
        for (std::size_t i = 1; i < made.size(); ++i)
            manager.deleteCertificate(made[i]);
    }
    DescriptionCache before(dir.path());
    CHECK(cacheRecords(before).size() == 6);
    {
        Store store(dir.path());
        Manager manager(store, {});
        CHECK(manager.certificates().size() == 1);
    }
    DescriptionCache after(dir.path());
    const auto records = cacheRecords(after);
    CHECK(records.size() == 1);
    CHECK(after.loadedRecords() == 1);
    CHECK_FALSE(after.damaged());
}

TEST_CASE("group commit: a staged certificate is served, exported and chained before its flush")
{
    test::TempDir dir;
    Store store(dir.path());
    ManagerOptions options;
    options.groupCommit = true;
    Manager manager(store, options);
    const auto pki = test::makeTestPki();
    const auto imported =
        manager.importData(asBytes(pem(pki.leaf.cert.get()) + keyPem(pki.leaf.key.get()) +
                                   pem(pki.intermediate.cert.get()) + pem(pki.root.cert.get())),
                           Secret(), "");
    REQUIRE(manager.hasStaged());
    const std::string leaf = imported.certificates.front();
    CHECK(manager.certificate(leaf).chain.size() == 2);
    const std::string served = manager.servedChainPem(leaf);
    CHECK(served == pem(pki.leaf.cert.get()) + pem(pki.intermediate.cert.get()) + pem(pki.root.cert.get()));
    ExportOptions exportOptions;
    exportOptions.format = pki::ExportFormat::Pem;
    exportOptions.includeChain = true;
    CHECK_FALSE(manager.exportCertificate(leaf, exportOptions).empty());
    manager.flush();
    CHECK(manager.servedChainPem(leaf) == served);
}

TEST_CASE("a cache record round-trips, and any change of its payload fails to decode or differs")
{
    const auto pki = test::makeTestPki();
    const DescriptionCache::Record record{pki::describeFacts(pki.leaf.cert.get()), {1, 2, 3}};
    const auto fingerprint = certificateFingerprint(pki::certificateDer(pki.leaf.cert.get()));
    const Bytes payload = DescriptionCache::encode(fingerprint, record);
    DescriptionCache::Fingerprint decodedFingerprint{};
    DescriptionCache::Record decoded;
    REQUIRE(DescriptionCache::decode(payload, decodedFingerprint, decoded));
    CHECK(decodedFingerprint == fingerprint);
    CHECK(decoded == record);
    CHECK(decoded.facts.info.fingerprintSha256 == record.facts.info.fingerprintSha256);
    for (std::size_t cut = 0; cut < payload.size(); cut += 7) {
        DescriptionCache::Record partial;
        CHECK_FALSE(DescriptionCache::decode(ByteView(payload).first(cut), decodedFingerprint, partial));
    }
}

TEST_CASE("group commit: the cache is written after a flush, and gets nothing of a failed one")
{
    test::TempDir dir;
    Store store(dir.path());
    ManagerOptions options;
    options.groupCommit = true;
    Manager manager(store, options);
    const auto create = [&](const std::string& name) {
        CreateSpec cs;
        cs.spec.subject.commonName = name + ".example.com";
        cs.spec.keyType = pki::KeyType::EcP256;
        return manager.createSelfSigned(cs).id;
    };
    const auto cached = [&] {
        std::set<std::string> ids;
        for (const auto& [fingerprint, record] : cacheRecords(dir.path()))
            ids.insert(record.facts.info.fingerprintSha256.substr(0, pki::kIdLength));
        return ids;
    };
    const std::string kept = create("kept");
    CHECK(cached().empty()); // staged: not yet
    manager.flush();
    CHECK(cached() == std::set<std::string>{kept});

    const Bytes before = fileBytes(cachePath(dir.path()));
    const std::string lost = create("lost");
    std::filesystem::rename(dir.path() / "certs", dir.path() / "certs.away");
    std::ofstream(dir.path() / "certs") << "in the way";
    CHECK_THROWS(manager.flush());
    CHECK(manager.certificates().count(lost) == 0);
    CHECK(fileBytes(cachePath(dir.path())) == before);
    std::filesystem::remove(dir.path() / "certs");
    std::filesystem::rename(dir.path() / "certs.away", dir.path() / "certs");

    const std::string later = create("later");
    manager.flush();
    CHECK(cached() == std::set<std::string>{kept, later});
}
