// The Manager on a real store in a temporary directory, with its two seams: a clock the
// test moves (ManagerOptions::clock) and a fake issuer download (ManagerOptions::fetch).
// What each call leaves in the store, in the model and in takeChanges().
#include "cert_factory.hpp"
#include "error.hpp"
#include "error_code_of.hpp"
#include "manager/manager.hpp"
#include "pki/certificate.hpp"
#include "temp_dir.hpp"

#include <doctest/doctest.h>

#include <openssl/pem.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <string>

using namespace certd;
using certd::test::errorCodeOf;
using certd::test::keyPem;
using certd::test::pem;

namespace {

constexpr std::uint64_t kDay = 86400ULL * 1000000ULL;

std::uint64_t realNow()
{
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                          std::chrono::system_clock::now().time_since_epoch())
                                          .count());
}

// A store in a temporary directory and a Manager over it, serving 127.0.0.2 and 127.0.0.3.
struct Fixture {
    test::TempDir dir;
    Store store{dir.path()};
    std::uint64_t clock = realNow();
    std::map<std::string, Bytes> web; // what the fake fetch serves, by URL
    int fetches = 0;
    Manager manager{store, options()};

    ManagerOptions options()
    {
        ManagerOptions o;
        o.factorySpec.subject.commonName = "appliance.example.com";
        o.factoryKeyType = pki::KeyType::EcP256;
        o.configuredAddresses = {"127.0.0.2", "127.0.0.3"};
        o.clock = [this] { return clock; };
        o.fetch = [this](const std::string& url) {
            ++fetches;
            const auto it = web.find(url);
            if (it == web.end())
                throw Error(ErrorCode::FetchFailed, "no such URL: " + url);
            return it->second;
        };
        return o;
    }

    Manager::Created selfSigned(const std::string& name, const std::string& cn)
    {
        CreateSpec cs;
        cs.spec.friendlyName = name;
        cs.spec.subject.commonName = cn;
        cs.spec.keyType = pki::KeyType::EcP256;
        return manager.createSelfSigned(cs);
    }
};

test::IssueOptions serverFor(const std::string& name)
{
    test::IssueOptions options;
    options.commonName = name;
    options.dnsNames = {name};
    return options;
}

// A Manager that stages its commits for flush() (ChangeFlow's group commit).
ManagerOptions groupCommitOptions()
{
    ManagerOptions options;
    options.groupCommit = true;
    options.factorySpec.subject.commonName = "appliance.example.com";
    options.factoryKeyType = pki::KeyType::EcP256;
    return options;
}

} // namespace

TEST_CASE("the factory certificate is created once and serves every address")
{
    Fixture f;
    f.manager.ensureFactoryCertificate();
    const std::string factory = f.manager.factoryCertificate();
    REQUIRE_FALSE(factory.empty());
    const auto changes = f.manager.takeChanges();
    CHECK(changes.certificatesAdded.count(factory) == 1);
    CHECK(changes.factoryChanged);
    CHECK(changes.keysAdded.size() == 1);
    CHECK(f.manager.takeChanges().empty()); // taken once
    CHECK(f.manager.friendlyName(factory) == "Appliance");
    CHECK(f.manager.certificateForAddress("127.0.0.2") == factory);
    CHECK(f.manager.addressesOf(factory) == std::vector<std::string>{"127.0.0.2", "127.0.0.3"});
    f.manager.ensureFactoryCertificate();
    CHECK(f.manager.factoryCertificate() == factory);
    CHECK(f.manager.takeChanges().empty());
    CHECK(errorCodeOf([&] { f.manager.deleteCertificate(factory); }) == ErrorCode::InUse);
}

