// DESIGN §1 workflows end to end through the client library, against a real
// certd on a private bus; the openssl CLI plays the certificate authority.

#include "cert_factory.hpp"
#include "certd_fixture.hpp"
#include "client.hpp"
#include "error_code_of.hpp"
#include "pki/certificate.hpp"
#include "pki/export.hpp"
#include "process.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <functional>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace certd;
using namespace certd::test;

namespace {

std::vector<std::uint8_t> bytesOf(const std::string& s)
{
    return {s.begin(), s.end()};
}

std::string run(const std::vector<std::string>& argv, const std::string& input = {})
{
    const auto r = runProcess(argv, input);
    INFO(argv[0] << " " << argv[1] << ": " << r.err);
    REQUIRE(r.exitCode == 0);
    return r.out;
}

// A test CA made with the openssl CLI.
struct OpensslCa {
    TempDir dir;
    OpensslCa()
    {
        run({"openssl",
             "req",
             "-x509",
             "-newkey",
             "ec",
             "-pkeyopt",
             "ec_paramgen_curve:P-256",
             "-nodes",
             "-keyout",
             (dir / "ca.key").string(),
             "-out",
             (dir / "ca.pem").string(),
             "-days",
             "60",
             "-subj",
             "/CN=Test Root CA",
             "-addext",
             "basicConstraints=critical,CA:TRUE",
             "-addext",
             "keyUsage=critical,keyCertSign,cRLSign"});
    }
    std::string rootPem() const { return readTestFile((dir / "ca.pem").string()); }
    // Signs a CSR; the SANs come from the request.
    std::string sign(const std::string& csrPem, int days = 30)
    {
        writeTestFile((dir / "req.csr").string(), csrPem);
        run({"openssl", "x509", "-req", "-in", (dir / "req.csr").string(), "-CA", (dir / "ca.pem").string(),
             "-CAkey", (dir / "ca.key").string(), "-CAcreateserial", "-days", std::to_string(days),
             "-copy_extensions", "copy", "-out", (dir / "signed.pem").string()});
        return readTestFile((dir / "signed.pem").string());
    }
};

client::CertificateSpec webSpec(const std::string& name, const std::string& cn)
{
    client::CertificateSpec spec;
    spec.friendlyName = name;
    spec.keyType = "ec-p256";
    spec.commonName = cn;
    spec.organization = "Example GmbH";
    spec.country = "DE";
    spec.subjectAltNames = {"DNS:" + cn};
    return spec;
}

bool contains(const std::vector<std::string>& v, const std::string& s)
{
    return std::find(v.begin(), v.end(), s) != v.end();
}

} // namespace

TEST_CASE("self-signed workflow: created with key, listed, assigned, shown in status")
{
    PrivateBus bus;
    CertdProcess certd(bus);
    certd.start();
    client::Client c;

    const auto factory = c.certificate(c.factoryCertificate());
    CHECK(factory.isFactoryDefault);
    CHECK(factory.hasPrivateKey);
    CHECK(factory.friendlyName == "Appliance");
    CHECK(factory.addresses == std::vector<std::string>{"127.0.0.2", "127.0.0.3"});

    const auto created = c.createSelfSigned(webSpec("web", "www.example.com"));
    const auto cert = c.certificate(created.path);
    CHECK(cert.friendlyName == "web");
    CHECK(cert.hasPrivateKey);
    CHECK(cert.kind == "server");
    CHECK(cert.publicKey == "ECDSA P-256 (256 Bits)");
    CHECK(cert.subject.find("CN=www.example.com") != std::string::npos);
    REQUIRE(cert.subjectAltNames.size() == 1);
    CHECK(cert.subjectAltNames[0].value == "www.example.com");
    const auto key = c.key(cert.key);
    CHECK(key.algorithm == "EC");
    CHECK(contains(key.certificates, created.path));

    c.assign("127.0.0.2", created.path);
    CHECK(c.certificate(created.path).addresses == std::vector<std::string>{"127.0.0.2"});
    CHECK(c.certificate(factory.path).addresses == std::vector<std::string>{"127.0.0.3"});

    const auto status = c.getStatus();
    CHECK(status.certificates == 2);
    CHECK(status.version == c.version());
    CHECK_FALSE(status.hostname.empty());
    CHECK(status.machineId.size() == 32);
    REQUIRE(status.addresses.size() == 2);
    CHECK(status.addresses[0].address == "127.0.0.2");
    CHECK(status.addresses[0].certificate == created.path);
    CHECK(status.soonestExpiry != "/");

    // The exported certificate is the one the bus describes.
    const auto der = c.exportCertificate(created.path, {});
    const auto fingerprint = run({"openssl", "x509", "-inform", "DER", "-noout", "-fingerprint", "-sha256"},
                                 std::string(der.begin(), der.end()));
    std::string hex;
    for (char ch : fingerprint.substr(fingerprint.find('=') + 1))
        if (std::isxdigit(static_cast<unsigned char>(ch)))
            hex += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    CHECK(hex == cert.fingerprintSha256);
}

