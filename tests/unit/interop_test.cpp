// Interop with the tools operators and other appliances use: every export is
// read back by the real openssl CLI (and NSS / Java where they can), and files
// written by openssl, GnuTLS certtool, NSS pk12util and Java keytool import
// with the right certificates, keys and key links. A missing tool fails the
// test: CI installs openssl, gnutls-bin, libnss3-tools and a JRE.

#include "cert_factory.hpp"
#include "error.hpp"
#include "pki/certificate.hpp"
#include "pki/export.hpp"
#include "pki/import.hpp"
#include "process.hpp"
#include "temp_dir.hpp"

#include <doctest/doctest.h>

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

using namespace certd;
using namespace certd::pki;
using certd::test::makeTestPki;
using certd::test::readTestFile;
using certd::test::runProcess;
using certd::test::TempDir;
using certd::test::writeTestFile;

namespace {

constexpr const char* kPassphrase = "interop pass 9";

bool onPath(const std::string& tool)
{
    const char* path = std::getenv("PATH");
    std::stringstream dirs(path != nullptr ? path : "/usr/bin:/bin");
    std::string dir;
    while (std::getline(dirs, dir, ':'))
        if (!dir.empty() && ::access((dir + "/" + tool).c_str(), X_OK) == 0)
            return true;
    return false;
}

void requireTool(const std::string& tool, const std::string& package)
{
    REQUIRE_MESSAGE(onPath(tool),
                    tool << " is not on PATH; install " << package << " to run this interop test");
}

// Runs a tool and requires success; its standard output.
std::string run(const std::vector<std::string>& argv, const std::string& input = {})
{
    const auto result = runProcess(argv, input, 120);
    std::string command;
    for (const auto& a : argv)
        command += a + " ";
    REQUIRE_MESSAGE(result.exitCode == 0, command << "failed (" << result.exitCode << "): " << result.err);
    return result.out;
}

std::string openssl(std::vector<std::string> args, const std::string& input = {})
{
    requireTool("openssl", "openssl");
    args.insert(args.begin(), "openssl");
    return run(args, input);
}

std::string text(const SecureBytes& b)
{
    return {b.begin(), b.end()};
}

std::string derOf(X509* cert)
{
    const Bytes der = certificateDer(cert);
    return {der.begin(), der.end()};
}

std::vector<std::string> ders(const ImportedBundle& bundle)
{
    std::vector<std::string> out;
    for (const auto& c : bundle.certificates)
        out.push_back(derOf(c.get()));
    return out;
}

ImportedBundle import(const std::string& data, const std::string& passphrase = {})
{
    return parseImport(asBytes(data), Secret(passphrase));
}

ImportedBundle importFile(const std::string& path, const std::string& passphrase = {})
{
    return import(readTestFile(path), passphrase);
}

// The ErrorCode name an import throws ("" when it succeeds); checks that the
// message never repeats the passphrase.
std::string importErrorName(const std::string& data, const std::string& passphrase = {})
{
    try {
        import(data, passphrase);
    } catch (const Error& e) {
        if (!passphrase.empty())
            CHECK(std::string(e.what()).find(passphrase) == std::string::npos);
        return std::string(errorName(e.code()));
    }
    return {};
}

std::string codeName(ErrorCode code)
{
    return std::string(errorName(code));
}

// The failures every encrypted file must give: no passphrase, a wrong one.
void checkPassphraseErrors(const std::string& data)
{
    CHECK(importErrorName(data) == codeName(ErrorCode::PassphraseRequired));
    CHECK(importErrorName(data, "wrong-" + std::string(kPassphrase)) == codeName(ErrorCode::BadPassphrase));
}

// The first certificate has the first key: the link the store makes.
void checkLinked(const ImportedBundle& bundle)
{
    REQUIRE(!bundle.certificates.empty());
    REQUIRE(bundle.keys.size() == 1);
    CHECK(spkiSha256Hex(X509_get0_pubkey(bundle.certificates[0].get())) ==
          spkiSha256Hex(bundle.keys[0].get()));
}

bool sameKeys(EVP_PKEY* a, EVP_PKEY* b)
{
    return EVP_PKEY_eq(a, b) == 1;
}

SecureBytes exportWith(ExportFormat format, const std::vector<X509*>& certs, EVP_PKEY* key = nullptr,
                       const std::string& passphrase = {})
{
    ExportRequest r;
    r.format = format;
    r.certificates = certs;
    r.key = key;
    r.passphrase = Secret(passphrase);
    r.friendlyName = "Web server";
    return exportObjects(r);
}

std::string lowerHexWithoutColons(const std::string& s)
{
    std::string out;
    for (const char c : s)
        if (std::isxdigit(static_cast<unsigned char>(c)))
            out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    return out;
}

std::string crlfOf(const std::string& s)
{
    std::string out;
    for (const char c : s) {
        if (c == '\n')
            out += '\r';
        out += c;
    }
    return out;
}

// openssl req -x509 -newkey: a self-signed certificate and its key in one PEM.
struct OpensslPair {
    std::string certPath;
    std::string keyPath;
};
OpensslPair opensslSelfSigned(const TempDir& dir, const std::string& name, const std::string& newkey = "ec",
                              const std::vector<std::string>& keyOptions = {"-pkeyopt",
                                                                            "ec_paramgen_curve:P-256"})
{
    OpensslPair pair{dir / (name + ".crt"), dir / (name + ".key")};
    std::vector<std::string> args{"req", "-x509", "-newkey", newkey};
    args.insert(args.end(), keyOptions.begin(), keyOptions.end());
    args.insert(args.end(), {"-nodes", "-keyout", pair.keyPath, "-out", pair.certPath, "-subj",
                             "/CN=" + name + ".example.com", "-days", "30"});
    openssl(args);
    return pair;
}

} // namespace