TEST_CASE("a reopened store gives the same model")
{
    test::TempDir dir;
    std::string id;
    {
        Store store(dir.path());
        Manager manager(store, {});
        CreateSpec cs;
        cs.spec.friendlyName = "web";
        cs.spec.subject.commonName = "web.example.com";
        cs.spec.keyType = pki::KeyType::EcP256;
        id = manager.createSelfSigned(cs).id;
    }
    Store store(dir.path());
    Manager manager(store, {});
    const auto& entry = manager.certificate(id);
    CHECK(manager.friendlyName(id) == "web");
    CHECK_FALSE(entry.keyId.empty());
    CHECK(manager.certificatesOfKey(entry.keyId) == std::vector<std::string>{id});
    CHECK(manager.takeChanges().empty()); // loading is not a change
}

TEST_CASE("start-up reads each key's description from the store, and fills it in for older stores")
{
    test::TempDir dir;
    std::string id;
    KeyEntry created;
    {
        Store store(dir.path());
        Manager manager(store, {});
        CreateSpec cs;
        cs.spec.subject.commonName = "web.example.com";
        cs.spec.keyType = pki::KeyType::EcP256;
        id = manager.createSelfSigned(cs).id;
        created = manager.key(manager.certificate(id).keyId);
        const StoredKey& stored = store.state().keys.at(created.id);
        CHECK(stored.algorithm == "EC");
        CHECK(stored.bits == 256);
        CHECK(stored.spkiSha256 == created.spkiSha256);
        // As an older certd left it: no description.
        auto tx = store.begin();
        tx.state().keys.at(created.id) = StoredKey{stored.addedUSec};
        store.commit(std::move(tx));
    }
    {
        Store store(dir.path());
        Manager manager(store, {});
        CHECK(manager.key(created.id).spkiSha256 == created.spkiSha256);
        CHECK(manager.takeChanges().empty());
        const StoredKey& stored = store.state().keys.at(created.id);
        CHECK(stored.algorithm == "EC");
        CHECK(stored.bits == 256);
        CHECK(stored.spkiSha256 == created.spkiSha256);
    }
    // With the description stored, start-up does not parse the key: a damaged key file
    // shows only when the key is used.
    const auto keyFile = dir.path() / "keys" / (created.id + ".key");
    std::filesystem::resize_file(keyFile, 10);
    Store store(dir.path());
    Manager manager(store, {});
    const KeyEntry& loaded = manager.key(created.id);
    CHECK(loaded.algorithm == created.algorithm);
    CHECK(loaded.bits == created.bits);
    CHECK(manager.certificate(id).keyId == created.id);
    CHECK(errorCodeOf([&] {
              ExportOptions options;
              options.includePrivateKey = true;
              manager.exportCertificate(id, options);
          }) != ErrorCode::NotFound);
}

TEST_CASE("a signed certificate completes its request, links the key and takes the request's name")
{
    Fixture f;
    f.manager.ensureFactoryCertificate();
    CreateSpec cs;
    cs.spec.friendlyName = "shop";
    cs.spec.subject.commonName = "shop.example.com";
    cs.spec.keyType = pki::KeyType::EcP256;
    const auto request = f.manager.createRequest(cs);
    const auto keyId = f.manager.storedRequest(request.id).keyId;
    CHECK(f.manager.storedRequest(request.id).state == RequestState::Pending);
    f.manager.takeChanges();

    // The CA signs a certificate for the request's key.
    const auto root = test::makeRoot("Shop CA");
    test::IssueOptions options;
    options.commonName = "shop.example.com";
    options.dnsNames = {"shop.example.com"};
    const auto req = pki::requestFromPem(f.manager.request(request.id).pem);
    const auto signedCert = test::issue(root, options, pki::EvpPkeyPtr(X509_REQ_get_pubkey(req.get())));
    const std::string data = pem(signedCert.cert.get());
    const auto imported = f.manager.importData(asBytes(data), Secret(), "");
    REQUIRE(imported.certificates.size() == 1);
    const std::string id = imported.certificates.front();
    CHECK(imported.requests == std::vector<std::string>{request.id});
    CHECK(f.manager.storedRequest(request.id).state == RequestState::Completed);
    CHECK(f.manager.storedRequest(request.id).certificateId == id);
    CHECK(f.manager.certificate(id).keyId == keyId);
    CHECK(f.manager.friendlyName(id) == "shop");
    const auto changes = f.manager.takeChanges();
    CHECK(changes.certificatesAdded == std::set<std::string>{id});
    CHECK(changes.requestsChanged == std::set<std::string>{request.id});
    CHECK(changes.keysChanged.count(keyId) == 1); // its Certificates grew

    // Importing it again changes nothing; naming it renames it.
    f.manager.importData(asBytes(data), Secret(), "");
    CHECK(f.manager.takeChanges().certificatesAdded.empty());
    f.manager.importData(asBytes(data), Secret(), "storefront");
    CHECK(f.manager.friendlyName(id) == "storefront");
    CHECK(f.manager.takeChanges().certificatesChanged.count(id) == 1);
}