TEST_CASE("CSR workflow: signed by a CA, imported, linked, request completed, assigned")
{
    PrivateBus bus;
    CertdProcess certd(bus);
    certd.start();
    client::Client c;
    OpensslCa ca;

    auto spec = webSpec("shop", "shop.example.com");
    spec.keyType = "rsa2048";
    spec.subjectAltNames.push_back("DNS:www.shop.example.com");
    const auto requested = c.createRequest(spec);
    auto request = c.request(requested.path);
    CHECK(request.state == "pending");
    CHECK(request.certificate == "/");
    CHECK(run({"openssl", "req", "-noout", "-text"}, request.requestPem).find("DNS:www.shop.example.com") !=
          std::string::npos);

    const auto signedPem = ca.sign(request.requestPem);
    const auto imported = c.importData(bytesOf(signedPem), "");
    std::string certPath;
    for (const auto& o : imported.objects)
        if (o.rfind(client::kCertificatePathPrefix, 0) == 0)
            certPath = o;
    REQUIRE_FALSE(certPath.empty());
    CHECK(contains(imported.objects, requested.path));
    request = c.request(requested.path);
    CHECK(request.state == "completed");
    CHECK(request.certificate == certPath);
    const auto cert = c.certificate(certPath);
    CHECK(cert.hasPrivateKey);
    CHECK(cert.key == request.key);
    CHECK(cert.friendlyName == "shop"); // the request's name (issue 11), not the CN
    bool incomplete = false;
    for (const auto& w : cert.warnings)
        incomplete = incomplete || w.code == "chain-incomplete";
    CHECK(incomplete);

    // The root completes the chain; the certificate's Chain names it.
    const auto rootImport = c.importData(bytesOf(ca.rootPem()), "");
    REQUIRE(rootImport.objects.size() == 1);
    CHECK(c.certificate(certPath).chain == std::vector<std::string>{rootImport.objects[0]});
    CHECK(c.certificate(rootImport.objects[0]).kind == "root");
    CHECK(errorCodeOf([&] { c.assign("127.0.0.2", rootImport.objects[0]); }) == ErrorCode::NoPrivateKey);

    c.assign("127.0.0.3", certPath);
    CHECK(c.certificate(certPath).addresses == std::vector<std::string>{"127.0.0.3"});
}

