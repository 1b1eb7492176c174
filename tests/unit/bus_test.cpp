// The bus layer's pure parts: a{sv} arguments to typed values (bus/arguments) and who may
// do what (bus/auth), without a bus. Every refusal is InvalidArgument naming the key.
#include "bus/arguments.hpp"
#include "bus/auth.hpp"
#include "error.hpp"

#include <doctest/doctest.h>

#include <grp.h>
#include <pwd.h>

#include <functional>
#include <string>

using namespace certd;
using namespace certd::bus;

namespace {

// The error an argument parser throws: its code and message.
std::pair<ErrorCode, std::string> errorOf(const std::function<void()>& f)
{
    try {
        f();
    } catch (const Error& e) {
        return {e.code(), e.what()};
    }
    FAIL("expected an error");
    return {ErrorCode::Internal, {}};
}

bool invalidArgumentNaming(const std::function<void()>& f, const std::string& key)
{
    const auto [code, message] = errorOf(f);
    return code == ErrorCode::InvalidArgument && message.rfind(key, 0) == 0;
}

} // namespace

TEST_CASE("create specs: every field, defaults, and named refusals")
{
    VariantMap map{
        {"friendly_name", sdbus::Variant(std::string("web"))},
        {"key_type", sdbus::Variant(std::string("ec-p384"))},
        {"common_name", sdbus::Variant(std::string("www.example.com"))},
        {"country", sdbus::Variant(std::string("DE"))},
        {"subject_alt_names", sdbus::Variant(std::vector<std::string>{"DNS:a.example.com", "IP:::1"})},
        {"days", sdbus::Variant(std::uint16_t{30})}};
    const auto spec = parseCreateSpec(map, true);
    CHECK(spec.spec.friendlyName == "web");
    CHECK(spec.spec.keyType == pki::KeyType::EcP384);
    CHECK(spec.spec.subject.commonName == "www.example.com");
    CHECK(spec.spec.subject.country == "DE");
    REQUIRE(spec.spec.subjectAltNames.size() == 2);
    CHECK(spec.spec.subjectAltNames[1].type == pki::SubjectAltName::Type::Ip);
    CHECK(spec.spec.days == 30);
    CHECK_FALSE(spec.keyId);
    CHECK(parseCreateSpec({}, true).spec.days == 365);

    CHECK(invalidArgumentNaming(
        [&] {
            parseCreateSpec({{"days", sdbus::Variant(std::int32_t{0})}}, true);
        },
        "days"));
    CHECK(invalidArgumentNaming(
        [&] {
            parseCreateSpec({{"days", sdbus::Variant(std::uint64_t{1} << 40)}}, true);
        },
        "days"));
    // days is for self-signed certificates only.
    CHECK(invalidArgumentNaming(
        [&] {
            parseCreateSpec({{"days", sdbus::Variant(std::int32_t{30})}}, false);
        },
        "spec: unknown key 'days'"));
    CHECK(invalidArgumentNaming(
        [&] {
            parseCreateSpec({{"comon_name", sdbus::Variant(std::string("x"))}}, true);
        },
        "spec: unknown key 'comon_name'"));
    CHECK(invalidArgumentNaming(
        [&] {
            parseCreateSpec({{"common_name", sdbus::Variant(std::int32_t{1})}}, true);
        },
        "common_name: expected type 's'"));
    CHECK(invalidArgumentNaming(
        [&] {
            parseCreateSpec({{"key_type", sdbus::Variant(std::string("dsa"))}}, true);
        },
        "key_type"));
    const VariantMap both{{"key_type", sdbus::Variant(std::string("rsa2048"))},
                          {"key", sdbus::Variant(sdbus::ObjectPath("/org/certd1/key/ab"))}};
    CHECK(invalidArgumentNaming([&] { parseCreateSpec(both, false); }, "key:"));
}

TEST_CASE("create specs: key and copy_from are object paths of the right kind")
{
    const auto withKey =
        parseCreateSpec({{"key", sdbus::Variant(sdbus::ObjectPath("/org/certd1/key/ab12"))}}, false);
    CHECK(withKey.keyId == "ab12");
    CHECK(errorOf([] {
              parseCreateSpec({{"key", sdbus::Variant(sdbus::ObjectPath("/org/certd1/certificate/ab12"))}},
                              false);
          }).first == ErrorCode::NotFound);
    const auto rekey =
        parseCreateSpec({{"copy_from", sdbus::Variant(sdbus::ObjectPath("/org/certd1/certificate/cd34"))},
                         {"key_type", sdbus::Variant(std::string("rsa3072"))}},
                        false);
    CHECK(rekey.copyFrom == "cd34");
    // copy_from takes the subject: subject fields and a key beside it are refused.
    CHECK(invalidArgumentNaming(
        [] {
            parseCreateSpec({{"copy_from", sdbus::Variant(sdbus::ObjectPath("/org/certd1/certificate/cd34"))},
                             {"common_name", sdbus::Variant(std::string("x"))}},
                            false);
        },
        "common_name: copy_from"));
    CHECK(invalidArgumentNaming(
        [] {
            parseCreateSpec({{"copy_from", sdbus::Variant(sdbus::ObjectPath("/org/certd1/certificate/cd34"))},
                             {"key", sdbus::Variant(sdbus::ObjectPath("/org/certd1/key/ab12"))}},
                            false);
        },
        "copy_from"));
}

