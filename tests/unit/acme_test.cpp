// ACME pieces that need no server: encodings, identifiers, the JWK of RFC 7517's example key,
// order and authorization JSON (good and bad), the tls-alpn-01 certificate (RFC 8737), the dns-01
// hook runner, and what the store and the Manager keep of an order. The protocol against a real
// CA is tests/integration/acme.sh (pebble).

#include "acme/challenge.hpp"
#include "acme/hook.hpp"
#include "acme/protocol.hpp"
#include "acme/service.hpp"
#include "error.hpp"
#include "error_code_of.hpp"
#include "manager/manager.hpp"
#include "pki/certificate.hpp"
#include "pki/key.hpp"
#include "store/state_codec.hpp"
#include "temp_dir.hpp"

#include <doctest/doctest.h>
#include <openssl/core_names.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <fstream>
#include <iterator>
#include <thread>

using namespace certd;

namespace {

using test::errorOf;

// RFC 7517 Appendix A.1's P-256 public key, from its x and y.
pki::EvpPkeyPtr rfc7517Key()
{
    const Bytes x = acme::fromBase64Url("MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4");
    const Bytes y = acme::fromBase64Url("4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM");
    Bytes point{0x04};
    point.insert(point.end(), x.begin(), x.end());
    point.insert(point.end(), y.begin(), y.end());
    OSSL_PARAM_BLD* build = OSSL_PARAM_BLD_new();
    OSSL_PARAM_BLD_push_utf8_string(build, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0);
    OSSL_PARAM_BLD_push_octet_string(build, OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size());
    OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(build);
    EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr);
    EVP_PKEY* key = nullptr;
    REQUIRE(EVP_PKEY_fromdata_init(ctx) == 1);
    REQUIRE(EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) == 1);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(build);
    return pki::EvpPkeyPtr(key);
}

} // namespace

TEST_CASE("base64url: RFC 4648 vectors without padding, both alphabets read")
{
    CHECK(acme::base64Url(asBytes("")) == "");
    CHECK(acme::base64Url(asBytes("f")) == "Zg");
    CHECK(acme::base64Url(asBytes("fo")) == "Zm8");
    CHECK(acme::base64Url(asBytes("foo")) == "Zm9v");
    CHECK(acme::base64Url(asBytes("foobar")) == "Zm9vYmFy");
    const Bytes edge{0xfb, 0xff, 0xbf};
    CHECK(acme::base64Url(edge) == "-_-_");
    CHECK(acme::fromBase64Url("-_-_") == edge);
    CHECK(acme::fromBase64Url("+/+/") == edge);
    CHECK(acme::fromBase64Url("Zm9vYg==") == Bytes{'f', 'o', 'o', 'b'});
    errorOf(ErrorCode::InvalidArgument, [] { acme::fromBase64Url("not base64!"); });
}

TEST_CASE("identifiers: IP literals canonical, DNS names lower case, wildcards, garbage refused")
{
    CHECK(acme::parseIdentifier("127.0.0.2") == acme::Identifier{acme::Identifier::Type::Ip, "127.0.0.2"});
    CHECK(acme::parseIdentifier("2001:DB8:0::1") ==
          acme::Identifier{acme::Identifier::Type::Ip, "2001:db8::1"});
    CHECK(acme::parseIdentifier("WWW.Example.COM") ==
          acme::Identifier{acme::Identifier::Type::Dns, "www.example.com"});
    CHECK(acme::parseIdentifier("*.example.com").value == "*.example.com");
    for (const char* bad : {"", "localhost", "a..b", ".example.com", "exa mple.com", "*", "-", "x.*.com"})
        errorOf(ErrorCode::InvalidArgument, [&] { acme::parseIdentifier(bad); });
    // RFC 8738 §6: what a CA sends as SNI when it validates an IP address with tls-alpn-01.
    CHECK(acme::validationServerName(acme::parseIdentifier("127.0.0.2")) == "2.0.0.127.in-addr.arpa");
    CHECK(acme::validationServerName(acme::parseIdentifier("2001:db8::1")) ==
          "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa");
    CHECK(acme::validationServerName(acme::parseIdentifier("www.example.com")) == "www.example.com");
}