TEST_CASE(
    "failover copy: PKCS#12 from one certd imported into another gives the same cert, key link and chain")
{
    OpensslCa ca;
    std::vector<std::uint8_t> p12;
    std::string fingerprint, rootFingerprint, keyFingerprint;
    {
        PrivateBus bus;
        CertdProcess primary(bus);
        primary.start();
        client::Client c;
        const auto requested = c.createRequest(webSpec("vip", "vip.example.com"));
        c.importData(bytesOf(ca.sign(c.request(requested.path).requestPem)), "");
        c.importData(bytesOf(ca.rootPem()), "");
        const auto key = c.key(c.request(requested.path).key);
        keyFingerprint = key.fingerprintSha256;
        const auto certPath = c.request(requested.path).certificate;
        fingerprint = c.certificate(certPath).fingerprintSha256;
        rootFingerprint = c.certificate(c.certificate(certPath).chain.at(0)).fingerprintSha256;
        client::ExportOptions options;
        options.includePrivateKey = true;
        options.includeChain = true;
        options.passphrase = "failover secret";
        p12 = c.exportCertificate(certPath, options);
        // openssl reads it back: one key, two certificates.
        TempDir t;
        writeTestFile((t / "x.p12").string(), std::string(p12.begin(), p12.end()));
        const auto dump = run({"openssl", "pkcs12", "-in", (t / "x.p12").string(), "-nodes", "-passin",
                               "pass:failover secret"});
        CHECK(std::count(dump.begin(), dump.end(), '\n') > 10);
        CHECK(dump.find("BEGIN PRIVATE KEY") != std::string::npos);
    }
    PrivateBus bus;
    CertdProcess backup(bus);
    backup.start();
    client::Client c;
    CHECK(errorCodeOf([&] { c.importData(p12, "wrong"); }) == ErrorCode::BadPassphrase);
    CHECK(errorCodeOf([&] { c.importData(p12, ""); }) == ErrorCode::PassphraseRequired);
    c.importData(p12, "failover secret");
    const auto inventory = c.list();
    const auto it = std::find_if(inventory.certificates.begin(), inventory.certificates.end(),
                                 [&](const auto& x) { return x.fingerprintSha256 == fingerprint; });
    REQUIRE(it != inventory.certificates.end());
    CHECK(it->hasPrivateKey);
    CHECK(c.key(it->key).fingerprintSha256 == keyFingerprint);
    REQUIRE(it->chain.size() == 1);
    CHECK(c.certificate(it->chain[0]).fingerprintSha256 == rootFingerprint);
}

TEST_CASE("renew: ReplaceCertificate moves every address of the old certificate to the renewed one")
{
    PrivateBus bus;
    CertdProcess certd(bus);
    certd.start();
    client::Client c;
    OpensslCa ca;
    const auto requested = c.createRequest(webSpec("portal", "portal.example.com"));
    const auto csr = c.request(requested.path).requestPem;
    c.importData(bytesOf(ca.sign(csr, 10)), "");
    const auto oldPath = c.request(requested.path).certificate;
    c.setAddresses(oldPath, {"127.0.0.2", "127.0.0.3"});

    // Renewal: the CA signs the same request again (same key), the renewed cert is imported.
    const auto renewed = c.importData(bytesOf(ca.sign(csr, 40)), "");
    const auto newPath = renewed.objects.at(0);
    CHECK(newPath != oldPath);
    CHECK(c.certificate(newPath).key == c.certificate(oldPath).key);
    const auto moved = c.replaceCertificate(oldPath, newPath);
    CHECK(moved == std::vector<std::string>{"127.0.0.2", "127.0.0.3"});
    CHECK(c.certificate(newPath).addresses == moved);
    CHECK(c.certificate(oldPath).addresses.empty());
    // The old certificate no longer serves anything, so it can go; its key stays with the new one.
    c.deleteCertificate(oldPath);
    CHECK(c.certificate(newPath).hasPrivateKey);
}

TEST_CASE("re-key: CreateRequest with copy_from keeps subject and SANs with a new key")
{
    PrivateBus bus;
    CertdProcess certd(bus);
    certd.start();
    client::Client c;
    auto spec = webSpec("mail", "mail.example.com");
    spec.subjectAltNames.push_back("DNS:smtp.example.com");
    const auto original = c.certificate(c.createSelfSigned(spec).path);
    client::CertificateSpec rekey;
    rekey.copyFrom = original.path;
    rekey.keyType = "rsa3072";
    const auto request = c.request(c.createRequest(rekey).path);
    CHECK(request.subject == original.subject);
    REQUIRE(request.subjectAltNames.size() == 2);
    CHECK(request.subjectAltNames[1].value == "smtp.example.com");
    CHECK(request.key != original.key);
    CHECK(c.key(request.key).bits == 3072);
    // Renewal with the existing key instead: CreateRequest with key.
    client::CertificateSpec renewal = spec;
    renewal.keyType.reset();
    renewal.key = original.key;
    CHECK(c.request(c.createRequest(renewal).path).key == original.key);
}

