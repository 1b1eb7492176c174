#include "certctl/args.hpp"
#include "certctl/objects.hpp"
#include "certctl/resolve.hpp"
#include "error_code_of.hpp"

#include <doctest/doctest.h>

#include <array>
#include <functional>
#include <sstream>

using namespace certd;
using namespace certd::certctl;
using certd::test::errorCodeOf;

namespace {

const std::array<OptionSpec, 5> kOptions{{
    {"--name", "", "NAME", "friendly name"},
    {"--san", "", "SAN", "alternative name", true},
    {"--key", "", "", "include the key"},
    {"--output", "-o", "FILE", "output"},
    {"--json", "", "", "JSON"},
}};

Arguments parse(std::vector<std::string> args)
{
    return parseArguments(args, kOptions);
}

client::Certificate cert(const std::string& id, const std::string& name)
{
    client::Certificate c;
    c.id = id;
    c.path = std::string(client::kCertificatePathPrefix) + id;
    c.friendlyName = name;
    return c;
}

client::Inventory inventory()
{
    client::Inventory inv;
    inv.certificates = {cert("ab12cd34ef560001", "Web"), cert("ab12cd34ef560002", "Web"),
                        cert("0f0f0f0f00000000", "Appliance"), cert("1234567800000000", "ab12")};
    client::Request r;
    r.id = "77aa";
    r.path = std::string(client::kRequestPathPrefix) + r.id;
    r.friendlyName = "Renewal";
    inv.requests = {r};
    client::Key k;
    k.id = "9999000011112222";
    k.path = std::string(client::kKeyPathPrefix) + k.id;
    inv.keys = {k};
    return inv;
}

constexpr std::array kCert{ObjectKind::Certificate};
constexpr std::array kAny{ObjectKind::Certificate, ObjectKind::Request, ObjectKind::Key};

} // namespace

TEST_CASE("argument parser takes long, long=value, short and attached short values")
{
    const auto a =
        parse({"CERT", "--name", "My Cert", "--san=DNS:a", "--san", "IP:192.0.2.1", "-oout.pem", "--key"});
    CHECK(a.positional == std::vector<std::string>{"CERT"});
    CHECK(a.value("--name") == "My Cert");
    CHECK(a.values("--san") == std::vector<std::string>{"DNS:a", "IP:192.0.2.1"});
    CHECK(a.value("--output") == "out.pem");
    CHECK(a.has("--key"));
    CHECK_FALSE(a.has("--json"));

    const auto b = parse({"-o", "-", "--", "--name", "-"});
    CHECK(b.value("--output") == "-");
    CHECK(b.positional == std::vector<std::string>{"--name", "-"});
}

TEST_CASE("argument parser rejects what the usage does not allow")
{
    CHECK_THROWS_AS(parse({"--bogus"}), UsageError);
    CHECK_THROWS_AS(parse({"--name"}), UsageError);                     // missing value
    CHECK_THROWS_AS(parse({"--key=yes"}), UsageError);                  // flag with a value
    CHECK_THROWS_AS(parse({"--name", "a", "--name", "b"}), UsageError); // not repeatable
    CHECK_THROWS_AS(parse({"-x"}), UsageError);
}

TEST_CASE("durations and positive numbers")
{
    CHECK(parseDuration("30d") == 30u * 86400);
    CHECK(parseDuration("30") == 30u * 86400);
    CHECK(parseDuration("2w") == 14u * 86400);
    CHECK(parseDuration("12h") == 12u * 3600);
    CHECK_THROWS_AS(parseDuration("d"), UsageError);
    CHECK_THROWS_AS(parseDuration("3x"), UsageError);
    CHECK_THROWS_AS(parseDuration("-1d"), UsageError);
    CHECK(parsePositive("365", "--days") == 365u);
    CHECK_THROWS_AS(parsePositive("0", "--days"), UsageError);
    CHECK_THROWS_AS(parsePositive("12a", "--days"), UsageError);
}