// ---------------------------------------------------------------------------
// Our exports, read by the openssl CLI

TEST_CASE("openssl x509 reads the DER export with the same SHA-256 fingerprint")
{
    const TempDir dir;
    const auto pki = makeTestPki();
    writeTestFile(dir / "cert.der", text(exportWith(ExportFormat::Der, {pki.leaf.cert.get()})));
    const std::string out =
        openssl({"x509", "-inform", "DER", "-in", dir / "cert.der", "-noout", "-fingerprint", "-sha256"});
    REQUIRE(out.find('=') != std::string::npos);
    const Bytes der = certificateDer(pki.leaf.cert.get());
    CHECK(lowerHexWithoutColons(out.substr(out.find('=') + 1)) == toHex(sha256(der)));
}

TEST_CASE("openssl pkcs7 -print_certs reads the PKCS#7 export in order")
{
    const TempDir dir;
    const auto pki = makeTestPki();
    const std::vector<X509*> certs{pki.leaf.cert.get(), pki.intermediate.cert.get(), pki.root.cert.get()};
    writeTestFile(dir / "chain.p7b", text(exportWith(ExportFormat::Pkcs7, certs)));
    const std::string pem = openssl({"pkcs7", "-inform", "DER", "-in", dir / "chain.p7b", "-print_certs"});
    CHECK(ders(import(pem)) == std::vector<std::string>{derOf(certs[0]), derOf(certs[1]), derOf(certs[2])});
}

TEST_CASE("openssl pkcs8 reads the PKCS#8 export, plain and encrypted")
{
    const TempDir dir;
    const auto key = certd::test::testKey(KeyType::Rsa2048);
    writeTestFile(dir / "plain.p8", text(exportWith(ExportFormat::Pkcs8, {}, key.get())));
    const std::string plain = openssl({"pkcs8", "-inform", "DER", "-in", dir / "plain.p8", "-nocrypt"});
    CHECK(plain.find("-----BEGIN PRIVATE KEY-----") != std::string::npos);
    REQUIRE(import(plain).keys.size() == 1);
    CHECK(sameKeys(import(plain).keys[0].get(), key.get()));

    writeTestFile(dir / "enc.p8", text(exportWith(ExportFormat::Pkcs8, {}, key.get(), kPassphrase)));
    const std::string decrypted = openssl(
        {"pkcs8", "-inform", "DER", "-in", dir / "enc.p8", "-passin", std::string("pass:") + kPassphrase});
    REQUIRE(import(decrypted).keys.size() == 1);
    CHECK(sameKeys(import(decrypted).keys[0].get(), key.get()));
    const auto wrong =
        runProcess({"openssl", "pkcs8", "-inform", "DER", "-in", dir / "enc.p8", "-passin", "pass:wrong"});
    CHECK(wrong.exitCode != 0);
}

TEST_CASE("openssl pkcs12 reads the PKCS#12 export: AES-256, SHA-256 MAC, friendly name, chain and key")
{
    const TempDir dir;
    const auto pki = makeTestPki();
    const std::vector<X509*> certs{pki.leaf.cert.get(), pki.intermediate.cert.get(), pki.root.cert.get()};
    writeTestFile(dir / "id.p12",
                  text(exportWith(ExportFormat::Pkcs12, certs, pki.leaf.key.get(), kPassphrase)));
    const std::string pass = std::string("pass:") + kPassphrase;

    const std::string info =
        openssl({"pkcs12", "-info", "-nokeys", "-in", dir / "id.p12", "-passin", pass}, {});
    const auto infoErr =
        runProcess({"openssl", "pkcs12", "-info", "-noout", "-in", dir / "id.p12", "-passin", pass});
    CHECK(infoErr.err.find("MAC: sha256") != std::string::npos);
    CHECK(infoErr.err.find("PBES2, PBKDF2, AES-256-CBC") != std::string::npos);
    CHECK(infoErr.err.find("RC2") == std::string::npos);
    CHECK(info.find("friendlyName: Web server") != std::string::npos);

    const std::string nodes = openssl({"pkcs12", "-in", dir / "id.p12", "-nodes", "-passin", pass});
    const auto bundle = import(nodes);
    CHECK(ders(bundle) == std::vector<std::string>{derOf(certs[0]), derOf(certs[1]), derOf(certs[2])});
    REQUIRE(bundle.keys.size() == 1);
    CHECK(sameKeys(bundle.keys[0].get(), pki.leaf.key.get()));

    const auto wrong =
        runProcess({"openssl", "pkcs12", "-in", dir / "id.p12", "-nodes", "-passin", "pass:nope"});
    CHECK(wrong.exitCode != 0);
}

