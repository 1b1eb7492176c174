#include "error.hpp"
#include "error_code_of.hpp"
#include "fs.hpp"
#include "store/journal.hpp"
#include "store/state_codec.hpp"
#include "store/store.hpp"
#include "store/yaml_tree.hpp"
#include "temp_dir.hpp"

#include <doctest/doctest.h>

#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <map>
#include <sstream>

using namespace certd;
namespace fs = std::filesystem;

namespace {

Bytes bytes(std::string_view text)
{
    const ByteView view = asBytes(text);
    return {view.begin(), view.end()};
}

std::string readText(const fs::path& path)
{
    std::ifstream in(path, std::ios::binary);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

void writeText(const fs::path& path, std::string_view text)
{
    std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

unsigned modeOf(const fs::path& path)
{
    struct stat st = {};
    REQUIRE(::lstat(path.c_str(), &st) == 0);
    return st.st_mode & 07777;
}

// Every file and directory under `root` with its contents, to show that nothing changed.
std::map<std::string, std::string> snapshot(const fs::path& root)
{
    std::map<std::string, std::string> out;
    for (const auto& entry : fs::recursive_directory_iterator(root)) {
        const std::string relative = fs::relative(entry.path(), root).string();
        out[relative] = entry.is_directory() ? "<directory>" : readText(entry.path());
    }
    return out;
}

std::vector<std::string> filesIn(const fs::path& directory)
{
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(directory))
        names.push_back(entry.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
}

bool reportMentions(const Store& store, std::string_view text)
{
    return std::any_of(store.loadReport().begin(), store.loadReport().end(),
                       [&](const std::string& line) { return line.find(text) != std::string::npos; });
}

using test::errorOf;

std::string certDer(const std::string& id)
{
    return "DER of " + id;
}

// Adds a certificate (blob and entry) in one commit.
void addCertificate(Store& store, const std::string& id, const std::string& friendlyName = "cert")
{
    auto tx = store.begin();
    tx.putCertificate(id, asBytes(certDer(id)));
    tx.state().certificates[id] = StoredCertificate{friendlyName, ChainMode::Automatic, {}, 1};
    store.commit(std::move(tx));
}

// A key "k1" with request "r1" made with it, and certificates "c1" (bound to
// 127.0.0.1:443, the factory certificate) and "c2" (manual chain to c1).
void addEverything(Store& store)
{
    auto tx = store.begin();
    tx.putKey("k1", asBytes("PKCS8 k1"));
    tx.putRequest("r1", "-----BEGIN CERTIFICATE REQUEST-----\nr1\n-----END CERTIFICATE REQUEST-----\n");
    tx.putCertificate("c1", asBytes(certDer("c1")));
    tx.putCertificate("c2", asBytes(certDer("c2")));
    StoreState& s = tx.state();
    s.keys["k1"] = StoredKey{100};
    s.requests["r1"] = StoredRequest{"web request", "k1", RequestState::Completed, "c2", 200};
    s.certificates["c1"] = StoredCertificate{"issuer", ChainMode::Automatic, {}, 300};
    s.certificates["c2"] = StoredCertificate{"leaf", ChainMode::Manual, {"c1"}, 400};
    s.bindings["127.0.0.1:443"] = "c1";
    s.bindings["[::1]:8443"] = "c2";
    s.factoryCertificate = "c1";
    store.commit(std::move(tx));
}

// A test's fixed data, built before main().
// NOLINTNEXTLINE(cert-err58-cpp)
const std::vector<std::string> kOddNames{
    "plain",
    "say \"hi\" it's",
    "key: value",
    "two\nlines",
    "  leading spaces",
    "trailing ",
    "😀 émoji ✓",
    "",
    "null",
    "~",
    "- dash",
    "# hash",
    "{a: [b]}",
    "tab\tand\rreturn",
    "yes",
    "0x10",
    "&anchor *alias",
    "back\\slash",
    "%percent",
    "@at `tick`",
    "!tag",
    std::string("nul\0in", 6),
};

} // namespace

TEST_CASE("a new store is a 0700 directory with 0700 blob directories and a state.yaml")
{
    test::TempDir tmp;
    const fs::path dir = tmp / "nested/store";
    const Store store(dir);
    CHECK(modeOf(dir) == 0700);
    for (const char* sub : {"keys", "certs", "requests"}) {
        CAPTURE(sub);
        CHECK(fs::is_directory(dir / sub));
        CHECK(modeOf(dir / sub) == 0700);
    }
    CHECK(modeOf(dir / "state.yaml") == 0600);
    CHECK(store.state() == StoreState{});
    CHECK(store.loadReport().empty());
}

TEST_CASE("a key file is 0600 and certificate and request files 0644, whatever the umask")
{
    for (const mode_t mask : {mode_t{0}, mode_t{0077}}) {
        CAPTURE(mask);
        test::TempDir tmp;
        const mode_t old = ::umask(mask);
        Store store(tmp.path());
        addEverything(store);
        ::umask(old);
        CHECK(modeOf(tmp / "keys/k1.key") == 0600);
        CHECK(modeOf(tmp / "certs/c1.der") == 0644);
        CHECK(modeOf(tmp / "requests/r1.csr") == 0644);
        CHECK(modeOf(tmp / "state.yaml") == 0600);
    }
}

TEST_CASE("the state and blobs survive a re-open, odd friendly names included")
{
    test::TempDir tmp;
    StoreState expected;
    {
        Store store(tmp.path());
        addEverything(store);
        auto tx = store.begin();
        for (std::size_t i = 0; i < kOddNames.size(); ++i) {
            const std::string id = "odd" + std::to_string(i);
            tx.putCertificate(id, asBytes(certDer(id)));
            tx.state().certificates[id] =
                StoredCertificate{kOddNames[i], ChainMode::Automatic, {}, UINT64_MAX - i};
        }
        tx.state().requests["r1"].friendlyName = "request: \"odd\"\n😀";
        tx.state().bindings["odd: address\n"] = "odd1";
        store.commit(std::move(tx));
        expected = store.state();
    }
    const Store reopened(tmp.path());
    CHECK(reopened.loadReport().empty());
    CHECK(reopened.state() == expected);
    CHECK(reopened.state().certificates.at("odd3").friendlyName == "two\nlines");
    CHECK(reopened.state().certificates.at("odd6").friendlyName == "😀 émoji ✓");
    CHECK(reopened.certificateDer("odd4") == bytes(certDer("odd4")));
    const SecureBytes key = reopened.keyPkcs8("k1");
    CHECK(std::string(key.begin(), key.end()) == "PKCS8 k1");
    CHECK(reopened.requestPem("r1").find("\nr1\n") != std::string::npos);
}

TEST_CASE("serializeState and parseState round-trip names yaml would otherwise misread")
{
    StoreState state;
    for (std::size_t i = 0; i < kOddNames.size(); ++i)
        state.certificates["c" + std::to_string(i)] =
            StoredCertificate{kOddNames[i], ChainMode::Manual, {"null", "c0"}, i};
    state.certificates["null"] = StoredCertificate{};
    state.keys["true"] = StoredKey{7};
    state.requests["123"] = StoredRequest{"~", "true", RequestState::Pending, "", 9};
    state.bindings["0.0.0.0:443"] = "null";
    state.factoryCertificate = "null";
    CHECK(parseState(serializeState(state), "test") == state);
}

TEST_CASE("the libyaml reader: kinds, nulls, lines, and no anchors or aliases")
{
    const YamlNode root = parseYaml("a: ~\nb: \"~\"\nc: [x, \"\", ]\nd:\n  e: 12\n  e: 13\nf:\n");
    REQUIRE(root.isMap());
    CHECK(root.find("a")->isNull());
    CHECK(root.find("b")->isScalar());
    CHECK(root.find("b")->scalar == "~");
    const YamlNode* c = root.find("c");
    REQUIRE(c->isSequence());
    REQUIRE(c->items.size() == 2);
    CHECK(c->items[0].scalar == "x");
    CHECK(c->items[1].isScalar()); // quoted: text, not null
    const YamlNode* d = root.find("d");
    REQUIRE(d->isMap());
    CHECK(d->items.size() == 4); // repeated keys are kept, for the parser to refuse
    CHECK(d->find("e")->scalar == "12");
    CHECK(d->find("e")->line == 4);
    CHECK(root.find("f")->isNull());
    CHECK(root.find("g") == nullptr);
    CHECK(parseYaml("").isNull());
    const auto errorOf = [](const char* text) {
        try {
            parseYaml(text);
        } catch (const YamlError& e) {
            return e;
        }
        return YamlError{0, "none"};
    };
    CHECK(errorOf("a: &x 1\nb: *x\n").reason == "anchors are not supported");
    CHECK(errorOf("a: 1\nb: *x\n").reason.find("alias") != std::string::npos);
    CHECK(errorOf("a: 1\nb: [\n").line == 2);
}

TEST_CASE("a key repeated in state.yaml is refused")
{
    const std::string text =
        "schema_version: 2\ncertificates:\n  a: {chain_mode: automatic}\n  a: {chain_mode: automatic}\n";
    const std::string message = errorOf(ErrorCode::Internal, [&] { parseState(text, "state.yaml"); });
    CAPTURE(message);
    CHECK(message.find("state.yaml, line 4: certificate \"a\" appears twice") == 0);
}

TEST_CASE("state.yaml records the schema version, and a newer schema is refused")
{
    test::TempDir tmp;
    {
        Store store(tmp.path());
    }
    CHECK(readText(tmp / "state.yaml").find("schema_version: " + std::to_string(kSchemaVersion) + "\n") == 0);

    writeText(tmp / "state.yaml", "schema_version: " + std::to_string(kSchemaVersion + 1) + "\n");
    const std::string message = errorOf(ErrorCode::Internal, [&] { Store store(tmp.path()); });
    CHECK(message.find("state.yaml schema " + std::to_string(kSchemaVersion + 1) +
                       " is newer than this certd understands") != std::string::npos);
}

TEST_CASE("a malformed state.yaml is refused naming the file, line and reason")
{
    test::TempDir tmp;
    {
        Store store(tmp.path());
    }
    const std::string path = (tmp / "state.yaml").string();
    struct Case {
        const char* text;
        const char* where;
        const char* reason;
    };
    const Case cases[] = {
        {"schema_version: 1\ncertificates:\n  abc: {friendly_name: [x\n",
         ", line 4: ", "did not find expected ',' or ']' while parsing a flow sequence"},
        {"schema_version: 1\ncertificates:\n  abc:\n    chain_mode: automatic\n    added_usec: soon\n",
         ", line 5: ", "added_usec must be a non-negative integer"},
        {"schema_version: 1\nkeys:\n  ../../etc/passwd: {}\n",
         ", line 3: ", "key id \"../../etc/passwd\" is malformed"},
        {"schema_version: 1\ncertificates:\n  a:\n    chain_mode: sometimes\n",
         ", line 4: ", "chain_mode \"sometimes\" is unknown"},
        {"schema_version: 1\ncertificates:\n  a:\n    chain_mode: Automatic\n",
         ", line 4: ", "chain_mode \"Automatic\" is unknown"},
        {"schema_version: 1\nkeys:\n  k1: {}\nrequests:\n  r1:\n    key: k1\n    state: done\n",
         ", line 7: ", "state \"done\" is unknown"},
        {"certificates: {}\n", ", line 1: ", "schema_version is missing"},
        {"", ", line 1: ", "expected a mapping"},
    };
    for (const Case& c : cases) {
        CAPTURE(c.text);
        writeText(path, c.text);
        const std::string message = errorOf(ErrorCode::Internal, [&] { Store store(tmp.path()); });
        CHECK(message.find(path + c.where) == 0);
        CHECK(message.find(c.reason) != std::string::npos);
        CHECK(message.find("restore it from a backup") != std::string::npos);
    }
}

TEST_CASE("putting the same certificate twice stores one file, written once")
{
    test::TempDir tmp;
    Store store(tmp.path());
    auto tx = store.begin();
    tx.putCertificate("c1", asBytes(certDer("c1")));
    tx.putCertificate("c1", asBytes(certDer("c1")));
    tx.state().certificates["c1"] = StoredCertificate{};
    store.commit(std::move(tx));
    CHECK(filesIn(tmp / "certs") == std::vector<std::string>{"c1.der"});

    struct stat before = {};
    REQUIRE(::stat((tmp / "certs/c1.der").c_str(), &before) == 0);
    addCertificate(store, "c1", "renamed");
    struct stat after = {};
    REQUIRE(::stat((tmp / "certs/c1.der").c_str(), &after) == 0);
    CHECK(after.st_ino == before.st_ino);
    CHECK(filesIn(tmp / "certs") == std::vector<std::string>{"c1.der"});
    CHECK(store.state().certificates.at("c1").friendlyName == "renamed");
}

TEST_CASE("a blob the new state does not name is not written")
{
    test::TempDir tmp;
    Store store(tmp.path());
    auto tx = store.begin();
    tx.putCertificate("stray", asBytes("x"));
    store.commit(std::move(tx));
    CHECK(filesIn(tmp / "certs").empty());
}

TEST_CASE("a commit that references something absent is refused and changes nothing")
{
    test::TempDir tmp;
    Store store(tmp.path());
    addEverything(store);
    const StoreState before = store.state();
    const auto disk = snapshot(tmp.path());

    auto tx = store.begin();
    std::string expected;
    SUBCASE("certificate without data")
    {
        tx.putKey("k2", asBytes("k2"));
        tx.state().keys["k2"] = StoredKey{};
        tx.state().certificates["c3"] = StoredCertificate{};
        expected = "certificate \"c3\": certs/c3.der does not exist";
    }
    SUBCASE("key without data")
    {
        tx.state().keys["k9"] = StoredKey{};
        expected = "key \"k9\": keys/k9.key does not exist";
    }
    SUBCASE("request without data")
    {
        tx.state().requests["r9"] = StoredRequest{"", "k1", RequestState::Pending, "", 0};
        expected = "request \"r9\": requests/r9.csr does not exist";
    }
    SUBCASE("binding to an absent certificate")
    {
        tx.state().bindings["10.0.0.1:443"] = "c9";
        expected = "binding of \"10.0.0.1:443\": certificate \"c9\" is not in the store";
    }
    SUBCASE("request made with an absent key")
    {
        tx.putRequest("r2", "pem");
        tx.state().requests["r2"] = StoredRequest{"", "k9", RequestState::Pending, "", 0};
        expected = "request \"r2\": its key \"k9\" is not in the store";
    }
    SUBCASE("removing a key a request still uses")
    {
        tx.state().keys.erase("k1");
        expected = "request \"r1\": its key \"k1\" is not in the store";
    }
    SUBCASE("absent factory certificate")
    {
        tx.state().factoryCertificate = "c9";
        expected = "factory certificate \"c9\" is not in the store";
    }
    SUBCASE("friendly name that is not UTF-8")
    {
        tx.state().certificates["c1"].friendlyName = "caf\xe9";
        expected = "the friendly name of certificate \"c1\" is not valid UTF-8";
    }
    SUBCASE("malformed certificate id in the state")
    {
        tx.state().certificates["a/b"] = StoredCertificate{};
        expected = "certificate id \"a/b\" is malformed";
    }
    const std::string message = errorOf(ErrorCode::InvalidArgument, [&] { store.commit(std::move(tx)); });
    CHECK(message.find(expected) != std::string::npos);
    CHECK(store.state() == before);
    CHECK(snapshot(tmp.path()) == disk);
}

TEST_CASE("malformed blob ids are refused, so no id names a path")
{
    test::TempDir tmp;
    Store store(tmp.path());
    auto tx = store.begin();
    for (const std::string& id :
         std::vector<std::string>{"../escape", "", "a/b", "a.b", ".tmp-x", "sp ace", std::string(129, 'a')}) {
        CAPTURE(id);
        CHECK(errorOf(ErrorCode::InvalidArgument, [&] {
                  tx.putCertificate(id, asBytes("x"));
              }).find("is malformed") != std::string::npos);
        CHECK_THROWS_AS(tx.putKey(id, asBytes("x")), Error);
        CHECK_THROWS_AS(tx.putRequest(id, "x"), Error);
    }
    tx.putCertificate(std::string(128, 'a'), asBytes("x"));
    tx.putCertificate("AZaz09-_", asBytes("x"));
    CHECK(!fs::exists(tmp.path().parent_path() / "escape.der"));
}

TEST_CASE("reading an id the store does not hold is NotFound")
{
    test::TempDir tmp;
    Store store(tmp.path());
    addEverything(store);
    CHECK(errorOf(ErrorCode::NotFound, [&] { store.certificateDer("c9"); }) ==
          "no certificate \"c9\" in the store");
    CHECK(errorOf(ErrorCode::NotFound, [&] { store.keyPkcs8("c1"); }) == "no key \"c1\" in the store");
    CHECK(errorOf(ErrorCode::NotFound, [&] { store.requestPem("../state.yaml"); }) ==
          "no request \"../state.yaml\" in the store");
    CHECK(store.certificateDer("c1") == bytes(certDer("c1")));
}

TEST_CASE("entries removed from the state lose their files, and can come back")
{
    test::TempDir tmp;
    Store store(tmp.path());
    addEverything(store);
    auto tx = store.begin();
    tx.state().requests.erase("r1");
    tx.state().keys.erase("k1");
    tx.state().bindings.clear();
    tx.state().factoryCertificate.clear();
    tx.state().certificates.erase("c1");
    store.commit(std::move(tx));
    CHECK(filesIn(tmp / "certs") == std::vector<std::string>{"c2.der"});
    CHECK(filesIn(tmp / "keys").empty());
    CHECK(filesIn(tmp / "requests").empty());

    addCertificate(store, "c1");
    CHECK(filesIn(tmp / "certs") == std::vector<std::string>{"c1.der", "c2.der"});
    CHECK(store.certificateDer("c1") == bytes(certDer("c1")));
}

TEST_CASE("open removes temporary files and unreferenced blobs, and reports each")
{
    test::TempDir tmp;
    {
        Store store(tmp.path());
        addCertificate(store, "kept");
    }
    writeText(tmp / ".tmp-0123456789abcdef", "half a state");
    writeText(tmp / "keys/.tmp-fedcba9876543210", "half a key");
    writeText(tmp / "certs/orphan.der", "orphan");
    writeText(tmp / "keys/orphan.key", "orphan");
    writeText(tmp / "certs/README", "an operator's note");

    const Store store(tmp.path());
    CHECK(filesIn(tmp.path()) == std::vector<std::string>{"certs", "keys", "requests", "state.yaml"});
    CHECK(filesIn(tmp / "keys").empty());
    CHECK(filesIn(tmp / "certs") == std::vector<std::string>{"README", "kept.der"});
    CHECK(reportMentions(store, "removed temporary file .tmp-0123456789abcdef"));
    CHECK(reportMentions(store, "removed temporary file keys/.tmp-fedcba9876543210"));
    CHECK(reportMentions(store, "removed unreferenced certificate file certs/orphan.der"));
    CHECK(reportMentions(store, "removed unreferenced key file keys/orphan.key"));
    CHECK(reportMentions(store, "left unexpected file certs/README alone"));
    CHECK(store.loadReport().size() == 5);
    CHECK(store.certificateDer("kept") == bytes(certDer("kept")));
}

TEST_CASE("entries whose file is missing are dropped at open, with what depends on them")
{
    test::TempDir tmp;
    {
        Store store(tmp.path());
        addEverything(store);
        store.compact(); // no journal for open to fold in
    }
    const std::string stateBefore = readText(tmp / "state.yaml");
    fs::remove(tmp / "certs/c1.der");
    fs::remove(tmp / "keys/k1.key");

    Store store(tmp.path());
    const StoreState& s = store.state();
    CHECK(!s.certificates.contains("c1"));
    CHECK(s.certificates.contains("c2"));
    CHECK(s.keys.empty());
    CHECK(s.requests.empty());
    CHECK(s.bindings == std::map<std::string, std::string>{{"[::1]:8443", "c2"}});
    CHECK(s.factoryCertificate.empty());
    CHECK(reportMentions(store, "dropped certificate \"c1\": certs/c1.der does not exist"));
    CHECK(reportMentions(store, "dropped key \"k1\": keys/k1.key does not exist"));
    CHECK(reportMentions(store, "dropped request \"r1\": its key \"k1\" is not in the store"));
    CHECK(reportMentions(store, "dropped binding of \"127.0.0.1:443\""));
    CHECK(reportMentions(store, "dropped factory certificate \"c1\""));
    CHECK(reportMentions(store, "removed unreferenced request file requests/r1.csr"));
    CHECK(filesIn(tmp / "requests").empty());
    // Open reports; it does not rewrite state.yaml. The next commit does.
    CHECK(readText(tmp / "state.yaml") == stateBefore);
    addCertificate(store, "c3");
    CHECK(Store(tmp.path()).loadReport().empty());
}

TEST_CASE("a lost state.yaml beside stored blobs is refused rather than taken for an empty store")
{
    test::TempDir tmp;
    {
        Store store(tmp.path());
        addEverything(store);
    }
    fs::remove(tmp / "state.yaml");
    const std::string message = errorOf(ErrorCode::Internal, [&] { Store store(tmp.path()); });
    CHECK(message.find("state.yaml is missing but the store holds 4 ") != std::string::npos);
    CHECK(fs::exists(tmp / "keys/k1.key"));
}

TEST_CASE("a failed blob write leaves the previous state in memory and on disk")
{
    test::TempDir tmp;
    Store store(tmp.path());
    addEverything(store);
    const StoreState before = store.state();
    const std::string stateBefore = readText(tmp / "state.yaml");
    // A regular file where keys/ was: writing a key fails with ENOTDIR, even as root.
    fs::rename(tmp / "keys", tmp / "keys.saved");
    writeText(tmp / "keys", "");

    auto tx = store.begin();
    tx.putCertificate("c3", asBytes(certDer("c3")));
    tx.putKey("k2", asBytes("k2"));
    tx.state().certificates["c3"] = StoredCertificate{};
    tx.state().keys["k2"] = StoredKey{};
    tx.state().certificates.erase("c2");
    tx.state().bindings.erase("[::1]:8443");
    tx.state().requests["r1"].certificateId.clear();
    const std::string message = errorOf(ErrorCode::Internal, [&] { store.commit(std::move(tx)); });
    CHECK(message.find("cannot write " + (tmp / "keys/k2.key").string() + ": Not a directory") == 0);
    CHECK(store.state() == before);
    CHECK(readText(tmp / "state.yaml") == stateBefore);
    CHECK(fs::exists(tmp / "certs/c2.der"));

    fs::remove(tmp / "keys");
    fs::rename(tmp / "keys.saved", tmp / "keys");
    auto retry = store.begin();
    retry.putKey("k2", asBytes("k2"));
    retry.state().keys["k2"] = StoredKey{};
    store.commit(std::move(retry));
    CHECK(store.state().keys.contains("k2"));
    // The certificate the failed commit wrote is named by nothing: gone.
    CHECK(filesIn(tmp / "certs") == std::vector<std::string>{"c1.der", "c2.der"});
}

TEST_CASE("a failed state write keeps the previous state, and the next open removes its blobs")
{
    // The state goes to state.journal (a record) or to state.yaml (a compaction): each must fail cleanly.
    for (const char* file : {"state.journal", "state.yaml"}) {
        CAPTURE(file);
        test::TempDir tmp;
        std::string stateBefore;
        StoreState before;
        {
            Store store(tmp.path());
            addEverything(store);
            store.compact(); // state.yaml holds everything, no journal
            before = store.state();
            stateBefore = readText(tmp / "state.yaml");
            // A non-empty directory in the file's place: opening or renaming over it fails.
            fs::remove(tmp / file);
            fs::create_directories(tmp / file / "occupied");

            auto tx = store.begin();
            tx.putCertificate("c3", asBytes(certDer("c3")));
            tx.state().certificates["c3"] = StoredCertificate{};
            const std::string message = errorOf(ErrorCode::Internal, [&] {
                store.stage(std::move(tx));
                if (std::string(file) == "state.yaml")
                    store.compact();
                else
                    store.flush();
            });
            CHECK(message.find("cannot write " + (tmp / file).string() + ": ") == 0);
            CHECK(store.state() == before);
            CHECK(store.staged() == 0);
            // No temporary file left (the occupied name is listed, as it was before).
            std::vector<std::string> expected{"certs", "keys", "requests", "state.yaml"};
            if (std::string(file) == "state.journal")
                expected.insert(expected.begin() + 3, file);
            CHECK(filesIn(tmp.path()) == expected);
            CHECK(fs::exists(tmp / "certs/c3.der"));
        }
        fs::remove_all(tmp / file);
        writeText(tmp / "state.yaml", stateBefore);
        const Store store(tmp.path());
        CHECK(store.state() == before);
        CHECK(!fs::exists(tmp / "certs/c3.der"));
        CHECK(store.loadReport() ==
              std::vector<std::string>{"removed unreferenced certificate file certs/c3.der"});
    }
}

TEST_CASE("writeFileAtomic replaces a file whole and leaves no temporary file")
{
    test::TempDir tmp;
    writeFileAtomic(tmp.path(), "f", asBytes("old"), 0640);
    writeFileAtomic(tmp.path(), "f", asBytes(std::string(1 << 20, 'x')), 0600);
    CHECK(readText(tmp / "f") == std::string(1 << 20, 'x'));
    CHECK(modeOf(tmp / "f") == 0600);
    CHECK(filesIn(tmp.path()) == std::vector<std::string>{"f"});
    const std::string message =
        errorOf(ErrorCode::Internal, [&] { writeFileAtomic(tmp / "absent", "f", asBytes("x"), 0600); });
    CHECK(message.find("cannot write " + (tmp / "absent/f").string() + ": No such file or directory") == 0);
}

TEST_CASE("10,000 certificates open and commit without quadratic cost")
{
    constexpr int kCount = 10000;
    test::TempDir tmp;
    {
        Store store(tmp.path());
    }
    // Lay the store out by hand: 10,000 fsynced commits would only measure the disk.
    StoreState state;
    for (int i = 0; i < kCount; ++i) {
        const std::string id = "c" + std::to_string(i);
        writeText(tmp / "certs" / (id + ".der"), certDer(id));
        state.certificates[id] =
            StoredCertificate{"certificate " + std::to_string(i), ChainMode::Automatic, {}, 1};
        state.bindings["10.0." + std::to_string(i / 256) + "." + std::to_string(i % 256) + ":443"] = id;
    }
    writeText(tmp / "state.yaml", serializeState(state));

    using Clock = std::chrono::steady_clock;
    const auto seconds = [](Clock::time_point since) {
        return std::chrono::duration<double>(Clock::now() - since).count();
    };
    auto start = Clock::now();
    Store store(tmp.path());
    const double open = seconds(start);
    CHECK(store.state() == state);

    start = Clock::now();
    for (int i = 0; i < 5; ++i)
        addCertificate(store, "new" + std::to_string(i));
    const double commit = seconds(start) / 5;
    CHECK(store.state().certificates.size() == kCount + 5);
    MESSAGE("open " << open << " s, commit " << commit << " s with " << kCount << " certificates");
    // Generous bounds (a noisy shared machine); quadratic work would take minutes.
    CHECK(open < 20.0);
    CHECK(commit < 5.0);
}

TEST_CASE("a commit appends one journal record and leaves state.yaml alone; open folds the journal in")
{
    test::TempDir tmp;
    StoreState expected;
    std::string snapshotBefore;
    {
        Store store(tmp.path());
        addEverything(store);
        store.compact();
        snapshotBefore = readText(tmp / "state.yaml");
        CHECK(!fs::exists(tmp / "state.journal"));
        const auto records = store.counters().journalRecords;
        addCertificate(store, "c3", "third");
        auto tx = store.begin();
        tx.state().certificates.erase("c2");
        tx.state().bindings.erase("[::1]:8443");
        tx.state().requests["r1"].certificateId.clear();
        tx.state().factoryCertificate = "c3";
        store.commit(std::move(tx));
        expected = store.state();
        CHECK(readText(tmp / "state.yaml") == snapshotBefore);
        CHECK(modeOf(tmp / "state.journal") == 0600);
        CHECK(store.counters().journalRecords == records + 2);
        const std::string journal = readText(tmp / "state.journal");
        CHECK(journal.find("third") != std::string::npos);
        CHECK(journal.find("PKCS8") == std::string::npos); // blobs stay in their files
        CHECK(filesIn(tmp / "certs") == std::vector<std::string>{"c1.der", "c3.der"});
    }
    const Store reopened(tmp.path());
    CHECK(reopened.loadReport().empty());
    CHECK(reopened.state() == expected);
    CHECK(!fs::exists(tmp / "state.journal"));
    CHECK(readText(tmp / "state.yaml") != snapshotBefore);
    CHECK(parseState(readText(tmp / "state.yaml"), "test") == expected);
}

TEST_CASE("a torn or garbled last journal record is discarded, every intact one applied")
{
    for (const bool garble : {false, true}) {
        CAPTURE(garble);
        test::TempDir tmp;
        StoreState afterFirst;
        std::uint64_t firstBytes = 0;
        {
            Store store(tmp.path());
            addCertificate(store, "c1", "first");
            afterFirst = store.state();
            firstBytes = store.journalBytes();
            addCertificate(store, "c2", "second");
        }
        std::string journal = readText(tmp / "state.journal");
        REQUIRE(journal.size() > firstBytes + 30);
        if (garble)
            journal[journal.size() - 5] ^= 0x20; // inside the second record's payload
        else
            journal.resize(journal.size() - 7); // the crash came mid-append
        writeText(tmp / "state.journal", journal);

        const Store store(tmp.path());
        CHECK(store.state() == afterFirst);
        CHECK(reportMentions(store, "removed an incomplete record (" +
                                        std::to_string(journal.size() - firstBytes) +
                                        " bytes) from the end of state.journal"));
        CHECK(reportMentions(store, "removed unreferenced certificate file certs/c2.der"));
        CHECK(!fs::exists(tmp / "state.journal"));
        CHECK(Store(tmp.path()).state() == afterFirst);
    }
}

TEST_CASE("journal records of an older generation than state.yaml are not replayed")
{
    test::TempDir tmp;
    std::string oldJournal;
    StoreState expected;
    {
        Store store(tmp.path());
        addCertificate(store, "c1", "first");
        auto tx = store.begin();
        tx.state().certificates["c1"].friendlyName = "renamed";
        store.commit(std::move(tx));
        oldJournal = readText(tmp / "state.journal");
        // Compacted (a new state.yaml), then renamed back: a replay of the old journal would undo it.
        store.compact();
        auto back = store.begin();
        back.state().certificates["c1"].friendlyName = "first again";
        store.commit(std::move(back));
        store.compact();
        expected = store.state();
    }
    // As if the crash came between the rename of state.yaml and the removal of the journal.
    writeText(tmp / "state.journal", oldJournal);
    const Store store(tmp.path());
    CHECK(store.state() == expected);
    CHECK(store.state().certificates.at("c1").friendlyName == "first again");
    CHECK(reportMentions(store, "removed 2 records of state.journal already in state.yaml"));
    CHECK(!fs::exists(tmp / "state.journal"));
}

TEST_CASE("a journal record with a valid checksum but a bad entry is refused naming the file")
{
    test::TempDir tmp;
    {
        Store store(tmp.path());
        addCertificate(store, "c1");
    }
    const std::string payload = "certificates:\n  \"c2\": {chain_mode: \"sometimes\"}\n";
    const Bytes record = encodeJournalRecord(1, payload);
    {
        Store store(tmp.path()); // folds the journal: state.yaml is generation 1 now
    }
    writeText(tmp / "state.journal", std::string(record.begin(), record.end()));
    const std::string message = errorOf(ErrorCode::Internal, [&] { Store store(tmp.path()); });
    CHECK(message.find((tmp / "state.journal").string()) == 0);
    CHECK(message.find("chain_mode \"sometimes\" is unknown") != std::string::npos);
}

TEST_CASE("bytes written per commit do not grow with the number of stored certificates")
{
    const auto bytesPerCommit = [](int count) {
        test::TempDir tmp;
        {
            Store store(tmp.path());
        }
        StoreState state;
        for (int i = 0; i < count; ++i) {
            const std::string id = "c" + std::to_string(i);
            writeText(tmp / "certs" / (id + ".der"), certDer(id));
            state.certificates[id] =
                StoredCertificate{"certificate " + std::to_string(i), ChainMode::Automatic, {}, 1};
        }
        writeText(tmp / "state.yaml", serializeState(state));
        Store store(tmp.path());
        const std::string snapshot = readText(tmp / "state.yaml");
        for (int i = 0; i < 20; ++i)
            addCertificate(store, "new" + std::to_string(i), "a new certificate");
        auto tx = store.begin();
        tx.state().certificates["c0"].friendlyName = "renamed";
        store.commit(std::move(tx));
        CHECK(readText(tmp / "state.yaml") == snapshot);
        CHECK(store.counters().snapshots == 0);
        return store.journalBytes() / 21;
    };
    const auto small = bytesPerCommit(100);
    const auto large = bytesPerCommit(10000);
    MESSAGE("journal bytes per commit: " << small << " with 100 certificates, " << large << " with 10,000");
    CHECK(large == small);
    CHECK(large < 300);
}

TEST_CASE("the journal is folded into state.yaml once it outgrows the snapshot")
{
    test::TempDir tmp;
    Store store(tmp.path());
    addEverything(store);
    std::uint64_t largest = 0;
    for (int i = 0; i < 2000 && store.counters().snapshots < 2; ++i) {
        auto tx = store.begin();
        tx.state().certificates["c1"].friendlyName = "name " + std::to_string(i);
        store.commit(std::move(tx));
        largest = std::max(largest, store.journalBytes());
    }
    CHECK(store.counters().snapshots == 2);
    CHECK(largest <= 64 * 1024);
    CHECK(Store(tmp.path()).state() == store.state());
}

TEST_CASE("staged transactions show at once and become durable together in one flush")
{
    test::TempDir tmp;
    Store store(tmp.path());
    addEverything(store);
    const auto records = store.counters().journalRecords;
    const auto disk = snapshot(tmp.path());

    auto first = store.begin();
    first.putCertificate("c3", asBytes(certDer("c3")));
    first.putKey("k3", asBytes("PKCS8 k3"));
    first.state().certificates["c3"] = StoredCertificate{"third", ChainMode::Automatic, {}, 5};
    first.state().keys["k3"] = StoredKey{5};
    store.stage(std::move(first));
    auto second = store.begin(); // builds on the first
    CHECK(second.state().certificates.contains("c3"));
    second.state().bindings["10.0.0.1:443"] = "c3";
    second.putCertificate("c4", asBytes(certDer("c4")));
    second.state().certificates["c4"] = StoredCertificate{"fourth", ChainMode::Automatic, {}, 6};
    store.stage(std::move(second));
    auto third = store.begin();
    third.state().certificates.erase("c4"); // staged and removed again: never written
    third.state().certificates["c1"].friendlyName = "renamed";
    store.stage(std::move(third));

    CHECK(store.staged() == 3);
    CHECK(store.state().bindings.at("10.0.0.1:443") == "c3");
    CHECK(store.certificateDer("c3") == bytes(certDer("c3"))); // from memory
    const SecureBytes key = store.keyPkcs8("k3");
    CHECK(std::string(key.begin(), key.end()) == "PKCS8 k3");
    CHECK(!fs::exists(tmp / "certs/c3.der"));
    CHECK(snapshot(tmp.path()) == disk); // nothing written yet

    store.flush();
    CHECK(store.staged() == 0);
    CHECK(store.counters().journalRecords == records + 1);
    CHECK(filesIn(tmp / "certs") == std::vector<std::string>{"c1.der", "c2.der", "c3.der"});
    CHECK(modeOf(tmp / "keys/k3.key") == 0600);
    const StoreState expected = store.state();
    CHECK(expected.certificates.at("c1").friendlyName == "renamed");
    CHECK(!expected.certificates.contains("c4"));
    CHECK(Store(tmp.path()).state() == expected);
}

TEST_CASE("a group that writes four blob files or more makes them durable with one syncfs")
{
    test::TempDir tmp;
    Store store(tmp.path());
    addEverything(store);
    const auto syncs = store.counters().fileSystemSyncs;

    // Three new files: an fsync each (and per directory), no syncfs.
    for (const std::string id : {"s1", "s2"}) {
        auto tx = store.begin();
        tx.putCertificate(id, asBytes(certDer(id)));
        tx.state().certificates[id] = StoredCertificate{id, ChainMode::Automatic, {}, 7};
        store.stage(std::move(tx));
    }
    auto key = store.begin();
    key.putKey("sk1", asBytes("PKCS8 sk1"));
    key.state().keys["sk1"] = StoredKey{7};
    store.stage(std::move(key));
    store.flush();
    CHECK(store.counters().fileSystemSyncs == syncs);

    // Four (certificates, a key, a request): one syncfs for all of them.
    for (const std::string id : {"s3", "s4"}) {
        auto tx = store.begin();
        tx.putCertificate(id, asBytes(certDer(id)));
        tx.state().certificates[id] = StoredCertificate{id, ChainMode::Automatic, {}, 8};
        store.stage(std::move(tx));
    }
    auto keyAndRequest = store.begin();
    keyAndRequest.putKey("sk2", asBytes("PKCS8 sk2"));
    keyAndRequest.state().keys["sk2"] = StoredKey{8};
    keyAndRequest.putRequest("sr1", "-----BEGIN CERTIFICATE REQUEST-----\nsr1\n");
    keyAndRequest.state().requests["sr1"] = StoredRequest{"sr1", "sk2", RequestState::Pending, "", 8};
    store.stage(std::move(keyAndRequest));
    store.flush();
    CHECK(store.counters().fileSystemSyncs == syncs + 1);
    CHECK(modeOf(tmp / "keys/sk2.key") == 0600);
    const StoreState expected = store.state();
    Store reopened(tmp.path());
    CHECK(reopened.state() == expected);
    CHECK(reopened.certificateDer("s4") == bytes(certDer("s4")));
    const SecureBytes pkcs8 = reopened.keyPkcs8("sk2");
    CHECK(std::string(pkcs8.begin(), pkcs8.end()) == "PKCS8 sk2");
    CHECK(reopened.loadReport().empty());
}

TEST_CASE("a refused stage changes nothing; a failed flush drops every staged transaction")
{
    test::TempDir tmp;
    Store store(tmp.path());
    addEverything(store);
    const StoreState durable = store.state();

    auto good = store.begin();
    good.state().certificates["c1"].friendlyName = "staged";
    store.stage(std::move(good));
    const StoreState staged = store.state();
    auto bad = store.begin();
    bad.state().bindings["10.0.0.9:443"] = "c9";
    CHECK(errorOf(ErrorCode::InvalidArgument, [&] { store.stage(std::move(bad)); }).find("c9") !=
          std::string::npos);
    CHECK(store.state() == staged);
    CHECK(store.staged() == 1);

    // A regular file where keys/ was: the key of the next transaction cannot be written.
    fs::rename(tmp / "keys", tmp / "keys.saved");
    writeText(tmp / "keys", "");
    auto withKey = store.begin();
    withKey.putKey("k2", asBytes("k2"));
    withKey.state().keys["k2"] = StoredKey{};
    store.stage(std::move(withKey));
    CHECK(errorOf(ErrorCode::Internal, [&] { store.flush(); }).find("Not a directory") != std::string::npos);
    CHECK(store.state() == durable);
    CHECK(store.staged() == 0);
    fs::remove(tmp / "keys");
    fs::rename(tmp / "keys.saved", tmp / "keys");
    CHECK(Store(tmp.path()).state() == durable);
}

TEST_CASE("a transaction begun before another was staged is refused, not merged")
{
    test::TempDir tmp;
    Store store(tmp.path());
    addCertificate(store, "c1");
    auto early = store.begin();
    auto later = store.begin();
    later.state().certificates["c1"].friendlyName = "later";
    store.stage(std::move(later));
    early.state().certificates["c1"].friendlyName = "early";
    CHECK(errorOf(ErrorCode::Internal, [&] { store.stage(std::move(early)); }).find("begin again") !=
          std::string::npos);
    store.flush();
    CHECK(store.state().certificates.at("c1").friendlyName == "later");
    store.discardStaged(); // nothing staged: no-op
    auto again = store.begin();
    again.state().certificates["c1"].friendlyName = "again";
    store.stage(std::move(again));
    store.discardStaged();
    CHECK(store.state().certificates.at("c1").friendlyName == "later");
}

TEST_CASE("diffStates and applyDelta round-trip, and a delta survives its text")
{
    StoreState before;
    before.certificates["a"] = StoredCertificate{"a", ChainMode::Automatic, {}, 1};
    before.certificates["b"] = StoredCertificate{"b", ChainMode::Manual, {"a"}, 2};
    before.keys["k"] = StoredKey{3};
    before.requests["r"] = StoredRequest{"r", "k", RequestState::Pending, "", 4};
    before.bindings["1.2.3.4:443"] = "a";
    before.factoryCertificate = "a";
    StoreState after = before;
    after.certificates.erase("a");
    after.certificates["c"] = StoredCertificate{kOddNames[3], ChainMode::Automatic, {}, 5};
    after.certificates["b"].manualChain.clear();
    after.keys.clear();
    after.requests.clear();
    after.bindings = {{"odd: address\n", "c"}};
    after.factoryCertificate = "c";
    const StateDelta delta = diffStates(before, after);
    CHECK(delta.removedCertificates == std::vector<std::string>{"a"});
    CHECK(delta.certificates.size() == 2);
    StoreState replayed = before;
    applyDelta(replayed, delta);
    CHECK(replayed == after);
    applyDelta(replayed, delta); // idempotent
    CHECK(replayed == after);
    CHECK(parseDelta(serializeDelta(delta), "test") == delta);
    CHECK(diffStates(after, after).empty());
}

TEST_CASE("while deferred, commit only stages, and one flush makes the group durable")
{
    test::TempDir tmp;
    Store store(tmp.path());
    addCertificate(store, "c0");
    const auto records = store.counters().journalRecords;
    const auto disk = snapshot(tmp.path());
    store.setDeferred(true);
    for (int i = 1; i <= 3; ++i)
        addCertificate(store, "c" + std::to_string(i));
    CHECK(store.staged() == 3);
    CHECK(store.state().certificates.size() == 4);
    CHECK(snapshot(tmp.path()) == disk);
    store.flush();
    store.setDeferred(false);
    CHECK(store.counters().journalRecords == records + 1);
    CHECK(Store(tmp.path()).state().certificates.size() == 4);
}

TEST_CASE("a key's cached description round-trips, and a malformed one is refused")
{
    StoreState state;
    state.keys["k"] = StoredKey{7, "EC", 256, std::string(64, 'a')};
    state.keys["old"] = StoredKey{8};
    CHECK(parseState(serializeState(state), "test") == state);
    const std::string text = "schema_version: 2\nkeys:\n  k:\n    spki_sha256: \"ABC\"\n";
    const std::string message = errorOf(ErrorCode::Internal, [&] { parseState(text, "state.yaml"); });
    CHECK(message.find("state.yaml, line 4: spki_sha256 must be 64 lower-case hex digits") == 0);
}

// ---- keys sealed at rest (issue 13) ----

namespace {

SecureBytes credential(char fill)
{
    return SecureBytes(32, static_cast<std::uint8_t>(fill));
}

std::string keyText(const Store& store, const std::string& id)
{
    const SecureBytes key = store.keyPkcs8(id);
    return {key.begin(), key.end()};
}

} // namespace

TEST_CASE("a sealed key opens with its KEK and id only")
{
    const KeySeal seal(credential('a'));
    const auto sealed = seal.seal("k1", asBytes("PKCS8 k1"));
    CHECK(KeySeal::isSealed(sealed));
    CHECK_FALSE(KeySeal::isSealed(asBytes("\x30\x82 PKCS8")));
    const auto opened = seal.open("k1", sealed);
    CHECK(std::string(opened.begin(), opened.end()) == "PKCS8 k1");
    CHECK(std::string(sealed.begin(), sealed.end()).find("PKCS8 k1") == std::string::npos);
    // Another credential, another id (a swapped file), one flipped bit: refused, by name.
    CHECK(errorOf(ErrorCode::Internal, [&] { KeySeal(credential('b')).open("k1", sealed); }).find("k1") !=
          std::string::npos);
    errorOf(ErrorCode::Internal, [&] { seal.open("k2", sealed); });
    for (const std::size_t at : {std::size_t{9}, std::size_t{21}, sealed.size() - 1}) {
        auto damaged = sealed;
        damaged[at] ^= 1;
        errorOf(ErrorCode::Internal, [&] { seal.open("k1", damaged); });
    }
    // Two seals of one key differ (random nonce).
    CHECK(seal.seal("k1", asBytes("PKCS8 k1")) != sealed);
    CHECK(errorOf(ErrorCode::InvalidArgument, [] { KeySeal(SecureBytes(31, 1)); }).find("at least 32") !=
          std::string::npos);
}

TEST_CASE("a plain store is sealed at open with a KEK; new keys are written sealed")
{
    test::TempDir tmp;
    {
        Store store(tmp.path());
        addEverything(store);
    }
    CHECK(readText(tmp / "keys/k1.key") == "PKCS8 k1");
    {
        Store store(tmp.path(), KeySeal(credential('a')));
        CHECK(reportMentions(store, "sealed 1 plain key file(s)"));
        CHECK(KeySeal::isSealed(asBytes(readText(tmp / "keys/k1.key"))));
        CHECK(keyText(store, "k1") == "PKCS8 k1");
        auto tx = store.begin();
        tx.putKey("k2", asBytes("PKCS8 k2"));
        tx.state().keys["k2"] = StoredKey{5};
        store.commit(std::move(tx));
        CHECK(keyText(store, "k2") == "PKCS8 k2");
        CHECK(modeOf(tmp / "keys/k2.key") == 0600);
    }
    const std::string k2 = readText(tmp / "keys/k2.key");
    CHECK(KeySeal::isSealed(asBytes(k2)));
    CHECK(k2.find("PKCS8") == std::string::npos);
    const Store reopened(tmp.path(), KeySeal(credential('a')));
    CHECK_FALSE(reportMentions(reopened, "sealed"));
    CHECK(keyText(reopened, "k1") == "PKCS8 k1");
    CHECK(keyText(reopened, "k2") == "PKCS8 k2");
}

TEST_CASE("a sealed store without its KEK, or with another, does not open and changes nothing")
{
    test::TempDir tmp;
    {
        Store store(tmp.path(), KeySeal(credential('a')));
        addEverything(store);
    }
    const auto before = snapshot(tmp.path());
    CHECK(errorOf(ErrorCode::Internal, [&] { Store store(tmp.path()); }).find("certd-kek") !=
          std::string::npos);
    CHECK(snapshot(tmp.path()) == before);
    CHECK(errorOf(ErrorCode::Internal, [&] {
              Store store(tmp.path(), KeySeal(credential('b')));
          }).find("keys/k1.key") != std::string::npos);
    CHECK(snapshot(tmp.path()) == before);
    const Store store(tmp.path(), KeySeal(credential('a')));
    CHECK(keyText(store, "k1") == "PKCS8 k1");
}

TEST_CASE("a store half sealed (a crash during the migration) opens and finishes sealing")
{
    test::TempDir tmp;
    {
        Store store(tmp.path());
        addEverything(store);
        auto tx = store.begin();
        tx.putKey("k2", asBytes("PKCS8 k2"));
        tx.state().keys["k2"] = StoredKey{5};
        store.commit(std::move(tx));
    }
    // What a migration interrupted after its first file leaves: k1 sealed, k2 plain, a temp file.
    const KeySeal seal(credential('a'));
    const auto sealed = seal.seal("k1", asBytes("PKCS8 k1"));
    writeText(tmp / "keys/k1.key", std::string(sealed.begin(), sealed.end()));
    writeText(tmp / "keys/.tmp-k2.key.x", "half written");
    const Store store(tmp.path(), KeySeal(credential('a')));
    CHECK(reportMentions(store, "sealed 1 plain key file(s)"));
    CHECK(keyText(store, "k1") == "PKCS8 k1");
    CHECK(keyText(store, "k2") == "PKCS8 k2");
    CHECK(filesIn(tmp / "keys") == std::vector<std::string>{"k1.key", "k2.key"});
    CHECK(KeySeal::isSealed(asBytes(readText(tmp / "keys/k2.key"))));
}