TEST_CASE("a certificate is named by path, id, friendly name or unique id prefix")
{
    const auto inv = inventory();
    CHECK(resolveObject(inv, "/org/certd1/certificate/0f0f0f0f00000000", kCert).friendlyName == "Appliance");
    CHECK(resolveObject(inv, "ab12cd34ef560001", kCert).id == "ab12cd34ef560001");
    CHECK(resolveObject(inv, "Appliance", kCert).id == "0f0f0f0f00000000");
    CHECK(resolveObject(inv, "0F0F", kCert).id == "0f0f0f0f00000000");
    // An exact friendly name beats an id prefix.
    CHECK(resolveObject(inv, "ab12", kCert).id == "1234567800000000");
    CHECK(resolveObject(inv, "Renewal", kAny).kind == ObjectKind::Request);
    CHECK(resolveObject(inv, "9999", kAny).kind == ObjectKind::Key);
}

TEST_CASE("an ambiguous name is refused with the candidates listed")
{
    const auto inv = inventory();
    try {
        resolveObject(inv, "Web", kCert);
        FAIL("expected an error");
    } catch (const Error& e) {
        CHECK(e.code() == ErrorCode::InvalidArgument);
        const std::string message = e.what();
        CHECK(message.find("ab12cd34ef560001") != std::string::npos);
        CHECK(message.find("ab12cd34ef560002") != std::string::npos);
    }
    CHECK(errorCodeOf([&] { resolveObject(inv, "ab12cd", kCert); }) == ErrorCode::InvalidArgument);
    CHECK(errorCodeOf([&] { resolveObject(inv, "nothing", kCert); }) == ErrorCode::NotFound);
    CHECK(errorCodeOf([&] { resolveObject(inv, "0f0", kCert); }) == ErrorCode::NotFound); // prefix too short
    CHECK(errorCodeOf([&] { resolveObject(inv, "/org/certd1/certificate/zz", kCert); }) ==
          ErrorCode::NotFound);
    CHECK(errorCodeOf([&] { resolveObject(inv, "Renewal", kCert); }) == ErrorCode::NotFound);
}

TEST_CASE("a request's name means the certificate that completed it")
{
    auto inv = inventory();
    inv.certificates.push_back(cert("5151515100000000", "shop"));
    client::Request completed;
    completed.id = "88bb";
    completed.path = std::string(client::kRequestPathPrefix) + completed.id;
    completed.friendlyName = "shop";
    completed.state = "completed";
    completed.certificate = inv.certificates.back().path;
    inv.requests.push_back(completed);
    CHECK(resolveObject(inv, "shop", kAny).id == "5151515100000000");
    CHECK(resolveObject(inv, "88bb", kAny).kind == ObjectKind::Request);
    // A pending request and an unrelated certificate of the same name stay ambiguous.
    inv.requests.back().certificate = client::kNoObject;
    CHECK(errorCodeOf([&] { resolveObject(inv, "shop", kAny); }) == ErrorCode::InvalidArgument);
}

TEST_CASE("object kinds from paths")
{
    CHECK(kindOfPath("/org/certd1/certificate/ab") == ObjectKind::Certificate);
    CHECK(kindOfPath("/org/certd1/request/ab") == ObjectKind::Request);
    CHECK(kindOfPath("/org/certd1/key/ab") == ObjectKind::Key);
    CHECK_FALSE(kindOfPath("/org/certd1/address/_31"));
    CHECK(looksLikeId("0123abcd"));
    CHECK_FALSE(looksLikeId("0123abc"));
    CHECK_FALSE(looksLikeId("0123ABCD"));
}

TEST_CASE("JSON strings are escaped and always valid UTF-8")
{
    std::string out;
    appendJsonString(out, "a\"b\\c\n\t\x01\x7f");
    CHECK(out == "\"a\\\"b\\\\c\\n\\t\\u0001\x7f\"");
    out.clear();
    appendJsonString(out, "\xc3\xa9\xe2\x80\xa8");
    CHECK(out == "\"\xc3\xa9\\u2028\"");
    out.clear();
    appendJsonString(out, "bad\xff\xc0\xaf"
                          "end"); // invalid byte, overlong '/'
    CHECK(out == "\"bad\\ufffd\\ufffd\\ufffdend\"");
}