TEST_CASE("openssl pkcs12 reads an RSA PKCS#12 export with an empty passphrase")
{
    const TempDir dir;
    const auto leaf = certd::test::makeSelfSigned({}, certd::test::testKey(KeyType::Rsa2048));
    writeTestFile(dir / "empty.p12",
                  text(exportWith(ExportFormat::Pkcs12, {leaf.cert.get()}, leaf.key.get())));
    const std::string nodes = openssl({"pkcs12", "-in", dir / "empty.p12", "-nodes", "-passin", "pass:"});
    const auto bundle = import(nodes);
    CHECK(ders(bundle) == std::vector<std::string>{derOf(leaf.cert.get())});
    REQUIRE(bundle.keys.size() == 1);
    CHECK(sameKeys(bundle.keys[0].get(), leaf.key.get()));
}

TEST_CASE("openssl reads the PEM export: certificates in order, then the encrypted key")
{
    const TempDir dir;
    const auto pki = makeTestPki();
    writeTestFile(dir / "id.pem",
                  text(exportWith(ExportFormat::Pem, {pki.leaf.cert.get(), pki.intermediate.cert.get()},
                                  pki.leaf.key.get(), kPassphrase)));
    const std::string chain = openssl({"crl2pkcs7", "-nocrl", "-certfile", dir / "id.pem"});
    const std::string certs = openssl({"pkcs7", "-print_certs"}, chain);
    CHECK(ders(import(certs)) ==
          std::vector<std::string>{derOf(pki.leaf.cert.get()), derOf(pki.intermediate.cert.get())});
    const std::string key =
        openssl({"pkey", "-in", dir / "id.pem", "-passin", std::string("pass:") + kPassphrase});
    REQUIRE(import(key).keys.size() == 1);
    CHECK(sameKeys(import(key).keys[0].get(), pki.leaf.key.get()));
}

// ---------------------------------------------------------------------------
// Files written by openssl, imported

TEST_CASE("import of openssl req -x509 -newkey rsa:2048 output links key and certificate")
{
    const TempDir dir;
    const auto pair = opensslSelfSigned(dir, "rsa", "rsa:2048", {});
    const std::string pem = readTestFile(pair.certPath) + readTestFile(pair.keyPath);
    const auto bundle = import(pem);
    REQUIRE(bundle.certificates.size() == 1);
    checkLinked(bundle);
    CHECK(derOf(bundle.certificates[0].get()) == openssl({"x509", "-in", pair.certPath, "-outform", "DER"}));

    // The same file after a trip through Windows (CRLF) and a BOM-adding editor.
    const auto crlf = import(crlfOf(pem));
    checkLinked(crlf);
    CHECK(ders(crlf) == ders(bundle));
    const auto bom = import("\xEF\xBB\xBF" + pem);
    checkLinked(bom);
    CHECK(ders(bom) == ders(bundle));
}

TEST_CASE("import of an openssl genpkey key converted with pkcs8 -topk8 -v2 aes256")
{
    const TempDir dir;
    openssl({"genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384", "-out", dir / "k.pem"});
    const std::string original = readTestFile(dir / "k.pem");
    const std::string pass = std::string("pass:") + kPassphrase;
    for (const std::string form : {"PEM", "DER"}) {
        CAPTURE(form);
        const std::string out = dir / ("k8." + form);
        openssl({"pkcs8", "-topk8", "-v2", "aes256", "-in", dir / "k.pem", "-outform", form, "-out", out,
                 "-passout", pass});
        const std::string data = readTestFile(out);
        const auto bundle = import(data, kPassphrase);
        REQUIRE(bundle.keys.size() == 1);
        CHECK(sameKeys(bundle.keys[0].get(), import(original).keys[0].get()));
        checkPassphraseErrors(data);
    }
}