TEST_CASE("everything persists across a restart")
{
    PrivateBus bus;
    CertdProcess certd(bus);
    certd.start();
    std::string path, factory, requestPath;
    {
        client::Client c;
        path = c.createSelfSigned(webSpec("keep", "keep.example.com")).path;
        c.setFriendlyName(path, "kept name");
        c.assign("127.0.0.3", path);
        requestPath = c.createRequest(webSpec("pending", "pending.example.com")).path;
        factory = c.factoryCertificate();
    }
    certd.stop();
    certd.start();
    client::Client c;
    CHECK(c.factoryCertificate() == factory);
    const auto cert = c.certificate(path);
    CHECK(cert.friendlyName == "kept name");
    CHECK(cert.addresses == std::vector<std::string>{"127.0.0.3"});
    CHECK(cert.hasPrivateKey);
    CHECK(c.request(requestPath).state == "pending");
}

TEST_CASE("bad input on every method gets its named error and leaves the stored state unchanged")
{
    PrivateBus bus;
    CertdProcess certd(bus);
    certd.start();
    client::Client c;
    const auto good = c.createSelfSigned(webSpec("good", "good.example.com")).path;
    const auto before = certd.snapshotState();
    const std::string missing = "/org/certd1/certificate/00000000000000000000000000000000";

    auto badCountry = webSpec("x", "x.example.com");
    badCountry.country = "XX";
    CHECK(errorCodeOf([&] { c.createSelfSigned(badCountry); }) == ErrorCode::InvalidArgument);
    auto noCn = webSpec("x", "x.example.com");
    noCn.commonName.reset();
    noCn.subjectAltNames.clear();
    CHECK(errorCodeOf([&] { c.createSelfSigned(noCn); }) == ErrorCode::InvalidArgument);
    auto badSan = webSpec("x", "x.example.com");
    badSan.subjectAltNames = {"DNS:foo.*.example.com"};
    CHECK(errorCodeOf([&] { c.createRequest(badSan); }) == ErrorCode::InvalidArgument);
    auto badKeyType = webSpec("x", "x.example.com");
    badKeyType.keyType = "dsa1024";
    CHECK(errorCodeOf([&] { c.createRequest(badKeyType); }) == ErrorCode::InvalidArgument);
    auto unknownKey = webSpec("x", "x.example.com");
    unknownKey.keyType.reset();
    unknownKey.key = "/org/certd1/key/00";
    CHECK(errorCodeOf([&] { c.createRequest(unknownKey); }) == ErrorCode::NotFound);

    CHECK(errorCodeOf([&] { c.importData({}, ""); }) == ErrorCode::EmptyInput);
    CHECK(errorCodeOf([&] { c.importData(bytesOf("garbage that is no certificate"), ""); }) ==
          ErrorCode::Malformed);
    auto truncated = c.exportCertificate(good, {});
    truncated.resize(truncated.size() / 2);
    CHECK(errorCodeOf([&] { c.importData(truncated, ""); }) == ErrorCode::Malformed);

    CHECK(errorCodeOf([&] { c.assign("127.0.0.9", good); }) == ErrorCode::NotFound);
    CHECK(errorCodeOf([&] { c.assign("not-an-ip", good); }) == ErrorCode::InvalidArgument);
    CHECK(errorCodeOf([&] { c.assign("127.0.0.2", missing); }) == ErrorCode::NotFound);
    CHECK(errorCodeOf([&] { c.setAddresses(good, {"127.0.0.2", "10.9.9.9"}); }) == ErrorCode::NotFound);
    CHECK(errorCodeOf([&] { c.replaceCertificate(missing, good); }) == ErrorCode::NotFound);
    CHECK(errorCodeOf([&] { c.replaceCertificate(good, good); }) == ErrorCode::InvalidArgument);
    CHECK(errorCodeOf([&] { c.setFriendlyName(good, ""); }) == ErrorCode::InvalidArgument);
    CHECK(errorCodeOf([&] { c.setChain(good, "sideways", {}); }) == ErrorCode::InvalidArgument);
    CHECK(errorCodeOf([&] { c.check(missing, {"a.example.com"}); }) == ErrorCode::NotFound);
    client::ExportOptions badFormat;
    badFormat.format = "zip";
    CHECK(errorCodeOf([&] { c.exportCertificate(good, badFormat); }) == ErrorCode::InvalidArgument);
    CHECK(errorCodeOf([&] { c.deleteCertificate(c.factoryCertificate()); }) == ErrorCode::InUse);
    CHECK(errorCodeOf([&] { c.deleteKey(c.certificate(good).key); }) == ErrorCode::InUse);
    CHECK(errorCodeOf([&] { c.deleteRequest("/org/certd1/request/nope"); }) == ErrorCode::NotFound);
    CHECK(c.fetchIssuer(good).empty()); // self-signed: its chain is complete, nothing to fetch

    CHECK(certd.snapshotState() == before);
}