TEST_CASE("a certificate with a foreign key is refused and nothing is stored")
{
    Fixture f;
    f.manager.ensureFactoryCertificate();
    f.manager.takeChanges();
    const StoreState before = f.store.state();
    const auto a = test::makeSelfSigned(serverFor("a.example.com"));
    const auto foreign = test::testKey(pki::KeyType::EcP256, 7);
    const std::string data = pem(a.cert.get()) + keyPem(foreign.get());
    CHECK(errorCodeOf([&] { f.manager.importData(asBytes(data), Secret(), ""); }) == ErrorCode::KeyMismatch);
    CHECK(f.store.state() == before);
    CHECK(f.manager.takeChanges().empty());
    // The key alone is fine (its certificate may come later), with a warning.
    const auto lone = f.manager.importData(asBytes(keyPem(foreign.get())), Secret(), "");
    REQUIRE(lone.warnings.size() == 1);
    CHECK(lone.warnings.front().code == "key-unmatched");
}

TEST_CASE("assign binds, runs the pre-flight check, and records which addresses moved")
{
    Fixture f;
    f.manager.ensureFactoryCertificate();
    const std::string factory = f.manager.factoryCertificate();
    const auto web = f.selfSigned("web", "web.example.com");
    f.manager.takeChanges();

    const auto bound = f.manager.assign("127.0.0.2", web.id);
    CHECK(f.manager.certificateForAddress("127.0.0.2") == web.id);
    auto changes = f.manager.takeChanges();
    CHECK(changes.addressesChanged == std::set<std::string>{"127.0.0.2"});
    CHECK(changes.certificatesChanged == std::set<std::string>{factory, web.id});
    // The same binding again is no change; "[::1]"-style and unknown addresses are named errors.
    f.manager.assign("127.0.0.2", web.id);
    CHECK(f.manager.takeChanges().empty());
    CHECK(errorCodeOf([&] { f.manager.assign("127.0.0.9", web.id); }) == ErrorCode::NotFound);
    CHECK(errorCodeOf([&] { f.manager.assign("web", web.id); }) == ErrorCode::InvalidArgument);
    CHECK(errorCodeOf([&] { f.manager.deleteCertificate(web.id); }) == ErrorCode::InUse);

    // A certificate without its key cannot be bound.
    const auto noKey = test::makeSelfSigned(serverFor("nokey.example.com"));
    const auto id = f.manager.importData(asBytes(pem(noKey.cert.get())), Secret(), "").certificates.front();
    CHECK(errorCodeOf([&] { f.manager.assign("127.0.0.3", id); }) == ErrorCode::NoPrivateKey);

    // Once expired (the clock moved on), binding it is refused unless forced.
    f.clock += 400 * kDay;
    f.manager.refreshWarnings();
    CHECK(f.manager.takeChanges().certificatesChanged.count(web.id) == 1);
    CHECK(errorCodeOf([&] { f.manager.assign("127.0.0.3", web.id); }) == ErrorCode::CheckFailed);
    CHECK(f.manager.certificateForAddress("127.0.0.3") == factory);
    const auto forced = f.manager.assign("127.0.0.3", web.id, true);
    CHECK(f.manager.certificateForAddress("127.0.0.3") == web.id);
    CHECK(std::any_of(forced.warnings.begin(), forced.warnings.end(),
                      [](const auto& w) { return w.code == "expired"; }));
    (void)bound;
}