TEST_CASE("import of openssl pkcs12 -export -legacy (RC2/3DES) yields cert, key and chain")
{
    const TempDir dir;
    const auto root = opensslSelfSigned(dir, "ca");
    const auto leaf = opensslSelfSigned(dir, "leaf");
    openssl({"pkcs12", "-export", "-legacy", "-in", leaf.certPath, "-inkey", leaf.keyPath, "-certfile",
             root.certPath, "-name", "web", "-out", dir / "legacy.p12", "-passout",
             std::string("pass:") + kPassphrase});
    const auto info = runProcess({"openssl", "pkcs12", "-info", "-noout", "-legacy", "-in",
                                  dir / "legacy.p12", "-passin", std::string("pass:") + kPassphrase});
    REQUIRE(info.err.find("RC2") != std::string::npos);

    const std::string data = readTestFile(dir / "legacy.p12");
    const auto bundle = import(data, kPassphrase);
    REQUIRE(bundle.certificates.size() == 2);
    CHECK(derOf(bundle.certificates[0].get()) == openssl({"x509", "-in", leaf.certPath, "-outform", "DER"}));
    CHECK(derOf(bundle.certificates[1].get()) == openssl({"x509", "-in", root.certPath, "-outform", "DER"}));
    checkLinked(bundle);
    checkPassphraseErrors(data);
}

TEST_CASE(
    "import of modern openssl pkcs12 -export files: passphrase, empty passphrase, no MAC, no encryption")
{
    const TempDir dir;
    const auto leaf = opensslSelfSigned(dir, "leaf");
    const std::vector<std::string> base{"pkcs12", "-export", "-in", leaf.certPath, "-inkey", leaf.keyPath};
    const auto make = [&](const std::string& name, const std::vector<std::string>& extra) {
        std::vector<std::string> args = base;
        args.insert(args.end(), extra.begin(), extra.end());
        args.insert(args.end(), {"-out", dir / name});
        openssl(args);
        return readTestFile(dir / name);
    };
    const std::string pass = std::string("pass:") + kPassphrase;

    const std::string withPass = make("pass.p12", {"-passout", pass});
    checkLinked(import(withPass, kPassphrase));
    CHECK(import(withPass, kPassphrase).warnings.empty());
    checkPassphraseErrors(withPass);

    const std::string empty = make("empty.p12", {"-passout", "pass:"});
    checkLinked(import(empty));
    CHECK(importErrorName(empty, kPassphrase) == codeName(ErrorCode::BadPassphrase));

    const std::string noMac = make("nomac.p12", {"-nomac", "-passout", pass});
    const auto noMacBundle = import(noMac, kPassphrase);
    checkLinked(noMacBundle);
    REQUIRE(noMacBundle.warnings.size() == 1);
    CHECK(noMacBundle.warnings[0].code == "pkcs12-no-mac");

    const std::string clear = make("clear.p12", {"-keypbe", "NONE", "-certpbe", "NONE", "-passout", pass});
    checkLinked(import(clear, kPassphrase));
}

TEST_CASE("import of DEK-Info keys from openssl rsa -aes256 -traditional and openssl ec -aes256")
{
    const TempDir dir;
    const auto rsa = opensslSelfSigned(dir, "rsa", "rsa:2048", {});
    const auto ec = opensslSelfSigned(dir, "ec");
    const std::string pass = std::string("pass:") + kPassphrase;
    openssl({"rsa", "-in", rsa.keyPath, "-aes256", "-traditional", "-passout", pass, "-out",
             dir / "rsa-enc.pem"});
    openssl({"ec", "-in", ec.keyPath, "-aes256", "-passout", pass, "-out", dir / "ec-enc.pem"});
    for (const auto& [pair, file] :
         {std::pair{rsa, std::string("rsa-enc.pem")}, std::pair{ec, std::string("ec-enc.pem")}}) {
        const std::string& fileName = file; // (CAPTURE makes a lambda: no structured bindings in clang 14)
        CAPTURE(fileName);
        const std::string key = readTestFile(dir / file);
        REQUIRE(key.find("DEK-Info: AES-256-CBC") != std::string::npos);
        const auto bundle = import(readTestFile(pair.certPath) + key, kPassphrase);
        checkLinked(bundle);
        checkPassphraseErrors(key);
    }
}

TEST_CASE("import of DER traditional keys from openssl rsa and ec -outform DER")
{
    const TempDir dir;
    const auto rsa = opensslSelfSigned(dir, "rsa", "rsa:2048", {});
    const auto ec = opensslSelfSigned(dir, "ec");
    openssl({"rsa", "-in", rsa.keyPath, "-traditional", "-outform", "DER", "-out", dir / "rsa.der"});
    openssl({"ec", "-in", ec.keyPath, "-outform", "DER", "-out", dir / "ec.der"});
    for (const auto& [pair, file] :
         {std::pair{rsa, std::string("rsa.der")}, std::pair{ec, std::string("ec.der")}}) {
        const std::string& fileName = file; // (CAPTURE makes a lambda: no structured bindings in clang 14)
        CAPTURE(fileName);
        const auto key = importFile(dir / file);
        REQUIRE(key.keys.size() == 1);
        const auto cert = importFile(pair.certPath);
        REQUIRE(cert.certificates.size() == 1);
        CHECK(spkiSha256Hex(X509_get0_pubkey(cert.certificates[0].get())) ==
              spkiSha256Hex(key.keys[0].get()));
    }
}