TEST_CASE("the JWK of RFC 7517's example P-256 key, members in RFC 7638 order, and its thumbprint")
{
    const auto key = rfc7517Key();
    const std::string jwk = acme::jwkOf(key.get());
    CHECK(jwk == R"({"crv":"P-256","kty":"EC","x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4",)"
                 R"("y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"})");
    // The RFC 7638 thumbprint of that key, as other JOSE libraries compute it.
    CHECK(acme::jwkThumbprint(key.get()) == "cn-I_WNMClehiVp51i_0VpOENW1upEerA8sEam5hn-s");
    // Only ES256 account keys.
    const auto rsa = pki::generateKey(pki::KeyType::Rsa2048);
    errorOf(ErrorCode::InvalidArgument, [&] { acme::jwkOf(rsa.get()); });
    const auto p384 = pki::generateKey(pki::KeyType::EcP384);
    errorOf(ErrorCode::InvalidArgument, [&] { acme::jwkOf(p384.get()); });
}

TEST_CASE("orders and authorizations from JSON; malformed answers are AcmeFailed, never a crash")
{
    const auto order = acme::parseOrder("https://ca/order/1", R"({"status":"pending","expires":"x",
        "identifiers":[{"type":"ip","value":"127.0.0.2"}],"authorizations":["https://ca/authz/1"],
        "finalize":"https://ca/finalize/1"})");
    CHECK(order.status == "pending");
    CHECK(order.authorizations == std::vector<std::string>{"https://ca/authz/1"});
    CHECK(order.finalizeUrl == "https://ca/finalize/1");
    const auto invalid = acme::parseOrder("u", R"({"status":"invalid","finalize":"f",
        "error":{"type":"urn:ietf:params:acme:error:unauthorized","detail":"no"}})");
    CHECK(invalid.error == "unauthorized: no");

    const auto authz = acme::parseAuthorization("https://ca/authz/1", R"({"status":"pending",
        "identifier":{"type":"dns","value":"Example.COM"},"wildcard":true,"challenges":[
        {"type":"http-01","url":"https://ca/c/1","token":"t1","status":"pending"},
        {"type":"tls-alpn-01","url":"https://ca/c/2","token":"t2","status":"invalid",
         "error":{"type":"urn:ietf:params:acme:error:connection","detail":"refused"}}]})");
    CHECK(authz.identifier.value == "example.com");
    CHECK(authz.wildcard);
    REQUIRE(authz.challenges.size() == 2);
    CHECK(authz.challenges[1].token == "t2");
    CHECK(authz.error == "connection: refused");

    for (const char* bad : {"", "{", "[]", "null", R"({"status":"valid"})", R"({"finalize":"f"})",
                            R"({"status":1,"finalize":"f"})", "{\"status\":\"valid\",\"finalize\":\"f\""})
        errorOf(ErrorCode::AcmeFailed, [&] { acme::parseOrder("u", bad); });
    for (const char* bad : {"", "nope", R"({"status":"pending"})", R"({"identifier":{"value":"x"}})"})
        errorOf(ErrorCode::AcmeFailed, [&] { acme::parseAuthorization("u", bad); });
}

TEST_CASE("a client refuses a directory that is not https before any request")
{
    acme::ServerOptions server;
    server.directoryUrl = "http://127.0.0.1:1/dir";
    errorOf(ErrorCode::InvalidArgument,
            [&] { acme::Client(server, pki::generateKey(pki::KeyType::EcP256), ""); });
}

TEST_CASE("the tls-alpn-01 certificate: the identifier as its only SAN, a critical acmeIdentifier")
{
    const std::string keyAuthorization = "token.thumbprint";
    const auto challenge =
        acme::tlsAlpnChallenge(acme::parseIdentifier("127.0.0.2"), keyAuthorization, "127.0.0.2");
    CHECK(challenge.kind == tls::AcmeChallenge::Kind::TlsAlpn01);
    CHECK(challenge.serverName == "2.0.0.127.in-addr.arpa");
    CHECK(challenge.address == "127.0.0.2");
    const auto bio = pki::memoryBio(asBytes(challenge.certificate.chainPem));
    const pki::X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    REQUIRE(cert);
    const auto key = pki::privateKeyFromPkcs8Der(challenge.certificate.keyPkcs8);
    CHECK(X509_check_private_key(cert.get(), key.get()) == 1);

    const pki::GeneralNamesPtr sans(
        static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert.get(), NID_subject_alt_name, nullptr, nullptr)));
    REQUIRE(sans);
    REQUIRE(sk_GENERAL_NAME_num(sans.get()) == 1);
    const GENERAL_NAME* san = sk_GENERAL_NAME_value(sans.get(), 0);
    REQUIRE(san->type == GEN_IPADD);
    CHECK(ASN1_STRING_length(san->d.iPAddress) == 4);
    CHECK(ASN1_STRING_get0_data(san->d.iPAddress)[3] == 2);

    const pki::OsslPtr<ASN1_OBJECT, ASN1_OBJECT_free> oid(OBJ_txt2obj("1.3.6.1.5.5.7.1.31", 1));
    const int index = X509_get_ext_by_OBJ(cert.get(), oid.get(), -1);
    REQUIRE(index >= 0);
    X509_EXTENSION* ext = X509_get_ext(cert.get(), index);
    CHECK(X509_EXTENSION_get_critical(ext) == 1);
    // extnValue holds the DER of an OCTET STRING of SHA-256(keyAuthorization).
    const ASN1_OCTET_STRING* value = X509_EXTENSION_get_data(ext);
    const Bytes digest = pki::sha256(asBytes(keyAuthorization));
    Bytes expected{0x04, 0x20};
    expected.insert(expected.end(), digest.begin(), digest.end());
    CHECK(Bytes(ASN1_STRING_get0_data(value), ASN1_STRING_get0_data(value) + ASN1_STRING_length(value)) ==
          expected);

    const auto named = acme::tlsAlpnChallenge(acme::parseIdentifier("www.example.com"), keyAuthorization, "");
    CHECK(named.serverName == "www.example.com");
    CHECK(named.address.empty());
}