TEST_CASE("replace moves every address at once and refuses a certificate that covers less")
{
    Fixture f;
    f.manager.ensureFactoryCertificate();
    const auto old = f.selfSigned("old", "www.example.com");
    f.manager.setAddresses(old.id, {"127.0.0.2", "127.0.0.3"});
    const auto narrower = f.selfSigned("narrow", "other.example.com");
    CHECK(errorCodeOf([&] { f.manager.replaceCertificate(old.id, narrower.id); }) == ErrorCode::CheckFailed);
    CHECK(f.manager.addressesOf(old.id).size() == 2);
    const auto renewed = f.selfSigned("new", "www.example.com");
    f.manager.takeChanges();
    const auto bound = f.manager.replaceCertificate(old.id, renewed.id);
    CHECK(bound.moved == std::vector<std::string>{"127.0.0.2", "127.0.0.3"});
    CHECK(f.manager.addressesOf(renewed.id) == bound.moved);
    CHECK(f.manager.takeChanges().addressesChanged.size() == 2);
    // The old one is free again: deleting it drops its key with it.
    const std::string oldKey = f.manager.certificate(old.id).keyId;
    f.manager.deleteCertificate(old.id);
    const auto changes = f.manager.takeChanges();
    CHECK(changes.certificatesRemoved == std::set<std::string>{old.id});
    CHECK(changes.keysRemoved == std::set<std::string>{oldKey});
    CHECK(errorCodeOf([&] { f.manager.certificate(old.id); }) == ErrorCode::NotFound);
}

TEST_CASE("warnings follow the moving clock")
{
    Fixture f;
    const auto web = f.selfSigned("web", "web.example.com"); // 365 days by default
    f.manager.takeChanges();
    const auto codes = [&] {
        std::set<std::string> out;
        for (const auto& w : f.manager.certificate(web.id).warnings)
            out.insert(w.code);
        return out;
    };
    CHECK(codes().count("expiring-soon") == 0);
    f.clock += 340 * kDay;
    f.manager.refreshWarnings();
    CHECK(codes().count("expiring-soon") == 1);
    CHECK(f.manager.takeChanges().certificatesChanged == std::set<std::string>{web.id});
    f.manager.refreshWarnings(); // nothing moved since
    CHECK(f.manager.takeChanges().empty());
    f.clock += 30 * kDay;
    f.manager.refreshWarnings();
    CHECK(codes().count("expired") == 1);
}

TEST_CASE("fetchIssuers follows the AIA URLs and imports the whole chain, or nothing")
{
    Fixture f;
    const auto root = test::makeRoot("Fetch Root");
    test::IssueOptions interOptions;
    interOptions.commonName = "Fetch Intermediate";
    interOptions.ca = true;
    interOptions.caIssuersUrls = {"http://ca.test/root.der"};
    const auto inter = test::issue(root, interOptions);
    test::IssueOptions leafOptions;
    leafOptions.commonName = "leaf.example.com";
    leafOptions.dnsNames = {"leaf.example.com"};
    leafOptions.caIssuersUrls = {"http://ca.test/inter.der"};
    const auto leaf = test::issue(inter, leafOptions);
    const auto id = f.manager.importData(asBytes(pem(leaf.cert.get())), Secret(), "").certificates.front();
    CHECK_FALSE(f.manager.certificate(id).chainComplete);

    // The second hop fails: nothing of the first is kept.
    f.web["http://ca.test/inter.der"] = pki::certificateDer(inter.cert.get());
    const auto certificatesBefore = f.manager.certificates().size();
    CHECK(errorCodeOf([&] { f.manager.fetchIssuers(id); }) == ErrorCode::FetchFailed);
    CHECK(f.manager.certificates().size() == certificatesBefore);

    f.web["http://ca.test/root.der"] = pki::certificateDer(root.cert.get());
    f.manager.takeChanges();
    const auto fetched = f.manager.fetchIssuers(id);
    CHECK(fetched.size() == 2);
    CHECK(f.manager.certificate(id).chainComplete);
    CHECK(f.manager.certificate(id).chain.size() == 2);
    CHECK(f.manager.takeChanges().certificatesAdded.size() == 2);
    const int fetches = f.fetches;
    CHECK(f.manager.fetchIssuers(id).empty()); // complete: no download
    CHECK(f.fetches == fetches);
}