TEST_CASE("import of openssl crl2pkcs7 -nocrl output in DER and PEM")
{
    const TempDir dir;
    const auto a = opensslSelfSigned(dir, "a");
    const auto b = opensslSelfSigned(dir, "b");
    const std::vector<std::string> expected{openssl({"x509", "-in", a.certPath, "-outform", "DER"}),
                                            openssl({"x509", "-in", b.certPath, "-outform", "DER"})};
    for (const std::string form : {"DER", "PEM"}) {
        CAPTURE(form);
        const std::string p7 = openssl(
            {"crl2pkcs7", "-nocrl", "-certfile", a.certPath, "-certfile", b.certPath, "-outform", form});
        CHECK(ders(import(p7)) == expected);
    }
}

TEST_CASE("import of openssl pkcs12 -nodes output with its Bag Attributes text")
{
    const TempDir dir;
    const auto root = opensslSelfSigned(dir, "ca");
    const auto leaf = opensslSelfSigned(dir, "leaf");
    const std::string pass = std::string("pass:") + kPassphrase;
    openssl({"pkcs12", "-export", "-in", leaf.certPath, "-inkey", leaf.keyPath, "-certfile", root.certPath,
             "-name", "web", "-out", dir / "id.p12", "-passout", pass});
    const std::string nodes = openssl({"pkcs12", "-in", dir / "id.p12", "-nodes", "-passin", pass});
    REQUIRE(nodes.find("Bag Attributes") != std::string::npos);
    const auto bundle = import(nodes);
    CHECK(bundle.certificates.size() == 2);
    checkLinked(bundle);
    CHECK(bundle.warnings.empty());
}

// ---------------------------------------------------------------------------
// Other tools

TEST_CASE("import of a GnuTLS certtool key, self-signed certificate, PKCS#8 and PKCS#12")
{
    requireTool("certtool", "gnutls-bin");
    const TempDir dir;
    writeTestFile(dir / "tmpl", "cn = \"gnutls.example.com\"\ndns_name = \"gnutls.example.com\"\n"
                                "expiration_days = 30\ntls_www_server\nsigning_key\nencryption_key\n");
    run({"certtool", "--generate-privkey", "--key-type=ecdsa", "--curve=secp256r1", "--outfile",
         dir / "key.pem"});
    run({"certtool", "--generate-self-signed", "--load-privkey", dir / "key.pem", "--template", dir / "tmpl",
         "--outfile", dir / "cert.pem"});
    // certtool writes a textual description before the PEM blocks.
    checkLinked(import(readTestFile(dir / "cert.pem") + readTestFile(dir / "key.pem")));

    run({"certtool", "--to-p8", "--load-privkey", dir / "key.pem", "--password", kPassphrase, "--outfile",
         dir / "key.p8"});
    const std::string p8 = readTestFile(dir / "key.p8");
    checkLinked(import(readTestFile(dir / "cert.pem") + p8, kPassphrase));
    checkPassphraseErrors(p8);

    run({"certtool", "--to-p12", "--load-privkey", dir / "key.pem", "--load-certificate", dir / "cert.pem",
         "--p12-name=web", "--password", kPassphrase, "--outder", "--outfile", dir / "id.p12"});
    const std::string p12 = readTestFile(dir / "id.p12");
    checkLinked(import(p12, kPassphrase));
    checkPassphraseErrors(p12);

    run({"certtool", "--to-p12", "--load-privkey", dir / "key.pem", "--load-certificate", dir / "cert.pem",
         "--p12-name=web", "--empty-password", "--outder", "--outfile", dir / "empty.p12"});
    checkLinked(importFile(dir / "empty.p12"));
}

TEST_CASE("import of an NSS pk12util export, modern and legacy RC2")
{
    requireTool("certutil", "libnss3-tools");
    requireTool("pk12util", "libnss3-tools");
    const TempDir dir;
    const std::string db = "sql:" + (dir / "nss").string();
    std::filesystem::create_directory(dir / "nss");
    writeTestFile(dir / "noise", std::string(64, 'n') + std::to_string(::getpid()));
    run({"certutil", "-N", "-d", db, "--empty-password"});
    run({"certutil", "-S", "-s", "CN=nss.example.com", "-n", "web", "-x", "-t", "CT,,", "-k", "rsa", "-g",
         "2048", "-d", db, "-z", dir / "noise", "-v", "12"});
    run({"pk12util", "-o", dir / "id.p12", "-n", "web", "-d", db, "-W", kPassphrase});
    const std::string p12 = readTestFile(dir / "id.p12");
    checkLinked(import(p12, kPassphrase));
    checkPassphraseErrors(p12);

    run({"pk12util", "-o", dir / "legacy.p12", "-n", "web", "-d", db, "-W", kPassphrase, "-c",
         "PKCS #12 V2 PBE With SHA-1 And 40 Bit RC2 CBC", "-C",
         "PKCS #12 V2 PBE With SHA-1 And 3KEY Triple DES-CBC"});
    const auto legacy = importFile(dir / "legacy.p12", kPassphrase);
    checkLinked(legacy);
    CHECK(ders(legacy) == ders(import(p12, kPassphrase)));
}