TEST_CASE("JSON documents keep member order and print nested values")
{
    Json j = Json::object();
    j.set("Name", "x").set("Count", 3u).set("Negative", -1).set("On", true).set("None", nullptr);
    j.set("List", jsonStrings({"a", "b"})).set("Empty", Json::array()).set("Path", jsonPath("/"));
    CHECK(j.dump() == "{\n"
                      "  \"Name\": \"x\",\n"
                      "  \"Count\": 3,\n"
                      "  \"Negative\": -1,\n"
                      "  \"On\": true,\n"
                      "  \"None\": null,\n"
                      "  \"List\": [\n"
                      "    \"a\",\n"
                      "    \"b\"\n"
                      "  ],\n"
                      "  \"Empty\": [],\n"
                      "  \"Path\": null\n"
                      "}");
    CHECK(Json(std::uint64_t{18446744073709551615u}).dump() == "18446744073709551615");
}

TEST_CASE("terminal output neutralises control characters from certificates")
{
    CHECK(sanitize("CN=evil\x1b[31m") == "CN=evil\\x1b[31m");
    CHECK(sanitize("a\nb") == "a\\x0ab");
    CHECK(sanitize("a\nb", true) == "a\nb");
    CHECK(sanitize("x\xe2\x80\xaey") == "x\\u{202e}y"); // right-to-left override
    CHECK(sanitize("\xc3\xbc") == "\xc3\xbc");
    CHECK(sanitize("\xff") == "\xef\xbf\xbd");
    CHECK(displayWidth("\xc3\xbc"
                       "ber") == 4);
}

TEST_CASE("tables align columns by display width and drop trailing blanks")
{
    Table t{{"Name", "Key"},
            {{"\xc3\x9c"
              "ber",
              "yes"},
             {"Longer name", ""}}};
    std::ostringstream out;
    printTable(out, t);
    CHECK(out.str() == "Name         Key\n"
                       "\xc3\x9c"
                       "ber         yes\n"
                       "Longer name\n");
}

TEST_CASE("the certificate list shows the appliance's columns")
{
    auto c = cert("ab12cd34ef560001ffff", "Web");
    c.issuedTo = "www.example.com";
    c.issuedBy = "Example CA";
    c.notAfterUSec = 1767225600ull * 1000000; // 2026-01-01
    c.subjectAltNames = {{"DNS", "www.example.com"}, {"IP", "192.0.2.1"}};
    c.addresses = {"127.0.0.2"};
    c.hasPrivateKey = true;
    c.warnings = {{"chain-incomplete", "no root"}, {"weak-key", "small"}};
    const Table t = certificateTable({c});
    CHECK(t.headers == std::vector<std::string>{"Id", "Friendly Name", "Issued To", "Issued By", "Expiration",
                                                "Alternative Names", "IP Addresses", "Private Key",
                                                "Warnings"});
    CHECK(t.rows.at(0) == std::vector<std::string>{"ab12cd34ef560001", "Web", "www.example.com", "Example CA",
                                                   "2026-01-01", "www.example.com, 192.0.2.1", "127.0.0.2",
                                                   "yes", "chain-incomplete,weak-key"});
    const std::string json = toJson(c).dump();
    CHECK(json.find("\"Expiration\": \"2026-01-01\"") != std::string::npos);
    CHECK(json.find("\"Key\": null") != std::string::npos);
    CHECK(json.find("\"DNS:www.example.com\"") != std::string::npos);
}

TEST_CASE("times and durations for people")
{
    CHECK(formatDate(0) == "1970-01-01");
    CHECK(formatTime(0) == "-");
    CHECK(formatTime(1767225600ull * 1000000 + 3723000000ull) == "2026-01-01 01:02:03 UTC");
    CHECK(formatIsoTime(1767225600ull * 1000000) == "2026-01-01T00:00:00Z");
    CHECK(formatDuration(93784ull * 1000000) == "1d 2h 3m");
    CHECK(formatDuration(59ull * 1000000) == "59s");
}

TEST_CASE("certificates sort by friendly name, ignoring case, then id")
{
    std::vector<client::Certificate> certs{cert("2", "web"), cert("1", "Web"), cert("3", "Appliance")};
    sortForDisplay(certs);
    CHECK(certs[0].id == "3");
    CHECK(certs[1].id == "1");
    CHECK(certs[2].id == "2");
}