TEST_CASE("bus signals announce changes: InterfacesAdded, PropertiesChanged, InterfacesRemoved")
{
    PrivateBus bus;
    CertdProcess certd(bus);
    certd.start();
    TempDir t;
    // busctl monitor (BecomeMonitor) records everything certd sends while the client works.
    const std::string monitorLog = (t / "monitor.txt").string();
    const std::string monitorErr = (t / "monitor.err").string();
    std::fflush(stdout);
    std::fflush(stderr);
    const pid_t monitor = ::fork();
    if (monitor == 0) {
        std::freopen(monitorLog.c_str(), "w", stdout);
        std::freopen(monitorErr.c_str(), "w", stderr);
        ::execlp("timeout", "timeout", "120", "busctl", "--system", "monitor", "org.certd1", nullptr);
        ::_exit(127);
    }
    const auto logged = [](const std::string& file, const std::string& text) {
        return [=] {
            try {
                return readTestFile(file).find(text) != std::string::npos;
            } catch (const std::exception&) {
                return false;
            }
        };
    };
    // busctl says so once the bus has made it a monitor: from then on it sees every message.
    REQUIRE(waitUntil(logged(monitorErr, "Monitoring bus message stream."), std::chrono::seconds(60)));
    client::Client c;
    const auto path = c.createSelfSigned(webSpec("sig", "sig.example.com")).path;
    c.assign("127.0.0.2", path);
    c.assign("127.0.0.2", c.factoryCertificate());
    c.deleteCertificate(path);
    c.version(); // a round trip, so the signals above have been routed
    // A later message the bus routes after them (a Ping to a path of our own): once the monitor
    // has written it, it has written every signal above.
    REQUIRE(runProcess({"busctl", "--system", "call", "org.certd1", "/org/certd1/test/signals_done",
                        "org.freedesktop.DBus.Peer", "Ping"})
                .exitCode == 0);
    REQUIRE(waitUntil(logged(monitorLog, "Path=/org/certd1/test/signals_done"), std::chrono::seconds(60)));
    ::kill(monitor, SIGTERM);
    ::waitpid(monitor, nullptr, 0);
    const auto log = readTestFile(monitorLog);
    CHECK(log.find("Member=InterfacesAdded") != std::string::npos);
    CHECK(log.find("Member=PropertiesChanged") != std::string::npos);
    CHECK(log.find("Member=InterfacesRemoved") != std::string::npos);
    CHECK(log.find(path) != std::string::npos);
}