TEST_CASE("NSS pk12util imports our PKCS#12 export with its key")
{
    requireTool("certutil", "libnss3-tools");
    requireTool("pk12util", "libnss3-tools");
    const TempDir dir;
    const std::string db = "sql:" + (dir / "nss").string();
    std::filesystem::create_directory(dir / "nss");
    run({"certutil", "-N", "-d", db, "--empty-password"});
    const auto leaf = certd::test::makeSelfSigned({}, certd::test::testKey(KeyType::Rsa2048));
    writeTestFile(dir / "id.p12",
                  text(exportWith(ExportFormat::Pkcs12, {leaf.cert.get()}, leaf.key.get(), kPassphrase)));
    run({"pk12util", "-i", dir / "id.p12", "-d", db, "-W", kPassphrase});
    const std::string pem = run({"certutil", "-L", "-d", db, "-n", "Web server", "-a"});
    CHECK(ders(import(pem)) == std::vector<std::string>{derOf(leaf.cert.get())});
    const std::string keys = run({"certutil", "-K", "-d", db});
    CHECK(keys.find("Web server") != std::string::npos);
}

TEST_CASE("Java keytool keystores import, and keytool reads our PKCS#12 export")
{
    requireTool("keytool", "a Java runtime (default-jre-headless)");
    const TempDir dir;
    run({"keytool", "-genkeypair", "-keystore", dir / "java.p12", "-storetype", "PKCS12", "-storepass",
         kPassphrase, "-alias", "web", "-keyalg", "EC", "-groupname", "secp256r1", "-dname",
         "CN=java.example.com", "-validity", "30"});
    const std::string p12 = readTestFile(dir / "java.p12");
    checkLinked(import(p12, kPassphrase));
    checkPassphraseErrors(p12);

    const auto pki = makeTestPki();
    writeTestFile(dir / "ours.p12",
                  text(exportWith(ExportFormat::Pkcs12,
                                  {pki.leaf.cert.get(), pki.intermediate.cert.get(), pki.root.cert.get()},
                                  pki.leaf.key.get(), kPassphrase)));
    const std::string list = run({"keytool", "-list", "-v", "-keystore", dir / "ours.p12", "-storetype",
                                  "PKCS12", "-storepass", kPassphrase});
    CHECK(list.find("Alias name: web server") != std::string::npos);
    CHECK(list.find("PrivateKeyEntry") != std::string::npos);
    CHECK(list.find("Certificate chain length: 3") != std::string::npos);
}

// ---------------------------------------------------------------------------
// Ed25519 and Ed448 (issue 11): files from openssl, certtool and keytool import;
// every export is read back by the openssl CLI.

namespace {

const char* const kEdDsaAlgorithms[] = {"ed25519", "ed448"};

std::string edDescription(const std::string& algorithm)
{
    return algorithm == "ed25519" ? "Ed25519 (256 Bits)" : "Ed448 (456 Bits)";
}

} // namespace

TEST_CASE("import of openssl genpkey Ed25519 and Ed448 keys and certificates in every format")
{
    const TempDir dir;
    const std::string pass = std::string("pass:") + kPassphrase;
    for (const std::string algorithm : kEdDsaAlgorithms) {
        CAPTURE(algorithm);
        const std::string key = dir / (algorithm + ".key");
        const std::string cert = dir / (algorithm + ".crt");
        openssl({"genpkey", "-algorithm", algorithm, "-out", key});
        openssl({"req", "-x509", "-key", key, "-out", cert, "-subj", "/CN=" + algorithm + ".example.com",
                 "-days", "30", "-addext", "subjectAltName=DNS:" + algorithm + ".example.com"});
        const std::string certDer = openssl({"x509", "-in", cert, "-outform", "DER"});

        // PEM bundle, as `cat cert key` makes it.
        const auto bundle = import(readTestFile(cert) + readTestFile(key));
        checkLinked(bundle);
        CHECK(derOf(bundle.certificates[0].get()) == certDer);
        CHECK(publicKeyDescription(bundle.keys[0].get()) == edDescription(algorithm));
        CHECK(describeCertificate(bundle.certificates[0].get()).publicKey == edDescription(algorithm));
        const std::string id = keyId(bundle.keys[0].get());

        // The key as DER PKCS#8, and encrypted PKCS#8 (PEM and DER).
        openssl({"pkey", "-in", key, "-outform", "DER", "-out", dir / (algorithm + ".der")});
        const auto der = importFile(dir / (algorithm + ".der"));
        REQUIRE(der.keys.size() == 1);
        CHECK(keyId(der.keys[0].get()) == id);
        for (const std::string form : {"PEM", "DER"}) {
            CAPTURE(form);
            const std::string out = dir / (algorithm + ".p8." + form);
            openssl({"pkcs8", "-topk8", "-v2", "aes256", "-in", key, "-outform", form, "-out", out,
                     "-passout", pass});
            const std::string data = readTestFile(out);
            const auto encrypted = import(data, kPassphrase);
            REQUIRE(encrypted.keys.size() == 1);
            CHECK(keyId(encrypted.keys[0].get()) == id);
            checkPassphraseErrors(data);
        }

        // PKCS#12 with the certificate, and the certificate as DER and PKCS#7.
        openssl({"pkcs12", "-export", "-in", cert, "-inkey", key, "-name", "web", "-out",
                 dir / (algorithm + ".p12"), "-passout", pass});
        const std::string p12 = readTestFile(dir / (algorithm + ".p12"));
        const auto fromP12 = import(p12, kPassphrase);
        checkLinked(fromP12);
        CHECK(keyId(fromP12.keys[0].get()) == id);
        checkPassphraseErrors(p12);
        CHECK(ders(import(certDer)) == std::vector<std::string>{certDer});
        CHECK(ders(import(openssl({"crl2pkcs7", "-nocrl", "-certfile", cert, "-outform", "DER"}))) ==
              std::vector<std::string>{certDer});
    }
}