namespace {
// An executable shell script in `dir`: a stand-in for the operator's dns-01 hook.
std::filesystem::path hookScript(const test::TempDir& dir, const std::string& name, const std::string& body)
{
    auto path = dir.path() / name;
    std::ofstream(path) << "#!/bin/sh\n" << body << "\n";
    std::filesystem::permissions(path, std::filesystem::perms::owner_all);
    return path;
}
} // namespace

TEST_CASE("dns-01: record names, values, and the hook's failures named")
{
    CHECK(acme::dnsRecordName("example.com") == "_acme-challenge.example.com.");
    CHECK(acme::dnsRecordName("*.example.com") == "_acme-challenge.example.com.");
    CHECK(acme::dnsTxtValue("a.b") == acme::base64Url(pki::sha256(asBytes("a.b"))));

    test::TempDir dir;
    const auto script = [&](const std::string& name, const std::string& body) {
        return hookScript(dir, name, body);
    };
    const acme::DnsRecord record{"*.example.com", "_acme-challenge.example.com.", "v"};
    const auto ok = script("ok.sh", "echo \"$@\" > " + (dir.path() / "args").string());
    acme::runDnsHook(ok, "add", record);
    std::ifstream args(dir.path() / "args");
    std::string line;
    std::getline(args, line);
    CHECK(line == "add *.example.com _acme-challenge.example.com. v");

    const auto bad = script("bad.sh", "echo 'no such zone' >&2; exit 3");
    const std::string message = errorOf(ErrorCode::AcmeFailed, [&] { acme::runDnsHook(bad, "add", record); });
    CHECK(message.find("exited with status 3: no such zone") != std::string::npos);
    errorOf(ErrorCode::AcmeFailed, [&] { acme::runDnsHook(dir.path() / "missing.sh", "add", record); });
    // A hook that never ends is killed at the deadline.
    const auto hung = script("hung.sh", "exec sleep 600");
    const std::string late = errorOf(ErrorCode::AcmeFailed, [&] {
        acme::runDnsHook(hung, "add", record, {.timeout = std::chrono::seconds(1)});
    });
    CHECK(late.find("did not finish within 1 s") != std::string::npos);
}

namespace {
// A process that is gone or a zombie (its parent, killed with it, no longer waits for it).
bool processGone(pid_t pid)
{
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string fields;
    if (!std::getline(stat, fields))
        return true;
    const auto close = fields.rfind(')');
    return close != std::string::npos && fields.size() > close + 2 && fields[close + 2] == 'Z';
}
} // namespace