TEST_CASE("a FetchIssuer whose certificate is deleted before its commit is NotFound and imports nothing")
{
    // The slow path of the bus (prepare, build on a worker, commit): the deletion commits
    // between build and commit, so it came first.
    Fixture f;
    const auto root = test::makeRoot("Deleted Fetch Root");
    test::IssueOptions leafOptions;
    leafOptions.commonName = "gone.example.com";
    leafOptions.dnsNames = {"gone.example.com"};
    leafOptions.caIssuersUrls = {"http://ca.test/gone-root.der"};
    const auto leaf = test::issue(root, leafOptions);
    f.web["http://ca.test/gone-root.der"] = pki::certificateDer(root.cert.get());
    const auto id = f.manager.importData(asBytes(pem(leaf.cert.get())), Secret(), "").certificates.front();
    auto pending = f.manager.prepareFetch(id);
    Manager::buildFetch(pending);
    CHECK_FALSE(pending.pem.empty()); // the download worked
    f.manager.deleteCertificate(id);
    const auto certificatesBefore = f.manager.certificates().size();
    CHECK(errorCodeOf([&] { f.manager.commitFetch(std::move(pending)); }) == ErrorCode::NotFound);
    CHECK(f.manager.certificates().size() == certificatesBefore);
    CHECK(f.store.state().certificates.size() == certificatesBefore);
}

TEST_CASE("a removed object reads as it was until the settle that takes the removal")
{
    // The bus shows the durable set of objects: a deleted certificate's object stays until
    // the settle (takeChanges) after the flush, and its getters read the parked entry.
    test::TempDir dir;
    Store store(dir.path());
    Manager manager(store, groupCommitOptions());
    manager.ensureFactoryCertificate();
    CreateSpec cs;
    cs.spec.friendlyName = "going";
    cs.spec.subject.commonName = "going.example.com";
    cs.spec.keyType = pki::KeyType::EcP256;
    const auto created = manager.createSelfSigned(cs);
    const auto request = manager.createRequest(cs);
    manager.flush();
    manager.takeChanges();

    manager.deleteCertificate(created.id);
    manager.deleteRequest(request.id);
    CHECK(errorCodeOf([&] { manager.certificate(created.id); }) == ErrorCode::NotFound);
    CHECK(manager.shownCertificate(created.id).info.subject == "CN=going.example.com");
    CHECK(manager.friendlyName(created.id) == "going");
    CHECK(manager.shownRequest(request.id).id == request.id);
    CHECK(manager.shownStoredRequest(request.id).friendlyName == "going");
    manager.flush();
    CHECK(manager.shownCertificate(created.id).id == created.id); // durable, not yet settled
    const Changes changes = manager.takeChanges();
    CHECK(changes.certificatesRemoved.count(created.id) == 1);
    CHECK(errorCodeOf([&] { manager.shownCertificate(created.id); }) == ErrorCode::NotFound);
    CHECK(errorCodeOf([&] { manager.shownRequest(request.id); }) == ErrorCode::NotFound);
    CHECK(manager.friendlyName(created.id) == created.id);
}