TEST_CASE("openssl reads every Ed25519 and Ed448 export: x509, pkcs7, pkey, pkcs12 and PEM")
{
    const TempDir dir;
    const std::string pass = std::string("pass:") + kPassphrase;
    for (const auto type : {KeyType::Ed25519, KeyType::Ed448}) {
        const std::string name(keyTypeName(type));
        CAPTURE(name);
        const auto root = certd::test::makeRoot("Ed Interop Root", type, 70);
        certd::test::IssueOptions leafOptions;
        leafOptions.commonName = name + ".example.com";
        leafOptions.dnsNames = {leafOptions.commonName};
        const auto leaf = certd::test::issue(root, leafOptions, certd::test::testKey(type, 71));
        const std::string spkiHex = spkiSha256Hex(leaf.key.get());
        const auto pubkeyHex = [&](const std::vector<std::string>& pkeyArgs) {
            std::vector<std::string> args{"pkey"};
            args.insert(args.end(), pkeyArgs.begin(), pkeyArgs.end());
            args.insert(args.end(), {"-pubout", "-outform", "DER"});
            const std::string spki = openssl(args);
            return toHex(sha256(asBytes(spki)));
        };

        // DER certificate: openssl verifies it against the root, as a TLS server certificate.
        writeTestFile(dir / "cert.der", text(exportWith(ExportFormat::Der, {leaf.cert.get()})));
        writeTestFile(dir / "root.pem", certificatePem(root.cert.get()));
        const std::string pem = openssl({"x509", "-inform", "DER", "-in", dir / "cert.der"});
        const auto verify = runProcess({"openssl", "verify", "-CAfile", dir / "root.pem", "-purpose",
                                        "sslserver", "-verify_hostname", leafOptions.commonName},
                                       pem);
        INFO(verify.err);
        CHECK(verify.exitCode == 0);
        const std::string textOut = openssl({"x509", "-noout", "-text"}, pem);
        CHECK(textOut.find(name == "ed25519" ? "Signature Algorithm: ED25519"
                                             : "Signature Algorithm: ED448") != std::string::npos);

        // PKCS#7 with both certificates.
        writeTestFile(dir / "chain.p7b",
                      text(exportWith(ExportFormat::Pkcs7, {leaf.cert.get(), root.cert.get()})));
        CHECK(ders(import(openssl({"pkcs7", "-inform", "DER", "-in", dir / "chain.p7b", "-print_certs"}))) ==
              std::vector<std::string>{derOf(leaf.cert.get()), derOf(root.cert.get())});

        // PKCS#8, plain and encrypted: openssl pkey finds the same public key.
        writeTestFile(dir / "plain.p8", text(exportWith(ExportFormat::Pkcs8, {}, leaf.key.get())));
        CHECK(pubkeyHex({"-inform", "DER", "-in", dir / "plain.p8"}) == spkiHex);
        writeTestFile(dir / "enc.p8", text(exportWith(ExportFormat::Pkcs8, {}, leaf.key.get(), kPassphrase)));
        CHECK(pubkeyHex({"-inform", "DER", "-in", dir / "enc.p8", "-passin", pass}) == spkiHex);
        CHECK(
            runProcess({"openssl", "pkey", "-inform", "DER", "-in", dir / "enc.p8", "-passin", "pass:wrong"})
                .exitCode != 0);

        // PKCS#12: openssl pkcs12 opens it with the passphrase, finds both certificates and the key.
        writeTestFile(dir / "id.p12",
                      text(exportWith(ExportFormat::Pkcs12, {leaf.cert.get(), root.cert.get()},
                                      leaf.key.get(), kPassphrase)));
        const std::string nodes = openssl({"pkcs12", "-in", dir / "id.p12", "-nodes", "-passin", pass});
        const auto fromP12 = import(nodes);
        CHECK(ders(fromP12) == std::vector<std::string>{derOf(leaf.cert.get()), derOf(root.cert.get())});
        REQUIRE(fromP12.keys.size() == 1);
        CHECK(sameKeys(fromP12.keys[0].get(), leaf.key.get()));
        writeTestFile(dir / "p12.pem", nodes);
        CHECK(pubkeyHex({"-in", dir / "p12.pem"}) == spkiHex);

        // PEM with an encrypted key: openssl x509 and pkey read their parts.
        writeTestFile(dir / "id.pem",
                      text(exportWith(ExportFormat::Pem, {leaf.cert.get()}, leaf.key.get(), kPassphrase)));
        CHECK(openssl({"x509", "-in", dir / "id.pem", "-outform", "DER"}) == derOf(leaf.cert.get()));
        CHECK(pubkeyHex({"-in", dir / "id.pem", "-passin", pass}) == spkiHex);
    }
}