namespace {
// A certificate and its key from the in-process factory, as one PEM file.
std::vector<std::uint8_t> pemWithKey(const TestCert& made)
{
    pki::ExportRequest request;
    request.format = pki::ExportFormat::Pem;
    request.certificates = {made.cert.get()};
    request.key = made.key.get();
    const auto pem = pki::exportObjects(request);
    return {pem.begin(), pem.end()};
}

bool hasCode(const std::vector<client::Warning>& warnings, const std::string& code)
{
    return std::any_of(warnings.begin(), warnings.end(), [&](const auto& w) { return w.code == code; });
}
} // namespace

TEST_CASE(
    "pre-flight: expired certificates and uncovered names are refused unless forced; root changes warned")
{
    PrivateBus bus;
    CertdProcess certd(bus);
    certd.start();
    client::Client c;

    IssueOptions expiredOptions;
    expiredOptions.commonName = "old.example.com";
    expiredOptions.dnsNames = {"old.example.com"};
    expiredOptions.notBeforeOffsetSeconds = -10L * 86400;
    expiredOptions.notAfterOffsetSeconds = -86400;
    const auto expired = c.importData(pemWithKey(makeSelfSigned(expiredOptions)), "").objects.at(0);
    const auto before = certd.snapshotState();
    CHECK(errorCodeOf([&] { c.assign("127.0.0.2", expired); }) == ErrorCode::CheckFailed);
    CHECK(errorCodeOf([&] { c.setAddresses(expired, {"127.0.0.2"}); }) == ErrorCode::CheckFailed);
    CHECK(certd.snapshotState() == before);
    const auto forced = c.assign("127.0.0.2", expired, true);
    CHECK(hasCode(forced, "expired"));
    CHECK(c.certificate(expired).addresses == std::vector<std::string>{"127.0.0.2"});

    // Renewal that drops a name the old certificate served.
    const auto narrow = c.createSelfSigned(webSpec("narrow", "other.example.com")).path;
    CHECK(errorCodeOf([&] { c.replaceCertificate(expired, narrow); }) == ErrorCode::CheckFailed);
    CHECK(c.certificate(expired).addresses == std::vector<std::string>{"127.0.0.2"});
    const auto wide = c.createSelfSigned(webSpec("wide", "old.example.com")).path;
    std::vector<client::Warning> warnings;
    CHECK(c.replaceCertificate(expired, wide, false, &warnings) == std::vector<std::string>{"127.0.0.2"});

    // Two CAs: moving 127.0.0.3 from one root to another warns about pinned roots.
    const auto rootA = makeRoot("Root A", pki::KeyType::EcP256, 1);
    const auto rootB = makeRoot("Root B", pki::KeyType::EcP256, 2);
    IssueOptions leaf;
    leaf.commonName = "pin.example.com";
    leaf.dnsNames = {"pin.example.com"};
    const auto a = c.importData(pemWithKey(issue(rootA, leaf)), "").objects.at(0);
    const auto a2 = c.importData(pemWithKey(issue(rootA, leaf)), "").objects.at(0);
    const auto b = c.importData(pemWithKey(issue(rootB, leaf)), "").objects.at(0);
    for (const auto* root : {&rootA, &rootB})
        c.importData(bytesOf(pki::certificatePem(root->cert.get())), "");
    // From the self-signed factory certificate to Root A: a different root, warned.
    CHECK(hasCode(c.assign("127.0.0.3", a), "root-changed"));
    // Another certificate under the same root: no warning.
    CHECK_FALSE(hasCode(c.assign("127.0.0.3", a2), "root-changed"));
    const auto moved = c.assign("127.0.0.3", b);
    CHECK(hasCode(moved, "root-changed"));
    bool checked = false;
    for (const auto& f : c.check(a, {"pin.example.com", "x.pin.example.com"})) {
        if (f.code == "root-changed")
            checked = true;
        if (f.code == "hostname-not-covered")
            CHECK(f.text.find("x.pin.example.com") != std::string::npos);
    }
    CHECK(checked);
}