TEST_CASE("a manual chain must list issuers leaf-first")
{
    Fixture f;
    const auto pkiSet = test::makeTestPki();
    const std::string data = pem(pkiSet.leaf.cert.get()) + keyPem(pkiSet.leaf.key.get());
    const auto id = f.manager.importData(asBytes(data), Secret(), "").certificates.front();
    const std::string wrongOrder = pem(pkiSet.root.cert.get()) + pem(pkiSet.intermediate.cert.get());
    CHECK(errorCodeOf([&] { f.manager.setChain(id, ChainMode::Manual, asBytes(wrongOrder)); }) ==
          ErrorCode::InvalidCertificate);
    CHECK(f.manager.chainMode(id) == ChainMode::Automatic);
    const std::string rightOrder = pem(pkiSet.intermediate.cert.get()) + pem(pkiSet.root.cert.get());
    f.manager.setChain(id, ChainMode::Manual, asBytes(rightOrder));
    CHECK(f.manager.chainMode(id) == ChainMode::Manual);
    CHECK(f.manager.certificate(id).chainComplete);
    CHECK(errorCodeOf([&] { f.manager.setChain(id, ChainMode::Automatic, asBytes(rightOrder)); }) ==
          ErrorCode::InvalidArgument);
}

TEST_CASE("discovered addresses come and go; configured ones stay; statuses change only when they differ")
{
    Fixture f;
    f.manager.ensureFactoryCertificate();
    f.manager.takeChanges();
    f.manager.addressAppeared("0:0::1");
    CHECK(f.manager.address("::1").origin == AddressOrigin::Discovered);
    CHECK(f.manager.takeChanges().addressesAdded == std::set<std::string>{"::1"});
    f.manager.addressVanished("127.0.0.2"); // configured: stays
    CHECK(f.manager.addresses().count("127.0.0.2") == 1);
    CHECK(f.manager.takeChanges().empty());
    f.manager.addressVanished("::1");
    CHECK(f.manager.takeChanges().addressesRemoved == std::set<std::string>{"::1"});

    f.manager.setAddressStatus("127.0.0.2", tls::ListenerState::Error, "bind: Address in use");
    CHECK(f.manager.takeChanges().addressesChanged == std::set<std::string>{"127.0.0.2"});
    f.manager.setAddressStatus("127.0.0.2", tls::ListenerState::Error, "bind: Address in use");
    CHECK(f.manager.takeChanges().empty());
    f.manager.setTerminatorStatus(TerminatorState::Failed, "cannot execute x");
    CHECK(f.manager.takeChanges().terminatorChanged);
    CHECK(f.manager.terminatorError() == "cannot execute x");
}

TEST_CASE("a reload's address list adds, drops, and leaves a discovered address to discovery")
{
    Fixture f;
    f.manager.ensureFactoryCertificate();
    const auto web = f.selfSigned("web", "web.example.com");
    f.manager.assign("127.0.0.3", web.id);
    f.manager.addressAppeared("127.0.0.2"); // configured, and on the host too
    f.manager.takeChanges();

    f.manager.setConfiguredAddresses({"127.0.0.4"});
    auto changes = f.manager.takeChanges();
    CHECK(changes.addressesAdded == std::set<std::string>{"127.0.0.4"});
    CHECK(changes.addressesRemoved == std::set<std::string>{"127.0.0.3"});
    CHECK(changes.addressesChanged == std::set<std::string>{"127.0.0.2"});
    CHECK(changes.certificatesChanged.count(web.id) == 1); // its Addresses lost 127.0.0.3
    CHECK(f.manager.address("127.0.0.2").origin == AddressOrigin::Discovered);
    CHECK(f.manager.address("127.0.0.4").origin == AddressOrigin::Configured);
    CHECK(f.manager.addresses().count("127.0.0.3") == 0);

    // Listed again, an address serves the certificate it was bound to; a discovered one listed
    // turns configured, and then outlives its disappearance from the host.
    f.manager.setConfiguredAddresses({"127.0.0.2", "127.0.0.3"});
    changes = f.manager.takeChanges();
    CHECK(changes.addressesAdded == std::set<std::string>{"127.0.0.3"});
    CHECK(changes.addressesRemoved == std::set<std::string>{"127.0.0.4"});
    CHECK(f.manager.certificateForAddress("127.0.0.3") == web.id);
    CHECK(f.manager.address("127.0.0.2").origin == AddressOrigin::Configured);
    f.manager.addressVanished("127.0.0.2");
    CHECK(f.manager.addresses().count("127.0.0.2") == 1);
    f.manager.takeChanges();

    f.manager.setConfiguredAddresses({"127.0.0.2", "127.0.0.3"});
    CHECK(f.manager.takeChanges().empty());
    CHECK(errorCodeOf([&] {
              f.manager.setConfiguredAddresses({"127.0.0.5", "nope"});
          }) == ErrorCode::InvalidArgument);
    CHECK(f.manager.addresses().count("127.0.0.5") == 0); // nothing changed
}