TEST_CASE("import of a GnuTLS certtool Ed25519 key, self-signed certificate, PKCS#8 and PKCS#12")
{
    requireTool("certtool", "gnutls-bin");
    const TempDir dir;
    writeTestFile(dir / "tmpl", "cn = \"gnutls-ed.example.com\"\ndns_name = \"gnutls-ed.example.com\"\n"
                                "expiration_days = 30\ntls_www_server\nsigning_key\n");
    run({"certtool", "--generate-privkey", "--key-type=ed25519", "--outfile", dir / "key.pem"});
    run({"certtool", "--generate-self-signed", "--load-privkey", dir / "key.pem", "--template", dir / "tmpl",
         "--outfile", dir / "cert.pem"});
    // certtool writes a textual description before the PEM blocks.
    const auto bundle = import(readTestFile(dir / "cert.pem") + readTestFile(dir / "key.pem"));
    checkLinked(bundle);
    CHECK(publicKeyDescription(bundle.keys[0].get()) == "Ed25519 (256 Bits)");
    CHECK(describeCertificate(bundle.certificates[0].get()).signatureAlgorithm == "ED25519");

    run({"certtool", "--to-p8", "--load-privkey", dir / "key.pem", "--password", kPassphrase, "--outfile",
         dir / "key.p8"});
    const std::string p8 = readTestFile(dir / "key.p8");
    REQUIRE(p8.find("ENCRYPTED PRIVATE KEY") != std::string::npos);
    checkLinked(import(readTestFile(dir / "cert.pem") + p8, kPassphrase));
    checkPassphraseErrors(p8);

    run({"certtool", "--to-p12", "--load-privkey", dir / "key.pem", "--load-certificate", dir / "cert.pem",
         "--p12-name=web", "--password", kPassphrase, "--outder", "--outfile", dir / "id.p12"});
    const std::string p12 = readTestFile(dir / "id.p12");
    const auto fromP12 = import(p12, kPassphrase);
    checkLinked(fromP12);
    CHECK(keyId(fromP12.keys[0].get()) == keyId(bundle.keys[0].get()));
    checkPassphraseErrors(p12);
}

TEST_CASE("Java keytool Ed25519 keystores import, and keytool reads our Ed25519 PKCS#12 export")
{
    requireTool("keytool", "a Java runtime (default-jre-headless)");
    const TempDir dir;
    run({"keytool", "-genkeypair", "-keystore", dir / "java.p12", "-storetype", "PKCS12", "-storepass",
         kPassphrase, "-alias", "web", "-keyalg", "Ed25519", "-dname", "CN=java-ed.example.com", "-validity",
         "30"});
    const std::string p12 = readTestFile(dir / "java.p12");
    const auto bundle = import(p12, kPassphrase);
    checkLinked(bundle);
    CHECK(publicKeyDescription(bundle.keys[0].get()) == "Ed25519 (256 Bits)");
    CHECK(describeCertificate(bundle.certificates[0].get()).subject == "CN=java-ed.example.com");
    checkPassphraseErrors(p12);

    const auto leaf = certd::test::makeSelfSigned({}, certd::test::testKey(KeyType::Ed25519, 72));
    writeTestFile(dir / "ours.p12",
                  text(exportWith(ExportFormat::Pkcs12, {leaf.cert.get()}, leaf.key.get(), kPassphrase)));
    const std::string list = run({"keytool", "-list", "-v", "-keystore", dir / "ours.p12", "-storetype",
                                  "PKCS12", "-storepass", kPassphrase});
    CHECK(list.find("Alias name: web server") != std::string::npos);
    CHECK(list.find("PrivateKeyEntry") != std::string::npos);
    CHECK(list.find("Signature algorithm name: Ed25519") != std::string::npos);
}