TEST_CASE("export, import, binding and chain-mode options")
{
    const auto defaults = parseExportOptions({});
    CHECK(defaults.format == pki::ExportFormat::Auto);
    CHECK(defaults.includeCertificate);
    CHECK_FALSE(defaults.includePrivateKey);
    CHECK_FALSE(defaults.includeChain);
    CHECK(defaults.passphrase.empty());
    const auto p12 = parseExportOptions({{"format", sdbus::Variant(std::string("pkcs12"))},
                                         {"include_private_key", sdbus::Variant(true)},
                                         {"passphrase", sdbus::Variant(std::string("s3cret"))}});
    CHECK(p12.format == pki::ExportFormat::Pkcs12);
    CHECK(p12.includePrivateKey);
    CHECK(p12.passphrase.view() == "s3cret");
    CHECK(invalidArgumentNaming(
        [] {
            parseExportOptions({{"format", sdbus::Variant(std::string("jks"))}});
        },
        "format"));
    CHECK(invalidArgumentNaming(
        [] {
            parseExportOptions({{"passphrase", sdbus::Variant(std::int32_t{1})}});
        },
        "passphrase"));
    CHECK(invalidArgumentNaming(
        [] {
            parseExportOptions({{"include_key", sdbus::Variant(true)}});
        },
        "options: unknown key 'include_key'"));

    CHECK(parseImportOptions({{"friendly_name", sdbus::Variant(std::string("shop"))}}) == "shop");
    CHECK(invalidArgumentNaming(
        [] {
            parseImportOptions({{"name", sdbus::Variant(std::string("x"))}});
        },
        "options: unknown key 'name'"));

    const auto binding = parseBindingOptions({{"force", sdbus::Variant(true)}});
    CHECK(binding.force);
    CHECK_FALSE(binding.flush);
    CHECK(invalidArgumentNaming(
        [] {
            parseBindingOptions({{"force", sdbus::Variant(std::string("yes"))}});
        },
        "force: expected type 'b'"));

    CHECK(parseChainModeArgument("manual") == ChainMode::Manual);
    CHECK(parseChainModeArgument("automatic") == ChainMode::Automatic);
    CHECK(invalidArgumentNaming([] { parseChainModeArgument("Manual"); }, "mode"));
}

TEST_CASE("authorisation: reading is open, mutations need root or the admin group, key export its own group")
{
    const passwd* nobody = ::getpwnam("nobody");
    REQUIRE(nobody != nullptr);
    const Caller root{0, 1};
    const Caller user{nobody->pw_uid, 2};
    const AuthPolicy rootOnly{};
    for (const Right right : {Right::Read, Right::Manage, Right::ExportPrivateKey})
        CHECK_NOTHROW(authorize(root, right, rootOnly));
    CHECK_NOTHROW(authorize(user, Right::Read, rootOnly));
    const auto denied = errorOf([&] { authorize(user, Right::Manage, rootOnly); });
    CHECK(denied.first == ErrorCode::AccessDenied);
    CHECK(errorOf([&] { authorize(user, Right::ExportPrivateKey, rootOnly); }).first ==
          ErrorCode::AccessDenied);

    // nobody's primary group admits it to whatever that group is given, and to nothing else.
    const group* primary = ::getgrgid(nobody->pw_gid);
    REQUIRE(primary != nullptr);
    const std::string groupName = primary->gr_name;
    CHECK(userInGroup(nobody->pw_uid, groupName));
    CHECK_FALSE(userInGroup(nobody->pw_uid, "root"));
    const AuthPolicy admins{groupName, ""};
    CHECK_NOTHROW(authorize(user, Right::Manage, admins));
    CHECK(errorOf([&] { authorize(user, Right::ExportPrivateKey, admins); }).first ==
          ErrorCode::AccessDenied);
    const AuthPolicy exporters{"", groupName};
    CHECK_NOTHROW(authorize(user, Right::ExportPrivateKey, exporters));
    CHECK(errorOf([&] { authorize(user, Right::Manage, exporters); }).first == ErrorCode::AccessDenied);
    CHECK_FALSE(userInGroup(nobody->pw_uid, "no-such-group-certd-test"));
}
