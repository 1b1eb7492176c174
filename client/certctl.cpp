// certctl: the command line for certd, on the client library only.
// One table of subcommands (name, usage, options, handler), one argument parser,
// one table/JSON printer (client/certctl/). Exit codes: 0 ok, 1 certd refused (or a
// local file could not be read/written), 2 usage error, 3 certd unreachable.

#include "certctl/args.hpp"
#include "certctl/objects.hpp"
#include "certctl/resolve.hpp"
#include "client.hpp"
#include "secure_memory.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <functional>
#include <iostream>
#include <limits>
#include <sys/stat.h>
#include <termios.h>
#include <thread>
#include <unistd.h>

namespace certd::certctl {
namespace {

// A local failure (a file certctl reads or writes): exit 1, but not certd's refusal.
class LocalError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

void wipe(std::string& s)
{
    certd::wipe(s.data(), s.size());
}

// A passphrase, wiped when it goes.
struct Secret {
    std::string value;
    Secret() { value.reserve(256); }
    ~Secret() { wipe(value); }
    Secret(const Secret&) = delete;
    Secret& operator=(const Secret&) = delete;
};

constexpr std::size_t kMaxInputBytes = std::size_t{32} * 1024 * 1024; // the system bus's own message limit

// ---------------------------------------------------------------- files

std::string errnoText(int error)
{
    return std::strerror(error);
}

std::vector<std::uint8_t> readInput(const std::string& path)
{
    const bool isStdin = path == "-";
    const int fd = isStdin ? STDIN_FILENO : ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        throw LocalError("cannot open " + path + ": " + errnoText(errno));
    std::vector<std::uint8_t> data;
    std::uint8_t buffer[65536];
    int error = 0;
    for (;;) {
        const ssize_t n = ::read(fd, buffer, sizeof buffer);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            error = errno;
            break;
        }
        if (n == 0)
            break;
        data.insert(data.end(), buffer, buffer + n);
        if (data.size() > kMaxInputBytes) {
            error = EFBIG;
            break;
        }
    }
    if (!isStdin)
        ::close(fd);
    if (error != 0)
        throw LocalError("cannot read " + (isStdin ? std::string("standard input") : path) + ": " +
                         errnoText(error));
    return data;
}

// Writes `data` to `path` ("-": standard output). A file holding a private key is
// created 0600 (and an existing one narrowed to 0600 before anything is written).
void writeOutput(const std::string& path, std::span<const std::uint8_t> data, bool secret)
{
    const bool isStdout = path == "-";
    int fd = STDOUT_FILENO;
    if (!isStdout) {
        const int flags = O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | (secret ? O_NOFOLLOW : 0);
        fd = ::open(path.c_str(), flags, secret ? 0600 : 0644);
        if (fd < 0)
            throw LocalError("cannot create " + path + ": " + errnoText(errno));
        // Narrow only regular files: a device such as /dev/null must keep its mode.
        struct stat st {};
        if (secret && ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && ::fchmod(fd, 0600) != 0) {
            const int error = errno;
            ::close(fd);
            throw LocalError("cannot restrict " + path + " to mode 0600: " + errnoText(error));
        }
    } else {
        std::cout.flush();
    }
    std::size_t done = 0;
    int error = 0;
    while (done < data.size()) {
        const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            error = errno;
            break;
        }
        done += static_cast<std::size_t>(n);
    }
    if (!isStdout && ::close(fd) != 0 && error == 0)
        error = errno;
    if (error != 0)
        throw LocalError("cannot write " + (isStdout ? std::string("standard output") : path) + ": " +
                         errnoText(error));
}

void writeOutput(const std::string& path, std::string_view text, bool secret)
{
    writeOutput(path, std::span(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()), secret);
}

void stripNewline(std::string& s)
{
    if (!s.empty() && s.back() == '\n')
        s.pop_back();
    if (!s.empty() && s.back() == '\r')
        s.pop_back();
}