TEST_CASE("dns-01: certd stopping stops the hook and what it started, removal gets its grace")
{
    test::TempDir dir;
    const auto script = [&](const std::string& name, const std::string& body) {
        return hookScript(dir, name, body);
    };
    const acme::DnsRecord record{"example.com", "_acme-challenge.example.com.", "v"};
    const auto childFile = dir.path() / "child";
    // A hook that hangs in a child of its own (a provider's CLI, say), reporting the child's pid.
    const auto hung = script("hung.sh", "sleep 600 & echo $! > " + (childFile.string() + ".new") + "; mv " +
                                            childFile.string() + ".new " + childFile.string() + "; wait");
    std::atomic<bool> cancel{false};
    std::thread stopper([&] {
        // certd "stops" once the hook is running (bounded: the hook's own timeout is 120 s).
        for (int i = 0; i < 3000 && !std::filesystem::exists(childFile); ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        cancel = true;
    });
    const std::string stopped =
        errorOf(ErrorCode::AcmeFailed, [&] { acme::runDnsHook(hung, "add", record, {.cancel = &cancel}); });
    stopper.join();
    CHECK(stopped.find("was stopped: certd is stopping") != std::string::npos);
    pid_t child = 0;
    std::ifstream(childFile) >> child;
    REQUIRE(child > 0);
    bool gone = false;
    for (int i = 0; i < 500 && !(gone = processGone(child)); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    CHECK(gone);
    if (!gone)
        ::kill(child, SIGKILL);

    // Once stopping: publishing gets no time at all, taking a record away its grace.
    const auto ok = script("ok.sh", "echo \"$1\" >> " + (dir.path() / "calls").string());
    errorOf(ErrorCode::AcmeFailed, [&] { acme::runDnsHook(ok, "add", record, {.cancel = &cancel}); });
    acme::runDnsHook(ok, "remove", record, {.cancel = &cancel, .graceOnCancel = std::chrono::seconds(30)});
    std::ifstream calls(dir.path() / "calls");
    std::string all((std::istreambuf_iterator<char>(calls)), std::istreambuf_iterator<char>());
    CHECK(all.find("remove") != std::string::npos);
}

TEST_CASE("retries back off exponentially, up to the cap")
{
    constexpr std::uint64_t kSecond = 1'000'000;
    const std::uint64_t day = 86400 * kSecond;
    CHECK(acme::retryDelayUSec(1, 30 * kSecond, day) == 30 * kSecond);
    CHECK(acme::retryDelayUSec(2, 30 * kSecond, day) == 60 * kSecond);
    CHECK(acme::retryDelayUSec(5, 30 * kSecond, day) == 480 * kSecond);
    CHECK(acme::retryDelayUSec(12, 30 * kSecond, day) == 61440 * kSecond); // 30 s · 2^11, 17 h
    CHECK(acme::retryDelayUSec(13, 30 * kSecond, day) == day);             // 30 s · 2^12 > a day
    CHECK(acme::retryDelayUSec(1000, 30 * kSecond, day) == day);           // no overflow however many
    CHECK(acme::retryDelayUSec(3, 2 * kSecond, day) == 8 * kSecond);
}

TEST_CASE("state.yaml and journal records carry ACME orders; a store without any reads as before")
{
    StoreState state;
    state.keys["k1"] = StoredKey{1, "EC", 256, std::string(64, 'a')};
    StoredAcmeOrder order;
    order.friendlyName = "web: \"quoted\"";
    order.directoryUrl = "https://ca.example/dir";
    order.identifiers = {"www.example.com", "127.0.0.2"};
    order.challenge = "tls-alpn-01";
    order.keyType = "ec-p256";
    order.caBundle = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
    order.assign = {"127.0.0.2"};
    order.renewAfterSeconds = 3;
    order.accountKeyId = "k1";
    order.accountUrl = "https://ca.example/acct/1";
    order.orderUrl = "https://ca.example/order/9";
    order.keyId = "k1";
    order.state = AcmeOrderState::Processing;
    order.errorName = "org.certd1.Error.FetchFailed";
    order.error = "line 1\nline 2";
    order.createdUSec = 42;
    order.nextRenewalUSec = 43;
    state.acmeOrders["o1"] = order;
    CHECK(parseState(serializeState(state, 1), "test") == state);

    StoreState before = state;
    before.acmeOrders.clear();
    const StateDelta delta = diffStates(before, state);
    CHECK(delta.acmeOrders.size() == 1);
    StoreState replayed = before;
    applyDelta(replayed, parseDelta(serializeDelta(delta), "journal"));
    CHECK(replayed == state);
    const StateDelta removal = diffStates(state, before);
    CHECK(removal.removedAcmeOrders == std::vector<std::string>{"o1"});
    applyDelta(replayed, parseDelta(serializeDelta(removal), "journal"));
    CHECK(replayed == before);

    CHECK(serializeState(before, 1).find("acme_orders") == std::string::npos);
    for (const auto& s : {AcmeOrderState::Pending, AcmeOrderState::Processing, AcmeOrderState::Valid,
                          AcmeOrderState::Invalid, AcmeOrderState::Failed})
        CHECK(parseAcmeOrderState(acmeOrderStateName(s)) == s);
    CHECK_FALSE(parseAcmeOrderState("done"));
}

namespace {
// A Manager on a new store in a temporary directory, with its factory certificate.
struct ManagerFixture {
    test::TempDir dir;
    Store store{dir.path()};
    ManagerOptions options = [] {
        ManagerOptions o;
        o.factoryKeyType = pki::KeyType::EcP256;
        o.factorySpec.subject.commonName = "appliance.example.com";
        return o;
    }();
    Manager manager{store, options};
    ManagerFixture() { manager.ensureFactoryCertificate(); }
};
} // namespace

TEST_CASE("an ACME order's keys stay while it names them, and go with it")
{
    ManagerFixture fixture;
    test::TempDir& dir = fixture.dir;
    const ManagerOptions& options = fixture.options;
    Manager& manager = fixture.manager;

    std::vector<ParsedKey> newKeys;
    newKeys.push_back(parseKey(pki::generateKey(pki::KeyType::EcP256)));
    newKeys.push_back(parseKey(pki::generateKey(pki::KeyType::EcP256)));
    const ParsedKey& account = newKeys[0];
    const ParsedKey& certificateKey = newKeys[1];
    StoredAcmeOrder order;
    order.directoryUrl = "https://ca.example/dir";
    order.identifiers = {"127.0.0.2"};
    order.challenge = "tls-alpn-01";
    order.keyType = "ec-p256";
    const std::string id = manager.createAcmeOrder(order, {});
    order.accountKeyId = account.id;
    order.keyId = certificateKey.id;
    manager.updateAcmeOrder(id, order, newKeys);
    CHECK(manager.keys().count(account.id) == 1);
    CHECK(manager.keys().count(certificateKey.id) == 1);
    CHECK(pki::sameKey(manager.acmeKey(certificateKey.id).get(), certificateKey.key.get()));
    errorOf(ErrorCode::InUse, [&] { manager.deleteKey(account.id); });
    errorOf(ErrorCode::InUse, [&] { manager.deleteKey(certificateKey.id); });

    // The attempt's key no longer named (its certificate would hold it; here there is none): dropped.
    order.keyId.clear();
    manager.updateAcmeOrder(id, order);
    CHECK(manager.keys().count(certificateKey.id) == 0);
    CHECK(manager.keys().count(account.id) == 1);

    // Reopened, the order is there; deleted, its account key goes too.
    Store reopened{dir.path()};
    Manager again{reopened, options};
    CHECK(again.acmeOrder(id) == manager.acmeOrder(id));
    manager.deleteAcmeOrder(id);
    CHECK(manager.acmeOrders().empty());
    CHECK(manager.keys().count(account.id) == 0);
    errorOf(ErrorCode::NotFound, [&] { manager.acmeOrder(id); });
    errorOf(ErrorCode::NotFound, [&] { manager.deleteAcmeOrder(id); });
}

TEST_CASE("ACME accounts: one per registered account key, shared by its orders, its URL theirs")
{
    ManagerFixture fixture;
    Manager& manager = fixture.manager;
    std::vector<ParsedKey> newKeys;
    newKeys.push_back(parseKey(pki::generateKey(pki::KeyType::EcP256)));
    const std::string accountKey = newKeys[0].id;
    StoredAcmeOrder order;
    order.directoryUrl = "https://ca.example/dir";
    order.identifiers = {"127.0.0.2"};
    order.challenge = "tls-alpn-01";
    order.keyType = "ec-p256";
    order.contact = "admin@example.com";
    const std::string first = manager.createAcmeOrder(order, {});
    CHECK(manager.acmeAccounts().empty()); // nothing registered yet

    order.accountKeyId = accountKey;
    order.accountUrl = "https://ca.example/acct/1";
    manager.updateAcmeOrder(first, order, newKeys);
    const std::string second = manager.createAcmeOrder(order, {}); // shares it (as acme::Service does)
    auto accounts = manager.acmeAccounts();
    REQUIRE(accounts.size() == 1);
    std::vector<std::string> both{first, second};
    std::sort(both.begin(), both.end());
    CHECK(accounts[accountKey] == both);

    // The CA forgot the account; the second order registered the key again: both follow.
    StoredAcmeOrder again = manager.acmeOrder(second);
    again.accountUrl = "https://ca.example/acct/7";
    manager.updateAcmeOrder(second, again);
    CHECK(manager.acmeOrder(first).accountUrl == "https://ca.example/acct/7");

    // The account lives as long as one of its orders, and its key with it.
    manager.deleteAcmeOrder(first);
    accounts = manager.acmeAccounts();
    CHECK(accounts[accountKey] == std::vector<std::string>{second});
    CHECK(manager.keys().count(accountKey) == 1);
    manager.deleteAcmeOrder(second);
    CHECK(manager.acmeAccounts().empty());
    CHECK(manager.keys().count(accountKey) == 0);
}