TEST_CASE("check names uncovered hosts, compares IPs canonically, and reports a root change as info")
{
    Fixture f;
    f.manager.ensureFactoryCertificate();
    CreateSpec cs;
    cs.spec.friendlyName = "web";
    cs.spec.subject.commonName = "www.example.com";
    cs.spec.subjectAltNames = {{pki::SubjectAltName::Type::Dns, "*.example.com"},
                               {pki::SubjectAltName::Type::Ip, "::1"}};
    cs.spec.keyType = pki::KeyType::EcP256;
    const auto web = f.manager.createSelfSigned(cs);
    const auto findings = f.manager.check(web.id, {"a.example.com", "a.b.example.com", "0:0::1", "[::1]"});
    std::vector<std::string> uncovered;
    bool rootInfo = false;
    for (const auto& finding : findings) {
        if (finding.code == "hostname-not-covered")
            uncovered.push_back(finding.text);
        if (finding.code == "root-changed")
            rootInfo = finding.severity == Severity::Info;
    }
    REQUIRE(uncovered.size() == 1);
    CHECK(uncovered.front().find("a.b.example.com") != std::string::npos);
    CHECK(rootInfo);
}

// Issue 12: slow calls in three steps (prepare, build on a worker, commit); what happens to
// the model between prepare and commit decides the outcome as if the calls ran one after
// the other in commit order.
TEST_CASE("a request on a key deleted between prepare and commit: NotFound, nothing stored")
{
    Fixture f;
    f.manager.ensureFactoryCertificate();
    const auto lone = test::testKey(pki::KeyType::EcP256, 9);
    const auto keyId = f.manager.importData(asBytes(keyPem(lone.get())), Secret(), "").keys.front();
    f.manager.takeChanges();
    CreateSpec cs;
    cs.spec.subject.commonName = "csr.example.com";
    cs.keyId = keyId;
    auto pending = f.manager.prepareCreate(cs, false);
    Manager::buildCreate(pending);
    f.manager.deleteKey(keyId); // the key has no user yet: the deletion is allowed
    const StoreState before = f.store.state();
    f.manager.takeChanges();
    CHECK(errorCodeOf([&] { f.manager.commitCreate(std::move(pending)); }) == ErrorCode::NotFound);
    CHECK(f.store.state() == before);
    CHECK(f.manager.requests().empty());
    CHECK(f.manager.takeChanges().empty());
}

TEST_CASE("two imports of one file parsed before either commits: stored once, same objects")
{
    Fixture f;
    f.manager.ensureFactoryCertificate();
    const auto a = test::makeSelfSigned(serverFor("twin.example.com"));
    const std::string data = pem(a.cert.get());
    auto first = Manager::parseImportData(asBytes(data), Secret());
    auto second = Manager::parseImportData(asBytes(data), Secret());
    const auto one = f.manager.commitImport(std::move(first), "");
    const std::size_t certificates = f.manager.certificates().size();
    f.manager.takeChanges();
    const auto two = f.manager.commitImport(std::move(second), "twin");
    CHECK(one.certificates == two.certificates);
    CHECK(f.manager.certificates().size() == certificates);
    CHECK(f.manager.friendlyName(two.certificates.front()) == "twin"); // the later name wins
    CHECK(f.manager.takeChanges().certificatesAdded.empty());
}