// Reads a line from the terminal on standard input with echo off.
void promptLine(const char* prompt, std::string& out)
{
    termios saved{};
    const bool restore = ::tcgetattr(STDIN_FILENO, &saved) == 0;
    if (restore) {
        termios quiet = saved;
        quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
        quiet.c_lflag |= ECHONL;
        ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    std::cerr << prompt << std::flush;
    char c = 0;
    while (::read(STDIN_FILENO, &c, 1) == 1 && c != '\n')
        out += c;
    if (restore)
        ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
    certd::wipe(&c, sizeof c);
}

// A passphrase from a file, or from standard input ("-"): typed at a terminal
// (twice when `confirm`), else the whole input. One trailing newline is dropped.
void readPassphrase(const std::string& path, bool confirm, Secret& out)
{
    if (path == "-" && ::isatty(STDIN_FILENO)) {
        promptLine("Passphrase: ", out.value);
        if (confirm) {
            Secret again;
            promptLine("Passphrase (again): ", again.value);
            if (again.value != out.value)
                throw LocalError("the passphrases do not match");
        }
        return;
    }
    auto data = readInput(path);
    out.value.assign(data.begin(), data.end());
    certd::wipe(data.data(), data.size());
    stripNewline(out.value);
}

// ---------------------------------------------------------------- context

constexpr std::array kCertificateKind{ObjectKind::Certificate};
constexpr std::array kKeyKind{ObjectKind::Key};
constexpr std::array kAnyKind{ObjectKind::Certificate, ObjectKind::Request, ObjectKind::Key};

std::string pathPrefix(ObjectKind kind)
{
    switch (kind) {
    case ObjectKind::Certificate:
        return client::kCertificatePathPrefix;
    case ObjectKind::Request:
        return client::kRequestPathPrefix;
    case ObjectKind::Key:
        return client::kKeyPathPrefix;
    }
    return {};
}

struct Context {
    Arguments args;
    bool json = false;

    client::Client& bus()
    {
        if (!client_)
            client_.emplace();
        return *client_;
    }

    // Every object, fetched once per run.
    const client::Inventory& inventory()
    {
        if (!inventory_)
            inventory_ = bus().list();
        return *inventory_;
    }

    // The object `ref` names. An object path or a full id is looked up directly,
    // so naming one certificate among 10,000 does not fetch them all.
    ObjectRef resolve(std::string_view ref, std::span<const ObjectKind> kinds)
    {
        if (!inventory_ && ref.starts_with('/')) {
            const auto kind = kindOfPath(ref);
            if (!kind || std::find(kinds.begin(), kinds.end(), *kind) == kinds.end())
                throw Error(ErrorCode::InvalidArgument,
                            "'" + std::string(ref) + "' is not the path of a " + describeKinds(kinds));
            return {*kind, std::string(ref), client::objectId(std::string(ref)), {}};
        }
        if (!inventory_ && looksLikeId(ref)) {
            std::vector<ObjectRef> hits;
            for (const ObjectKind kind : kinds) {
                const std::string path = pathPrefix(kind) + std::string(ref);
                try {
                    hits.push_back({kind, path, std::string(ref), friendlyName(kind, path)});
                } catch (const Error& e) {
                    if (e.code() != ErrorCode::NotFound)
                        throw;
                }
            }
            if (hits.size() == 1)
                return hits.front();
        }
        return resolveObject(inventory(), ref, kinds);
    }

    std::string friendlyName(ObjectKind kind, const std::string& path)
    {
        switch (kind) {
        case ObjectKind::Certificate:
            return bus().certificate(path).friendlyName;
        case ObjectKind::Request:
            return bus().request(path).friendlyName;
        case ObjectKind::Key:
            bus().key(path);
            return {};
        }
        return {};
    }

    // Names for the given objects: from the inventory when it is loaded anyway,
    // else one lookup each (a handful of paths), skipping any that vanished.
    NameIndex namesFor(const std::vector<std::string>& paths)
    {
        if (inventory_)
            return NameIndex(*inventory_);
        NameIndex index;
        for (const auto& path : paths) {
            const auto kind = kindOfPath(path);
            if (!kind)
                continue;
            try {
                index.add(path, friendlyName(*kind, path));
            } catch (const Error& e) {
                if (e.code() != ErrorCode::NotFound)
                    throw;
            }
        }
        return index;
    }

private:
    std::optional<client::Client> client_;
    std::optional<client::Inventory> inventory_;
};

// "certificate 'Web' (3fa2…)" or "key 3fa2…".
std::string describe(const ObjectRef& ref)
{
    std::string out(kindName(ref.kind));
    if (ref.friendlyName.empty())
        return out + " " + ref.id;
    return out + " '" + ref.friendlyName + "' (" + ref.id + ")";
}

void printJson(const Json& j)
{
    std::cout << j.dump() << '\n';
}

void printWarnings(const std::vector<client::Warning>& warnings)
{
    for (const auto& w : warnings)
        std::cerr << "certctl: warning: " << sanitize(w.code) << ": " << sanitize(w.text) << '\n';
}

void printMessage(std::string_view text)
{
    std::cout << sanitize(text) << '\n';
}

// ---------------------------------------------------------------- commands

using Handler = int (*)(Context&);

struct Command {
    std::string_view name;
    std::string_view synopsis;
    std::size_t minArgs;
    std::size_t maxArgs;
    Handler run;
    std::string_view summary;
    std::vector<OptionSpec> options;
};

constexpr std::size_t kMany = std::numeric_limits<std::size_t>::max();

constexpr std::array<OptionSpec, 2> kGlobalOptions{{
    {"--json", "", "", "machine-readable output (JSON)"},
    {"--help", "-h", "", "show this help"},
}};

constexpr std::array<OptionSpec, 10> kSubjectOptions{{
    {"--name", "", "NAME", "friendly name"},
    {"--key-type", "", "TYPE", "new key: rsa2048, rsa3072, rsa4096, ec-p256, ec-p384, ed25519 or ed448"},
    {"--key", "", "KEY", "use an existing key (id, prefix or path) instead of a new one"},
    {"--cn", "", "CN", "common name (a DNS name becomes the first alternative name)"},
    {"--country", "", "C", "country (ISO 3166 two-letter code)"},
    {"--state", "", "ST", "state or province"},
    {"--locality", "", "L", "locality (city)"},
    {"--org", "", "O", "organization"},
    {"--ou", "", "OU", "organizational unit"},
    {"--san", "", "SAN", "alternative name DNS:name, IP:address or a bare DNS name; repeatable", true},
}};

std::vector<OptionSpec> withOptions(std::span<const OptionSpec> base, std::initializer_list<OptionSpec> more)
{
    std::vector<OptionSpec> all(base.begin(), base.end());
    all.insert(all.end(), more.begin(), more.end());
    return all;
}

client::CertificateSpec specFromArguments(Context& ctx)
{
    const Arguments& a = ctx.args;
    client::CertificateSpec spec;
    spec.friendlyName = a.value("--name");
    spec.keyType = a.value("--key-type");
    spec.country = a.value("--country");
    spec.state = a.value("--state");
    spec.locality = a.value("--locality");
    spec.organization = a.value("--org");
    spec.organizationalUnit = a.value("--ou");
    spec.commonName = a.value("--cn");
    spec.subjectAltNames = a.values("--san");
    if (spec.keyType && a.has("--key"))
        throw UsageError("give either --key-type (a new key) or --key (an existing key), not both");
    if (const auto key = a.value("--key"))
        spec.key = ctx.resolve(*key, kKeyKind).path;
    return spec;
}

int runList(Context& ctx)
{
    const auto expiring = ctx.args.value("--expiring");
    const std::uint64_t window = expiring ? parseDuration(*expiring) : 0;
    std::vector<client::Certificate> certs = ctx.inventory().certificates;
    if (expiring) {
        const auto now = std::chrono::duration_cast<std::chrono::microseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
        const std::uint64_t limit = static_cast<std::uint64_t>(now) + window * 1000000;
        std::erase_if(certs, [limit](const client::Certificate& c) { return c.notAfterUSec > limit; });
        std::sort(certs.begin(), certs.end(),
                  [](const auto& a, const auto& b) { return a.notAfterUSec < b.notAfterUSec; });
    } else {
        sortForDisplay(certs);
    }

    if (ctx.json) {
        Json::Array out;
        out.reserve(certs.size());
        for (const auto& c : certs)
            out.push_back(toJson(c));
        printJson(Json(std::move(out)));
    } else if (certs.empty()) {
        printMessage(expiring ? "No certificate expires within " + *expiring + "." : "No certificates.");
    } else {
        printTable(std::cout, certificateTable(certs));
    }
    return 0;
}

int runShow(Context& ctx)
{
    const ObjectRef ref = ctx.resolve(ctx.args.positional[0], kAnyKind);
    switch (ref.kind) {
    case ObjectKind::Certificate: {
        const auto c = ctx.bus().certificate(ref.path);
        if (ctx.json) {
            printJson(toJson(c));
        } else {
            std::vector<std::string> related = c.chain;
            related.push_back(c.key);
            printFields(std::cout, certificateFields(c, ctx.namesFor(related)));
        }
        break;
    }
    case ObjectKind::Request: {
        const auto r = ctx.bus().request(ref.path);
        if (ctx.json) {
            printJson(toJson(r));
        } else {
            printFields(std::cout, requestFields(r, ctx.namesFor({r.key, r.certificate})));
            std::cout << '\n' << sanitize(r.requestPem, true);
            if (!r.requestPem.empty() && r.requestPem.back() != '\n')
                std::cout << '\n';
        }
        break;
    }
    case ObjectKind::Key: {
        const auto k = ctx.bus().key(ref.path);
        if (ctx.json) {
            printJson(toJson(k));
        } else {
            std::vector<std::string> related = k.certificates;
            related.insert(related.end(), k.requests.begin(), k.requests.end());
            printFields(std::cout, keyFields(k, ctx.namesFor(related)));
        }
        break;
    }
    }
    return 0;
}

int runCreateSelfSigned(Context& ctx)
{
    const auto days = ctx.args.value("--days");
    const auto validity = days ? std::optional(parsePositive(*days, "--days")) : std::nullopt;
    auto spec = specFromArguments(ctx);
    spec.days = validity;
    const auto result = ctx.bus().createSelfSigned(spec);
    if (ctx.json) {
        printJson(Json::object()
                      .set("Path", result.path)
                      .set("Id", client::objectId(result.path))
                      .set("Warnings", toJson(result.warnings)));
    } else {
        printWarnings(result.warnings);
        printMessage("Created certificate " + client::objectId(result.path) + " (" + result.path + ")");
    }
    return 0;
}

int runCreateRequest(Context& ctx)
{
    auto spec = specFromArguments(ctx);
    if (const auto from = ctx.args.value("--copy-from"))
        spec.copyFrom = ctx.resolve(*from, kCertificateKind).path;
    const auto result = ctx.bus().createRequest(spec);
    const auto request = ctx.bus().request(result.path);
    const auto file = ctx.args.value("--output");
    if (file)
        writeOutput(*file, request.requestPem, false);

    if (ctx.json) {
        Json j = Json::object();
        j.set("Path", result.path)
            .set("Id", request.id)
            .set("Warnings", toJson(result.warnings))
            .set("RequestPem", request.requestPem);
        if (file)
            j.set("File", *file);
        printJson(j);
        return 0;
    }
    printWarnings(result.warnings);
    printMessage("Created request " + request.id + " (" + result.path + ")");
    if (file && *file != "-")
        printMessage("Wrote the request to " + *file +
                     "; send it to the certificate authority, then import "
                     "the certificate it returns.");
    else if (!file)
        std::cout << sanitize(request.requestPem, true);
    return 0;
}

int runRequests(Context& ctx)
{
    std::vector<client::Request> requests = ctx.inventory().requests;
    sortForDisplay(requests);
    if (ctx.json) {
        Json::Array out;
        for (const auto& r : requests)
            out.push_back(toJson(r));
        printJson(Json(std::move(out)));
    } else if (requests.empty()) {
        printMessage("No requests.");
    } else {
        printTable(std::cout, requestTable(requests));
    }
    return 0;
}

int runKeys(Context& ctx)
{
    const auto& inv = ctx.inventory();
    std::vector<client::Key> keys = inv.keys;
    sortForDisplay(keys);
    if (ctx.json) {
        Json::Array out;
        for (const auto& k : keys)
            out.push_back(toJson(k));
        printJson(Json(std::move(out)));
    } else if (keys.empty()) {
        printMessage("No keys.");
    } else {
        printTable(std::cout, keyTable(keys, NameIndex(inv)));
    }
    return 0;
}

Table objectTable(const std::vector<std::string>& paths)
{
    Table t{{"Kind", "Id", "Path"}, {}};
    for (const auto& p : paths) {
        const auto kind = kindOfPath(p);
        t.rows.push_back({kind ? std::string(kindName(*kind)) : "object", client::objectId(p), p});
    }
    return t;
}

int runImport(Context& ctx)
{
    const std::string& file = ctx.args.positional[0];
    const auto passphraseFile = ctx.args.value("--passphrase-file");
    if (file == "-" && passphraseFile == "-")
        throw UsageError("the file and the passphrase cannot both come from standard input");
    Secret passphrase;
    if (passphraseFile)
        readPassphrase(*passphraseFile, false, passphrase);
    const auto data = readInput(file);
    client::ImportOptions options;
    options.friendlyName = ctx.args.value("--name");

    client::ImportResult result;
    try {
        result = ctx.bus().importData(data, passphrase.value, options);
    } catch (const Error& e) {
        // An encrypted file and someone at the terminal: ask, as openssl does.
        if (e.code() != ErrorCode::PassphraseRequired || passphraseFile || file == "-" ||
            !::isatty(STDIN_FILENO))
            throw;
        std::cerr << "certctl: " << sanitize(e.what()) << '\n';
        readPassphrase("-", false, passphrase);
        result = ctx.bus().importData(data, passphrase.value, options);
    }

    if (ctx.json) {
        printJson(Json::object()
                      .set("Objects", jsonStrings(result.objects))
                      .set("Warnings", toJson(result.warnings)));
        return 0;
    }
    printWarnings(result.warnings);
    if (result.objects.empty()) {
        printMessage("Nothing new: everything in " + file + " was already stored.");
        return 0;
    }
    printTable(std::cout, objectTable(result.objects));
    return 0;
}

int runAssign(Context& ctx)
{
    const std::string& address = ctx.args.positional[0];
    const ObjectRef cert = ctx.resolve(ctx.args.positional[1], kCertificateKind);
    const auto warnings = ctx.bus().assign(address, cert.path, ctx.args.has("--force"));
    printWarnings(warnings);
    if (ctx.json)
        printJson(Json::object().set("Address", address).set("Certificate", cert.path));
    else
        printMessage(address + " now serves " + describe(cert) + ".");
    return 0;
}

int runReplace(Context& ctx)
{
    const ObjectRef oldCert = ctx.resolve(ctx.args.positional[0], kCertificateKind);
    const ObjectRef newCert = ctx.resolve(ctx.args.positional[1], kCertificateKind);
    std::vector<client::Warning> warnings;
    const auto moved =
        ctx.bus().replaceCertificate(oldCert.path, newCert.path, ctx.args.has("--force"), &warnings);
    printWarnings(warnings);
    if (ctx.json)
        printJson(Json::object().set("Moved", jsonStrings(moved)));
    else if (moved.empty())
        printMessage(describe(oldCert) + " was bound to no address; nothing moved.");
    else
        printMessage("Moved " + join(moved, ", ") + " to " + describe(newCert) + ".");
    return 0;
}

int runSetAddresses(Context& ctx)
{
    const ObjectRef cert = ctx.resolve(ctx.args.positional[0], kCertificateKind);
    const std::vector<std::string> addresses(ctx.args.positional.begin() + 1, ctx.args.positional.end());
    printWarnings(ctx.bus().setAddresses(cert.path, addresses, ctx.args.has("--force")));
    if (ctx.json)
        printJson(Json::object().set("Path", cert.path).set("Addresses", jsonStrings(addresses)));
    else if (addresses.empty())
        printMessage(describe(cert) + " is bound to no address now.");
    else
        printMessage(describe(cert) + " now serves " + join(addresses, ", ") + ".");
    return 0;
}

int runRename(Context& ctx)
{
    const ObjectRef cert = ctx.resolve(ctx.args.positional[0], kCertificateKind);
    const std::string& name = ctx.args.positional[1];
    ctx.bus().setFriendlyName(cert.path, name);
    if (ctx.json)
        printJson(Json::object().set("Path", cert.path).set("FriendlyName", name));
    else
        printMessage("Renamed " + describe(cert) + " to '" + name + "'.");
    return 0;
}

int runSetChain(Context& ctx)
{
    const std::string& mode = ctx.args.positional[1];
    const auto pemFile = ctx.args.value("--pem");
    if (mode != "automatic" && mode != "manual")
        throw UsageError("the chain mode is 'automatic' or 'manual', not '" + mode + "'");
    if (mode == "manual" && !pemFile)
        throw UsageError("a manual chain needs --pem FILE (the issuers, the certificate's issuer first)");
    if (mode == "automatic" && pemFile)
        throw UsageError("--pem goes with a manual chain only");
    const std::vector<std::uint8_t> pem = pemFile ? readInput(*pemFile) : std::vector<std::uint8_t>{};
    const ObjectRef cert = ctx.resolve(ctx.args.positional[0], kCertificateKind);
    ctx.bus().setChain(cert.path, mode, pem);
    if (ctx.json) {
        printJson(Json::object().set("Path", cert.path).set("ChainMode", mode));
        return 0;
    }
    const auto updated = ctx.bus().certificate(cert.path);
    printWarnings(updated.warnings);
    printMessage("The chain of " + describe(cert) + " is " + mode + " now (" +
                 std::to_string(updated.chain.size()) + " issuer" + (updated.chain.size() == 1 ? "" : "s") +
                 ").");
    return 0;
}

int runFetchIssuer(Context& ctx)
{
    const ObjectRef cert = ctx.resolve(ctx.args.positional[0], kCertificateKind);
    const auto imported = ctx.bus().fetchIssuer(cert.path);
    if (ctx.json)
        printJson(Json::object().set("Imported", jsonStrings(imported)));
    else if (imported.empty())
        printMessage("No new issuer certificates for " + describe(cert) + ".");
    else
        printTable(std::cout, objectTable(imported));
    return 0;
}

int runCheck(Context& ctx)
{
    const ObjectRef cert = ctx.resolve(ctx.args.positional[0], kCertificateKind);
    const std::vector<std::string> hosts(ctx.args.positional.begin() + 1, ctx.args.positional.end());
    const auto findings = ctx.bus().check(cert.path, hosts);
    if (ctx.json)
        printJson(toJson(findings));
    else if (findings.empty())
        printMessage("No findings for " + describe(cert) + ".");
    else
        printTable(std::cout, findingTable(findings));
    return 0;
}

constexpr std::array<std::string_view, 6> kExportFormats{"auto", "der", "pem", "pkcs7", "pkcs8", "pkcs12"};

int runExport(Context& ctx)
{
    const Arguments& a = ctx.args;
    const auto file = a.value("--output");
    if (!file)
        throw UsageError("export needs -o FILE (- for standard output)");
    if (*file == "-" && ctx.json)
        throw UsageError("--json cannot be combined with -o - (the export itself goes to standard output)");

    client::ExportOptions options;
    options.format = a.value("--format");
    if (options.format &&
        std::find(kExportFormats.begin(), kExportFormats.end(), *options.format) == kExportFormats.end())
        throw UsageError("unknown format '" + *options.format + "' (auto, der, pem, pkcs7, pkcs8 or pkcs12)");
    const bool withKey = a.has("--key");
    const bool withChain = a.has("--chain") || a.has("--trust-bundle");
    const bool withCert = !a.has("--no-cert");
    if (a.has("--trust-bundle")) {
        if (withKey)
            throw UsageError("a trust bundle never holds the private key; drop --key");
        if (options.format && *options.format != "pem")
            throw UsageError("a trust bundle is PEM; drop --format");
        options.format = "pem";
    }
    if (!withCert && !withKey && !withChain)
        throw UsageError("--no-cert leaves nothing to export; add --key or --chain");
    options.includeCertificate = withCert;
    options.includePrivateKey = withKey;
    options.includeChain = withChain;

    const auto passphraseFile = a.value("--passphrase-file");
    Secret passphrase;
    if (passphraseFile) {
        readPassphrase(*passphraseFile, true, passphrase);
        options.passphrase = passphrase.value;
    }

    const ObjectRef cert = ctx.resolve(a.positional[0], kCertificateKind);
    auto data = ctx.bus().exportCertificate(cert.path, options);
    if (options.passphrase)
        wipe(*options.passphrase);
    try {
        writeOutput(*file, data, withKey);
    } catch (...) {
        certd::wipe(data.data(), data.size());
        throw;
    }
    const std::size_t size = data.size();
    certd::wipe(data.data(), data.size());

    if (ctx.json)
        printJson(Json::object().set("File", *file).set("Bytes", size).set("PrivateKey", withKey));
    else if (*file != "-")
        printMessage("Wrote " + std::to_string(size) + " bytes to " + *file +
                     (withKey ? " (it holds the private key: mode 0600, keep it safe)." : "."));
    return 0;
}

int runDelete(Context& ctx)
{
    const ObjectRef ref = ctx.resolve(ctx.args.positional[0], kAnyKind);
    switch (ref.kind) {
    case ObjectKind::Certificate:
        ctx.bus().deleteCertificate(ref.path);
        break;
    case ObjectKind::Request:
        ctx.bus().deleteRequest(ref.path);
        break;
    case ObjectKind::Key:
        ctx.bus().deleteKey(ref.path);
        break;
    }
    if (ctx.json)
        printJson(Json::object().set("Path", ref.path).set("Kind", kindName(ref.kind)));
    else
        printMessage("Deleted " + describe(ref) + ".");
    return 0;
}

// ---------------------------------------------------------------- ACME

Json acmeOrderJson(const client::AcmeOrder& o)
{
    Json j = Json::object();
    j.set("Path", o.path)
        .set("Id", o.id)
        .set("FriendlyName", o.friendlyName)
        .set("State", o.state)
        .set("ErrorName", o.errorName)
        .set("Error", o.error)
        .set("Certificate", jsonPath(o.certificate))
        .set("Identifiers", jsonStrings(o.identifiers))
        .set("DirectoryUrl", o.directoryUrl)
        .set("Challenge", o.challenge)
        .set("AccountUrl", o.accountUrl)
        .set("Account", jsonPath(o.account))
        .set("NextRenewalUSec", o.nextRenewalUSec)
        .set("NextRenewal", o.nextRenewalUSec ? formatIsoTime(o.nextRenewalUSec) : std::string())
        .set("CreatedUSec", o.createdUSec)
        .set("Created", formatIsoTime(o.createdUSec));
    return j;
}

Json acmeAccountJson(const client::AcmeAccount& a)
{
    Json j = Json::object();
    j.set("Path", a.path)
        .set("Id", a.id)
        .set("DirectoryUrl", a.directoryUrl)
        .set("Contact", a.contact)
        .set("Url", a.url)
        .set("Key", jsonPath(a.key))
        .set("Orders", jsonStrings(a.orders));
    return j;
}

// An ACME order by path, id or friendly name.
std::string resolveAcmeOrder(Context& ctx, const std::string& ref)
{
    if (ref.starts_with(client::kAcmeOrderPathPrefix))
        return ref;
    std::vector<std::string> hits;
    for (const auto& o : ctx.inventory().acmeOrders)
        if (o.id == ref || o.friendlyName == ref || (ref.size() >= 4 && o.id.starts_with(ref)))
            hits.push_back(o.path);
    if (hits.size() == 1)
        return hits.front();
    if (hits.empty())
        throw Error(ErrorCode::NotFound, "no ACME order '" + ref + "' (certctl acme list shows them)");
    throw Error(ErrorCode::InvalidArgument,
                "'" + ref + "' names " + std::to_string(hits.size()) + " ACME orders; use the id");
}

void printAcmeOrder(const client::AcmeOrder& o)
{
    printFields(
        std::cout,
        {{"Order", o.id},
         {"Path", o.path},
         {"Name", o.friendlyName},
         {"State", o.state},
         {"Identifiers", join(o.identifiers, ", ")},
         {"Challenge", o.challenge},
         {"Directory", o.directoryUrl},
         {"Account", o.account == client::kNoObject ? "" : client::objectId(o.account) + " " + o.accountUrl},
         {"Certificate", o.certificate == client::kNoObject ? "" : client::objectId(o.certificate)},
         {"Next renewal", o.nextRenewalUSec ? formatTime(o.nextRenewalUSec) : ""},
         {"Error", o.error.empty() ? "" : o.errorName + ": " + o.error}});
}

int runAcme(Context& ctx)
{
    const auto& args = ctx.args.positional;
    const std::string& sub = args[0];
    const auto need = [&](std::size_t n) {
        if (args.size() != n + 1)
            throw UsageError("certctl acme " + sub + " takes " + std::to_string(n) + " argument(s)");
    };
    if (sub == "list") {
        need(0);
        const auto& orders = ctx.inventory().acmeOrders;
        if (ctx.json) {
            Json::Array out;
            for (const auto& o : orders)
                out.push_back(acmeOrderJson(o));
            printJson(Json(std::move(out)));
        } else if (orders.empty()) {
            printMessage("No ACME orders.");
        } else {
            Table t{{"Id", "Name", "State", "Identifiers", "Certificate", "Next renewal"}, {}};
            for (const auto& o : orders)
                t.rows.push_back({o.id, o.friendlyName, o.state, join(o.identifiers, ","),
                                  o.certificate == client::kNoObject ? "-" : client::objectId(o.certificate),
                                  o.nextRenewalUSec ? formatDate(o.nextRenewalUSec) : "-"});
            printTable(std::cout, t);
        }
        return 0;
    }
    if (sub == "accounts") {
        need(0);
        const auto& accounts = ctx.inventory().acmeAccounts;
        if (ctx.json) {
            Json::Array out;
            for (const auto& a : accounts)
                out.push_back(acmeAccountJson(a));
            printJson(Json(std::move(out)));
        } else if (accounts.empty()) {
            printMessage("No ACME accounts (an order registers one).");
        } else {
            Table t{{"Id", "Directory", "Contact", "Orders", "Url"}, {}};
            for (const auto& a : accounts)
                t.rows.push_back({a.id, a.directoryUrl, a.contact.empty() ? "-" : a.contact,
                                  std::to_string(a.orders.size()), a.url});
            printTable(std::cout, t);
        }
        return 0;
    }
    if (sub == "show" || sub == "renew" || sub == "delete") {
        need(1);
        const std::string path = resolveAcmeOrder(ctx, args[1]);
        if (sub == "renew")
            ctx.bus().renewAcmeOrder(path);
        if (sub == "delete") {
            ctx.bus().deleteAcmeOrder(path);
            if (ctx.json)
                printJson(Json::object().set("Path", path));
            else
                printMessage("Deleted ACME order " + client::objectId(path) + " (its certificates stay).");
            return 0;
        }
        const auto order = ctx.bus().acmeOrder(path);
        if (ctx.json)
            printJson(acmeOrderJson(order));
        else
            printAcmeOrder(order);
        return 0;
    }
    if (sub != "order")
        throw UsageError("certctl acme: unknown subcommand '" + sub +
                         "' (order, list, show, renew, delete, accounts)");
    need(0);
    const Arguments& a = ctx.args;
    client::AcmeOrderSpec spec;
    const auto directory = a.value("--directory");
    if (!directory)
        throw UsageError("certctl acme order needs --directory URL (the ACME server's directory)");
    spec.directoryUrl = *directory;
    spec.identifiers = a.values("--identifier");
    if (spec.identifiers.empty())
        throw UsageError("certctl acme order needs at least one --identifier (a DNS name or an IP address)");
    spec.challenge = a.value("--challenge");
    spec.keyType = a.value("--key-type");
    if (spec.keyType && a.has("--key"))
        throw UsageError("give either --key-type (a new key each time) or --key (always this key), not both");
    if (const auto key = a.value("--key"))
        spec.key = ctx.resolve(*key, kKeyKind).path;
    spec.contact = a.value("--contact");
    if (const auto bundle = a.value("--ca-bundle"))
        spec.caBundle = readInput(*bundle);
    spec.assign = a.values("--assign");
    spec.friendlyName = a.value("--name");
    if (const auto percent = a.value("--renew-percent"))
        spec.renewPercent = parsePositive(*percent, "--renew-percent");
    if (const auto after = a.value("--renew-after"))
        spec.renewAfterSeconds = static_cast<std::uint32_t>(parseDuration(*after));
    spec.eabKid = a.value("--eab-kid");
    if (const auto file = a.value("--eab-hmac-key-file")) {
        auto bytes = readInput(*file);
        std::string key(bytes.begin(), bytes.end());
        certd::wipe(bytes.data(), bytes.size());
        while (!key.empty() && (key.back() == '\n' || key.back() == '\r' || key.back() == ' '))
            key.pop_back();
        spec.eabHmacKey = key;
    }
    const auto result = ctx.bus().createAcmeOrder(spec);
    client::AcmeOrder order = ctx.bus().acmeOrder(result.path);
    if (a.has("--wait")) {
        // The order runs in certd; this only watches its State (at most 10 minutes).
        const auto until = std::chrono::steady_clock::now() + std::chrono::minutes(10);
        while ((order.state == "pending" || order.state == "processing") &&
               std::chrono::steady_clock::now() < until) {
            std::this_thread::sleep_for(std::chrono::milliseconds(200));
            order = ctx.bus().acmeOrder(result.path);
        }
    }
    if (ctx.json) {
        Json j = acmeOrderJson(order);
        j.set("Warnings", toJson(result.warnings));
        printJson(j);
    } else {
        printWarnings(result.warnings);
        printMessage("Created ACME order " + order.id + " (" + order.path + ")");
        printAcmeOrder(order);
    }
    // Without --wait the order was created, whatever it reached since (a CA that cannot be
    // reached fails it within milliseconds): the outcome is what --wait waits for.
    return a.has("--wait") && (order.state == "invalid" || order.state == "failed") ? 1 : 0;
}

int runAddresses(Context& ctx)
{
    const auto& inv = ctx.inventory();
    std::vector<client::Address> addresses = inv.addresses;
    sortForDisplay(addresses);
    if (ctx.json) {
        Json::Array out;
        for (const auto& a : addresses)
            out.push_back(toJson(a));
        printJson(Json(std::move(out)));
    } else if (addresses.empty()) {
        printMessage("No addresses.");
    } else {
        printTable(std::cout, addressTable(addresses, NameIndex(inv)));
    }
    return 0;
}

int runStatus(Context& ctx)
{
    const auto status = ctx.bus().getStatus();
    if (ctx.json) {
        printJson(toJson(status));
        return 0;
    }
    std::vector<std::string> related{status.soonestExpiry};
    for (const auto& b : status.addresses)
        if (std::find(related.begin(), related.end(), b.certificate) == related.end())
            related.push_back(b.certificate);
    const NameIndex names = ctx.namesFor(related);
    printFields(std::cout, statusFields(status, names));
    if (!status.addresses.empty()) {
        std::cout << '\n';
        printTable(std::cout, bindingTable(status.addresses, names));
    }
    return 0;
}

int runReload(Context& ctx)
{
    ctx.bus().reload();
    if (ctx.json)
        printJson(Json::object().set("Reloaded", true));
    else
        printMessage("certd applied its configuration file.");
    return 0;
}

const std::vector<Command>& commands()
{
    // clang-format off
    static const std::vector<Command> table{
        {"list", "[--expiring DURATION]", 0, 0, runList,
         "List certificates (the appliance's certificate table).",
         {{"--expiring", "", "DURATION", "only those expiring within DURATION (30d, 2w, 12h), soonest first"}}},
        {"show", "CERT|REQUEST|KEY", 1, 1, runShow,
         "Show every property of a certificate, request (with its PEM) or key.", {}},
        {"create-self-signed",
         "--name NAME (--key-type TYPE | --key KEY) --cn CN [--country C] [--state ST] [--locality L] [--org O] "
         "[--ou OU] [--san SAN]... [--days N]", 0, 0, runCreateSelfSigned,
         "Create a key (or use --key) and a self-signed certificate.",
         withOptions(kSubjectOptions, {{"--days", "", "N", "validity in days (default 365)"}})},
        {"create-request",
         "--name NAME (--key-type TYPE | --key KEY) [--copy-from CERT] [--cn CN] [--country C] [--state ST] "
         "[--locality L] [--org O] [--ou OU] [--san SAN]... [-o FILE]", 0, 0, runCreateRequest,
         "Create a certificate signing request (PKCS#10) to send to a certificate authority.",
         withOptions(kSubjectOptions,
                     {{"--copy-from", "", "CERT", "re-key: a new key (--key-type) with CERT's subject and names"},
                      {"--output", "-o", "FILE", "write the request PEM to FILE instead of standard output"}})},
        {"requests", "", 0, 0, runRequests, "List certificate signing requests.", {}},
        {"keys", "", 0, 0, runKeys, "List the private keys certd holds (their material never leaves certd).", {}},
        {"import", "FILE [--passphrase-file F] [--name NAME]", 1, 1, runImport,
         "Import every certificate and key in FILE (any common format; - for standard input).",
         {{"--passphrase-file", "", "F", "read the passphrase from F (- for standard input or a prompt)"},
          {"--name", "", "NAME", "friendly name for the imported certificates"}}},
        {"assign", "ADDRESS CERT [--force]", 2, 2, runAssign,
         "Bind an appliance address to a certificate (it must have a private key).", {{"--force", "", "", "override pre-flight errors (expired, not yet valid, names not covered)"}}},
        {"replace", "OLD NEW [--force]", 2, 2, runReplace,
         "Move every address of certificate OLD to NEW atomically (renewal).", {{"--force", "", "", "override pre-flight errors (expired, not yet valid, names not covered)"}}},
        {"set-addresses", "CERT [ADDRESS]... [--force]", 1, kMany, runSetAddresses,
         "Bind exactly these addresses to CERT (others it held go back to the factory certificate).", {{"--force", "", "", "override pre-flight errors (expired, not yet valid, names not covered)"}}},
        {"rename", "CERT NAME", 2, 2, runRename, "Change a certificate's friendly name.", {}},
        {"set-chain", "CERT automatic|manual [--pem FILE]", 2, 2, runSetChain,
         "Build the chain from the store (automatic) or serve the issuers in FILE (manual).",
         {{"--pem", "", "FILE", "the issuers in PEM, the certificate's issuer first"}}},
        {"fetch-issuer", "CERT", 1, 1, runFetchIssuer,
         "Download missing issuers from the certificate's Authority Info Access URL.", {}},
        {"check", "CERT [HOST]...", 1, kMany, runCheck,
         "Pre-flight check of a certificate (and whether it covers these host names).", {}},
        {"export",
         "CERT [--format FORMAT] [--key] [--chain] [--no-cert] [--trust-bundle] [--passphrase-file F] -o FILE",
         1, 1, runExport,
         "Export a certificate, its chain and (with --key, if allowed) its private key.",
         {{"--format", "", "FORMAT", "auto (default), der, pem, pkcs7, pkcs8 or pkcs12"},
          {"--key", "", "", "include the private key (needs the key-export right; audited)"},
          {"--chain", "", "", "include the issuers"},
          {"--no-cert", "", "", "leave the certificate itself out"},
          {"--trust-bundle", "", "", "the certificate and its issuers in PEM, never the key"},
          {"--passphrase-file", "", "F", "encrypt with the passphrase in F (- for standard input or a prompt)"},
          {"--output", "-o", "FILE", "where to write (- for standard output); created 0600 when it holds a key"}}},
        {"delete", "CERT|REQUEST|KEY", 1, 1, runDelete, "Delete a certificate, request or key.", {}},
        {"addresses", "", 0, 0, runAddresses, "List the appliance addresses and the certificate each serves.", {}},
        {"reload", "", 0, 0, runReload,
         "Have certd apply its configuration file again (like systemctl reload); waits until it is served.", {}},
        {"acme",
         "order --directory URL --identifier NAME|IP... [OPTIONS] | list | show ORDER | renew ORDER | delete ORDER | "
         "accounts",
         1, 2, runAcme,
         "Certificates from an ACME CA (RFC 8555), renewed automatically; certd-tls answers the challenge.",
         {{"--directory", "", "URL", "order: the ACME server's directory URL (https)"},
          {"--identifier", "", "NAME", "order: a DNS name or IP address to certify; repeatable", true},
          {"--challenge", "", "TYPE", "order: tls-alpn-01 (default, on the address's TLS port) or http-01"},
          {"--key-type", "", "TYPE", "order: type of each certificate's new key (default ec-p256)"},
          {"--key", "", "KEY", "order: use this stored key for every certificate"},
          {"--contact", "", "EMAIL", "order: the account's contact address"},
          {"--ca-bundle", "", "FILE", "order: PEM the ACME server's TLS certificate must chain to (private CAs)"},
          {"--assign", "", "ADDRESS", "order: bind the first certificate to ADDRESS; repeatable", true},
          {"--name", "", "NAME", "order: friendly name of the order and its certificates"},
          {"--renew-percent", "", "N", "order: renew at N % of the lifetime (default 66)"},
          {"--renew-after", "", "DURATION", "order: renew this long after issuance instead (e.g. 30d)"},
          {"--eab-kid", "", "KID", "order: external account binding key id (CAs that require it)"},
          {"--eab-hmac-key-file", "", "F", "order: file with the binding's base64url MAC key"},
          {"--wait", "", "", "order: return once the order is valid, invalid or failed"}}},
        {"status", "", 0, 0, runStatus,
         "Show certd's status: host, version, uptime, terminator, bindings, soonest expiry.", {}},
    };
    // clang-format on
    return table;
}

// ---------------------------------------------------------------- help

void printGlobalHelp(std::ostream& out)
{
    out << "usage: certctl [--json] COMMAND [ARGUMENTS]\n"
           "       certctl COMMAND --help\n\n"
           "Manage the appliance's TLS certificates through certd (org.certd1 on the system bus).\n\n"
           "Commands:\n";
    std::size_t width = 0;
    for (const auto& c : commands())
        width = std::max(width, c.name.size());
    for (const auto& c : commands())
        out << "  " << c.name << std::string(width - c.name.size() + 2, ' ') << c.summary << '\n';
    out << "\nCERT, REQUEST and KEY are named by friendly name, id, a unique id prefix (at least "
        << kMinIdPrefix
        << " characters) or object path.\n"
           "Passphrases are read from files or standard input (--passphrase-file), never from the command "
           "line.\n"
           "Every command takes --json for machine-readable output.\n\n"
           "Exit status: 0 success, 1 certd refused (or a local file failed), 2 usage error, 3 certd "
           "unreachable.\n";
}

void printUsageLine(std::ostream& out, const Command& c)
{
    out << "usage: certctl " << c.name;
    if (!c.synopsis.empty())
        out << ' ' << c.synopsis;
    out << " [--json]\n";
}

void printCommandHelp(std::ostream& out, const Command& c)
{
    printUsageLine(out, c);
    out << '\n' << c.summary << "\n\nOptions:\n";
    std::vector<OptionSpec> all = c.options;
    all.insert(all.end(), kGlobalOptions.begin(), kGlobalOptions.end());
    std::vector<std::string> labels;
    std::size_t width = 0;
    for (const auto& o : all) {
        std::string label(o.name);
        if (!o.shortName.empty())
            label.insert(0, std::string(o.shortName) + ", ");
        if (!o.valueName.empty())
            label += " " + std::string(o.valueName);
        width = std::max(width, label.size());
        labels.push_back(std::move(label));
    }
    for (std::size_t i = 0; i < all.size(); ++i)
        out << "  " << labels[i] << std::string(width - labels[i].size() + 2, ' ') << all[i].help << '\n';
}

const Command* findCommand(std::string_view name)
{
    for (const auto& c : commands())
        if (c.name == name)
            return &c;
    return nullptr;
}

std::string_view shortErrorName(ErrorCode code)
{
    const std::string_view name = errorName(code);
    return name.substr(name.rfind('.') + 1);
}

int run(const std::vector<std::string>& argv)
{
    const Command* command = nullptr;
    try {
        bool json = false;
        std::size_t i = 0;
        for (; i < argv.size() && argv[i].starts_with('-'); ++i) {
            if (argv[i] == "--json") {
                json = true;
            } else if (argv[i] == "--help" || argv[i] == "-h") {
                printGlobalHelp(std::cout);
                return 0;
            } else {
                throw UsageError("unknown option " + argv[i]);
            }
        }
        if (i == argv.size())
            throw UsageError("no command given");
        if (argv[i] == "help") {
            if (i + 1 < argv.size()) {
                command = findCommand(argv[i + 1]);
                if (!command)
                    throw UsageError("unknown command '" + argv[i + 1] + "'");
                printCommandHelp(std::cout, *command);
            } else {
                printGlobalHelp(std::cout);
            }
            return 0;
        }
        command = findCommand(argv[i]);
        if (!command)
            throw UsageError("unknown command '" + argv[i] + "'");

        std::vector<OptionSpec> options = command->options;
        options.insert(options.end(), kGlobalOptions.begin(), kGlobalOptions.end());
        Context ctx;
        ctx.args = parseArguments(std::span(argv).subspan(i + 1), options);
        if (ctx.args.has("--help")) {
            printCommandHelp(std::cout, *command);
            return 0;
        }
        const std::size_t n = ctx.args.positional.size();
        if (n < command->minArgs)
            throw UsageError("missing arguments");
        if (n > command->maxArgs)
            throw UsageError("unexpected argument '" + ctx.args.positional[command->maxArgs] + "'");
        ctx.json = json || ctx.args.has("--json");
        return command->run(ctx);
    } catch (const UsageError& e) {
        std::cerr << "certctl: " << e.what() << '\n';
        if (command) {
            printUsageLine(std::cerr, *command);
            std::cerr << "Run 'certctl " << command->name << " --help' for details.\n";
        } else {
            std::cerr
                << "usage: certctl [--json] COMMAND [ARGUMENTS]\nRun 'certctl --help' for the commands.\n";
        }
        return 2;
    } catch (const client::UnreachableError& e) {
        std::cerr << "certctl: " << sanitize(e.what()) << '\n';
        return 3;
    } catch (const Error& e) {
        std::cerr << "certctl: " << shortErrorName(e.code()) << ": " << sanitize(e.what()) << '\n';
        return 1;
    } catch (const std::exception& e) {
        std::cerr << "certctl: " << sanitize(e.what()) << '\n';
        return 1;
    }
}

} // namespace
} // namespace certd::certctl

int main(int argc, char** argv)
{
    std::ios::sync_with_stdio(false);
    return certd::certctl::run(std::vector<std::string>(argv + 1, argv + argc));
}