TEST_CASE("a certificate made off the model appears only at its commit")
{
    Fixture f;
    f.manager.ensureFactoryCertificate();
    CreateSpec cs;
    cs.spec.subject.commonName = "late.example.com";
    cs.spec.keyType = pki::KeyType::EcP256;
    auto pending = f.manager.prepareCreate(cs, true);
    Manager::buildCreate(pending);
    const std::string id = pending.certificate.id;
    CHECK_FALSE(f.manager.certificates().count(id));
    CHECK(errorCodeOf([&] { f.manager.assign("127.0.0.2", id); }) == ErrorCode::NotFound);
    const auto created = f.manager.commitCreate(std::move(pending));
    CHECK(created.id == id);
    CHECK(f.manager.certificate(id).info.subject == "CN=late.example.com");
    f.manager.assign("127.0.0.2", id);
    CHECK(f.manager.certificateForAddress("127.0.0.2") == id);
}

TEST_CASE("group commit: staged changes show at once, are durable after one flush, and a failed flush undoes "
          "them all")
{
    test::TempDir dir;
    const auto spec = [](const std::string& name) {
        CreateSpec cs;
        cs.spec.friendlyName = name;
        cs.spec.subject.commonName = name + ".example.com";
        cs.spec.keyType = pki::KeyType::EcP256;
        return cs;
    };
    std::string kept, alsoKept, lost, later;
    {
        Store store(dir.path());
        Manager manager(store, groupCommitOptions());
        manager.ensureFactoryCertificate();
        manager.flush();
        // One write (a journal record or a snapshot) per flush, whatever it holds.
        const auto writes = [&] { return store.counters().journalRecords + store.counters().snapshots; };
        const auto before = writes();

        kept = manager.createSelfSigned(spec("kept")).id;
        alsoKept = manager.createSelfSigned(spec("also-kept")).id;
        CHECK(manager.hasStaged());
        CHECK(manager.certificates().count(kept) == 1); // the model shows what is staged
        CHECK(writes() == before);                      // nothing is written yet
        manager.flush();
        CHECK_FALSE(manager.hasStaged());
        CHECK(writes() == before + 1); // one flush for both
        manager.takeChanges();

        // The next group cannot be written: certs/ is a file now, so the certificate cannot be.
        lost = manager.createSelfSigned(spec("lost")).id;
        manager.deleteCertificate(kept);
        CHECK(manager.certificates().count(lost) == 1);
        CHECK(manager.certificates().count(kept) == 0);
        std::filesystem::rename(dir.path() / "certs", dir.path() / "certs.away");
        std::ofstream(dir.path() / "certs") << "in the way";
        CHECK(errorCodeOf([&] { manager.flush(); }) == ErrorCode::Internal);
        // Back to the durable state: the lost certificate is gone (and never to be announced),
        // the deleted one is back (to be announced again).
        CHECK_FALSE(manager.hasStaged());
        CHECK(manager.certificates().count(lost) == 0);
        CHECK(manager.certificates().count(kept) == 1);
        CHECK(manager.certificates().count(alsoKept) == 1);
        const Changes changes = manager.takeChanges();
        CHECK(changes.certificatesAdded.count(lost) == 0);
        CHECK(changes.certificatesAdded.count(kept) == 1);
        std::filesystem::remove(dir.path() / "certs");
        std::filesystem::rename(dir.path() / "certs.away", dir.path() / "certs");

        // And it goes on: the next group is durable.
        later = manager.createSelfSigned(spec("later")).id;
        manager.flush();
    }
    Store reopened(dir.path());
    const auto& stored = reopened.state().certificates;
    CHECK(stored.count(kept) == 1);
    CHECK(stored.count(alsoKept) == 1);
    CHECK(stored.count(later) == 1);
    CHECK(stored.count(lost) == 0);
}
