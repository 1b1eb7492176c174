// Bus load (issue 6): a real certd on a private bus, THREADS client threads, each
// with its own bus connection (one certd::client::Client), together making CALLS
// mixed calls: reads (GetManagedObjects, GetAll, property Get, GetStatus, Check,
// Export) and mutations (CreateSelfSigned, Import, Assign, ReplaceCertificate,
// SetFriendlyName, CreateRequest, Delete of what the thread made). Every outcome is
// known in advance: any error is a failure, except Delete of the factory
// certificate, which must be refused with InUse and is counted as a refusal.
//
// Prints p50/p99/max latency per call type and overall, throughput, certd's RSS at
// every tenth of the calls and after the clean-up, and the stored objects before
// and after. Fails (exit 1) on any unexpected error or answer, when the objects at
// the end differ from those before the load, when certd does not stop cleanly, or
// when the end RSS exceeds the RSS after warm-up (20 %) x 1.25 + 4 MiB (not under ASan,
// whose quarantine grows RSS by design).
//
// Usage: bus-load [--threads N] [--calls N] [--time-limit SECONDS] [--seed N]
// Defaults: BUS_LOAD_THREADS (50), BUS_LOAD_CALLS (10000), BUS_LOAD_TIME_LIMIT (480).
// The time limit only bounds the run (the calls stop, the clean-up still runs); it
// is reported, never asserted. certd and certd-tls come from CERTD (see certd_fixture).

#include "certd_fixture.hpp"
#include "client.hpp"

#include <sdbus-c++/sdbus-c++.h>

#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <latch>
#include <mutex>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

using namespace certd;
using Clock = std::chrono::steady_clock;

namespace {

// ---- Options

struct Options {
    int threads = 50;
    int calls = 10000;
    int timeLimitSeconds = 480;
    unsigned seed = 1;
};

int envInt(const char* name, int fallback)
{
    const char* v = std::getenv(name);
    return v && *v ? std::stoi(v) : fallback;
}

Options parseOptions(int argc, char** argv)
{
    Options o;
    o.threads = envInt("BUS_LOAD_THREADS", o.threads);
    o.calls = envInt("BUS_LOAD_CALLS", o.calls);
    o.timeLimitSeconds = envInt("BUS_LOAD_TIME_LIMIT", o.timeLimitSeconds);
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string arg = argv[i];
        const int value = std::stoi(argv[i + 1]);
        if (arg == "--threads")
            o.threads = value;
        else if (arg == "--calls")
            o.calls = value;
        else if (arg == "--time-limit")
            o.timeLimitSeconds = value;
        else if (arg == "--seed")
            o.seed = static_cast<unsigned>(value);
        else
            throw std::runtime_error("unknown option " + arg);
    }
    if (argc % 2 == 0)
        throw std::runtime_error(
            "usage: bus-load [--threads N] [--calls N] [--time-limit SECONDS] [--seed N]");
    if (o.threads < 1 || o.calls < o.threads * 5)
        throw std::runtime_error("need at least one thread and five calls per thread");
    return o;
}

// ---- Call types, in report order

enum class Call {
    GetManagedObjects,
    GetAllCertificate,
    GetAllKey,
    GetAllAddress,
    GetProperty,
    GetStatus,
    Check,
    Export,
    ExportWithKey,
    CreateSelfSigned,
    Import,
    SetFriendlyName,
    Assign,
    AddressAssign,
    ReplaceCertificate,
    DeleteCertificate,
    CreateRequest,
    DeleteRequest,
    DeleteFactoryRefused,
    Count
};
constexpr std::size_t kCallTypes = static_cast<std::size_t>(Call::Count);
constexpr std::array<const char*, kCallTypes> kCallNames{
    "GetManagedObjects",
    "GetAll Certificate",
    "GetAll Key",
    "GetAll Address",
    "Get (property)",
    "GetStatus",
    "Check",
    "Export",
    "Export with key",
    "CreateSelfSigned",
    "Import",
    "SetFriendlyName",
    "Manager.Assign",
    "Address.Assign",
    "ReplaceCertificate",
    "Certificate.Delete",
    "CreateRequest",
    "Request.Delete",
    "Delete factory (InUse)",
};
// Mutations, including the refused Delete of the factory certificate.
constexpr bool isMutation(Call c)
{
    return c >= Call::CreateSelfSigned;
}

// ---- certd's memory

// The pid of a bus name's owner ("org.freedesktop.DBus": the bus daemon itself).
std::uint32_t ownerPid(const std::string& name)
{
    auto connection = sdbus::createSystemBusConnection();
    auto proxy = sdbus::createProxy(*connection, "org.freedesktop.DBus", "/org/freedesktop/DBus");
    std::uint32_t pid = 0;
    proxy->callMethod("GetConnectionUnixProcessID")
        .onInterface("org.freedesktop.DBus")
        .withArguments(name)
        .storeResultsTo(pid);
    return pid;
}

// A "Vm…:   1234 kB" line of /proc/PID/status, in KiB (0 if absent).
long statusKiB(std::uint32_t pid, const std::string& field)
{
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind(field + ":", 0) == 0)
            return std::strtol(line.c_str() + field.size() + 1, nullptr, 10);
    return 0;
}

// User + system CPU seconds of a process so far.
double cpuSeconds(std::uint32_t pid)
{
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto close = stat.rfind(')'); // the command name may hold spaces
    if (close == std::string::npos)
        return 0;
    std::istringstream fields(stat.substr(close + 2));
    std::string field;
    unsigned long long utime = 0, stime = 0;
    for (int i = 3; i <= 15 && fields >> field; ++i) {
        if (i == 14)
            utime = std::stoull(field);
        if (i == 15)
            stime = std::stoull(field);
    }
    return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// Seconds all threads of a process spent runnable but waiting for a CPU
// (/proc/PID/task/*/schedstat, second field): how much the machine's other load
// delayed it.
double runQueueSeconds(std::uint32_t pid)
{
    double total = 0;
    std::error_code ec;
    for (const auto& task :
         std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
        std::ifstream in(task.path() / "schedstat");
        unsigned long long running = 0, waiting = 0;
        if (in >> running >> waiting)
            total += static_cast<double>(waiting) / 1e9;
    }
    return total;
}

// Whether the process runs under AddressSanitizer, whose quarantine keeps freed
// memory (256 MiB by default) and so makes RSS grow with the churn.
bool underAsan(std::uint32_t pid)
{
    std::ifstream in("/proc/" + std::to_string(pid) + "/maps");
    std::string line;
    while (std::getline(in, line))
        if (line.find("libasan") != std::string::npos)
            return true;
    return false;
}

std::string mib(long kib)
{
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f", static_cast<double>(kib) / 1024.0);
    return buf;
}

std::string loadAverage()
{
    std::ifstream in("/proc/loadavg");
    std::string one, five, fifteen;
    in >> one >> five >> fifteen;
    return one + " " + five + " " + fifteen;
}

// ---- Shared state of the run

struct Shared {
    Options options;
    std::string factory;
    std::vector<std::string> addresses;    // configured address text
    std::vector<std::string> addressPaths; // their objects
    std::array<std::string, 2> certs;      // assignable, never deleted
    std::array<std::string, 2> keys;       // their keys
    std::vector<std::uint8_t> certDer;     // Export of certs[0], for comparison
    std::string version;
    std::uint32_t pid = 0;
    Clock::time_point deadline;

    std::atomic<int> done{0};
    std::atomic<bool> timedOut{false};
    int milestone = 1;
    std::mutex mutex;                      // guards what follows
    std::vector<std::pair<int, long>> rss; // (calls done, VmRSS KiB)
    std::vector<std::string> failures;
    int failureCount = 0;

    void fail(const std::string& what)
    {
        std::lock_guard lock(mutex);
        ++failureCount;
        if (failures.size() < 20)
            failures.push_back(what);
    }
    // Counts one finished call; samples certd's RSS at every tenth of the run.
    void counted()
    {
        const int n = ++done;
        if (n % milestone == 0) {
            const long kib = statusKiB(pid, "VmRSS");
            std::lock_guard lock(mutex);
            rss.emplace_back(n, kib);
        }
    }
};

// ---- One client thread

class Worker {
public:
    Worker(Shared& shared, int index)
        : s_(shared), index_(index), rng_(shared.options.seed * 7919u + static_cast<unsigned>(index))
    {
        const int base = s_.options.calls / s_.options.threads;
        quota_ = base + (index < s_.options.calls % s_.options.threads ? 1 : 0);
    }

    void connect() { client_.emplace(); }

    void run()
    {
        // A step makes at most two calls; the clean-up at most three (ReplaceCertificate,
        // Certificate.Delete, Request.Delete). Reads fill the rest of the quota.
        while (calls_ < quota_ - 4 && ok_ && !expired())
            step();
        cleanUp();
        while (calls_ < quota_ && ok_ && !expired())
            read();
    }

    const std::vector<std::vector<double>>& latencies() const { return ms_; }
    int refusals() const { return refusals_; }

private:
    bool expired()
    {
        if (Clock::now() < s_.deadline)
            return false;
        s_.timedOut = true;
        return true;
    }

    // Runs one call; its latency is recorded when it answered as expected.
    void timed(Call type, const std::function<void()>& body)
    {
        if (!ok_)
            return;
        const auto t0 = Clock::now();
        try {
            body();
            ms_[static_cast<std::size_t>(type)].push_back(
                std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
        } catch (const std::exception& e) {
            ok_ = false;
            s_.fail("thread " + std::to_string(index_) + ": " + kCallNames[static_cast<std::size_t>(type)] +
                    ": " + e.what());
        }
        ++calls_;
        s_.counted();
    }

    void expect(bool condition, const std::string& what)
    {
        if (!condition)
            throw std::runtime_error("unexpected answer: " + what);
    }

    template <typename T>
    const T& pick(const std::vector<T>& v)
    {
        return v[std::uniform_int_distribution<std::size_t>(0, v.size() - 1)(rng_)];
    }
    const std::string& sharedCert() { return s_.certs[rng_() % 2]; }

    client::CertificateSpec spec(const std::string& what)
    {
        client::CertificateSpec sp;
        const std::string name = "t" + std::to_string(index_) + "-" + std::to_string(++serial_);
        sp.friendlyName = "load " + what + " " + name;
        sp.keyType = "ec-p256";
        sp.commonName = name + ".load.example.com";
        sp.subjectAltNames = {"DNS:" + name + ".load.example.com", "DNS:load.example.com"};
        return sp;
    }

    // ---- Reads: valid in every state.
    void read()
    {
        static constexpr std::array<std::pair<Call, int>, 8> kReads{{
            {Call::GetManagedObjects, 6},
            {Call::GetAllCertificate, 10},
            {Call::GetAllKey, 3},
            {Call::GetAllAddress, 3},
            {Call::GetProperty, 8},
            {Call::GetStatus, 5},
            {Call::Check, 8},
            {Call::Export, 4},
        }};
        int total = 0;
        for (const auto& [c, w] : kReads)
            total += w;
        int r = std::uniform_int_distribution<int>(0, total - 1)(rng_);
        for (const auto& [c, w] : kReads) {
            if (r < w) {
                doRead(c);
                return;
            }
            r -= w;
        }
    }

    void doRead(Call type)
    {
        auto& c = *client_;
        switch (type) {
        case Call::GetManagedObjects:
            timed(type, [&] {
                const auto inv = c.list();
                expect(inv.addresses.size() == s_.addresses.size(), "GetManagedObjects: address count");
                for (const auto& shared : s_.certs)
                    expect(std::any_of(inv.certificates.begin(), inv.certificates.end(),
                                       [&](const auto& x) { return x.path == shared; }),
                           "GetManagedObjects: a shared certificate is missing");
                if (cert_)
                    expect(std::any_of(inv.certificates.begin(), inv.certificates.end(),
                                       [&](const auto& x) { return x.path == *cert_; }),
                           "GetManagedObjects: this thread's certificate is missing");
            });
            break;
        case Call::GetAllCertificate:
            if (cert_ && rng_() % 2)
                timed(type, [&] {
                    expect(c.certificate(*cert_).friendlyName == name_,
                           "GetAll: FriendlyName of own certificate");
                });
            else
                timed(type,
                      [&] { expect(c.certificate(sharedCert()).hasPrivateKey, "GetAll: HasPrivateKey"); });
            break;
        case Call::GetAllKey:
            timed(type,
                  [&] { expect(c.key(s_.keys[rng_() % 2]).algorithm == "EC", "GetAll Key: Algorithm"); });
            break;
        case Call::GetAllAddress:
            timed(type, [&] {
                const auto i = rng_() % s_.addresses.size();
                expect(c.address(s_.addressPaths[i]).address == s_.addresses[i], "GetAll Address: Address");
            });
            break;
        case Call::GetProperty:
            switch (rng_() % 3) {
            case 0:
                timed(type, [&] { expect(c.version() == s_.version, "Get Version"); });
                break;
            case 1:
                timed(type, [&] { expect(c.factoryCertificate() == s_.factory, "Get FactoryCertificate"); });
                break;
            default:
                timed(type, [&] { expect(!c.terminatorState().empty(), "Get TerminatorState"); });
            }
            break;
        case Call::GetStatus:
            timed(type, [&] {
                const auto st = c.getStatus();
                expect(st.addresses.size() == s_.addresses.size() && st.version == s_.version, "GetStatus");
            });
            break;
        case Call::Check:
            // A covered name gives no hostname error; a foreign one does.
            if (rng_() % 2)
                timed(type, [&] {
                    const auto host = "h" + std::to_string(index_) + ".load.example.com";
                    for (const auto& f : c.check(sharedCert(), {host, "load.example.com"}))
                        expect(f.code != "hostname-not-covered", "Check: covered name reported");
                });
            else
                timed(type, [&] {
                    const auto findings = c.check(sharedCert(), {"other.example.org"});
                    expect(std::any_of(findings.begin(), findings.end(),
                                       [](const auto& f) {
                                           return f.severity == "error" && f.code == "hostname-not-covered";
                                       }),
                           "Check: foreign name not reported");
                });
            break;
        case Call::Export:
            timed(type,
                  [&] { expect(c.exportCertificate(s_.certs[0], {}) == s_.certDer, "Export: DER differs"); });
            break;
        default:
            break;
        }
    }

    // ---- One step: a read or a mutation valid in the thread's state.
    void step()
    {
        auto& c = *client_;
        struct Choice {
            Call call;
            int weight;
            bool valid;
        };
        const bool haveCert = cert_.has_value();
        const std::array<Choice, 11> choices{{
            {Call::GetManagedObjects, 35, true}, // stands for all reads: about 60 % of the calls
            {Call::CreateSelfSigned, 6, !haveCert && !pem_},
            {Call::Import, 6, !haveCert && pem_.has_value()},
            {Call::ExportWithKey, 3, haveCert && !pem_},
            {Call::SetFriendlyName, 5, haveCert},
            {Call::Assign, 5, true},
            {Call::ReplaceCertificate, 3, haveCert},
            {Call::DeleteCertificate, 5, haveCert},
            {Call::CreateRequest, 3, !request_},
            {Call::DeleteRequest, 3, request_.has_value()},
            {Call::DeleteFactoryRefused, 1, true},
        }};
        int total = 0;
        for (const auto& ch : choices)
            total += ch.valid ? ch.weight : 0;
        int r = std::uniform_int_distribution<int>(0, total - 1)(rng_);
        Call chosen = Call::GetManagedObjects;
        for (const auto& ch : choices) {
            if (!ch.valid)
                continue;
            if (r < ch.weight) {
                chosen = ch.call;
                break;
            }
            r -= ch.weight;
        }

        switch (chosen) {
        case Call::GetManagedObjects:
            read();
            break;
        case Call::CreateSelfSigned: {
            const auto sp = spec("cert");
            timed(chosen, [&] {
                const auto created = c.createSelfSigned(sp);
                expect(created.path.rfind(client::kCertificatePathPrefix, 0) == 0, "CreateSelfSigned: path");
                cert_ = created.path;
                name_ = *sp.friendlyName;
            });
            break;
        }
        case Call::Import:
            timed(chosen, [&] {
                client::ImportOptions io;
                io.friendlyName = pemName_;
                const auto imported = c.importData(*pem_, "", io);
                // Content-addressed: the certificate comes back under the id it had.
                expect(std::find(imported.objects.begin(), imported.objects.end(), pemCert_) !=
                           imported.objects.end(),
                       "Import: the certificate's id changed");
                cert_ = pemCert_;
                name_ = pemName_;
                pem_.reset();
            });
            break;
        case Call::ExportWithKey:
            timed(chosen, [&] {
                client::ExportOptions o;
                o.format = "pem";
                o.includePrivateKey = true;
                auto data = c.exportCertificate(*cert_, o);
                const std::string text(data.begin(), data.end());
                expect(text.find("BEGIN CERTIFICATE") != std::string::npos &&
                           text.find("BEGIN PRIVATE KEY") != std::string::npos,
                       "Export with key: not certificate + key PEM");
                pem_ = std::move(data);
                pemCert_ = *cert_;
                pemName_ = name_;
            });
            break;
        case Call::SetFriendlyName: {
            const std::string name =
                "load renamed t" + std::to_string(index_) + "-" + std::to_string(++serial_);
            timed(chosen, [&] {
                c.setFriendlyName(*cert_, name);
                name_ = name;
                if (pem_)
                    pemName_ = name;
            });
            break;
        }
        case Call::Assign: {
            // Own certificate when there is one, else a shared one; Manager or Address object.
            const std::string target = haveCert && rng_() % 3 ? *cert_ : sharedCert();
            const auto i = rng_() % s_.addresses.size();
            if (rng_() % 2)
                timed(Call::Assign, [&] { c.assign(s_.addresses[i], target); });
            else
                timed(Call::AddressAssign, [&] { c.assignAddress(s_.addressPaths[i], target); });
            break;
        }
        case Call::ReplaceCertificate:
            replaceOwn();
            break;
        case Call::DeleteCertificate:
            // Another thread may have moved the addresses away, or not: move whatever
            // this certificate still serves first, so Delete is never refused.
            replaceOwn();
            deleteOwn();
            break;
        case Call::CreateRequest: {
            const auto sp = spec("request");
            timed(chosen, [&] {
                const auto created = c.createRequest(sp);
                expect(created.path.rfind(client::kRequestPathPrefix, 0) == 0, "CreateRequest: path");
                request_ = created.path;
            });
            break;
        }
        case Call::DeleteRequest:
            timed(chosen, [&] {
                c.deleteRequest(*request_);
                request_.reset();
            });
            break;
        case Call::DeleteFactoryRefused:
            timed(chosen, [&] {
                try {
                    c.deleteCertificate(s_.factory);
                } catch (const Error& e) {
                    expect(e.code() == ErrorCode::InUse, std::string("Delete factory: ") + e.what());
                    ++refusals_;
                    return;
                }
                expect(false, "Delete of the factory certificate succeeded");
            });
            break;
        default:
            break;
        }
    }

    void replaceOwn()
    {
        timed(Call::ReplaceCertificate, [&] {
            for (const auto& a : client_->replaceCertificate(*cert_, sharedCert()))
                expect(std::find(s_.addresses.begin(), s_.addresses.end(), a) != s_.addresses.end(),
                       "ReplaceCertificate: moved an unknown address");
        });
    }

    void deleteOwn()
    {
        timed(Call::DeleteCertificate, [&] {
            client_->deleteCertificate(*cert_);
            cert_.reset();
        });
    }

    void cleanUp()
    {
        if (!ok_)
            return; // the state is unknown; the object count at the end reports it
        if (cert_) {
            replaceOwn();
            deleteOwn();
        }
        if (request_)
            timed(Call::DeleteRequest, [&] {
                client_->deleteRequest(*request_);
                request_.reset();
            });
    }

    Shared& s_;
    int index_;
    std::mt19937 rng_;
    std::optional<client::Client> client_;
    int quota_ = 0;
    int calls_ = 0;
    int serial_ = 0;
    int refusals_ = 0;
    bool ok_ = true;
    std::optional<std::string> cert_; // this thread's certificate
    std::string name_;                // its FriendlyName as last set
    std::optional<std::string> request_;
    std::optional<std::vector<std::uint8_t>> pem_; // exported certificate + key, deleted since
    std::string pemCert_;
    std::string pemName_;
    std::vector<std::vector<double>> ms_ = std::vector<std::vector<double>>(kCallTypes);
};

// ---- Report

struct Counts {
    std::size_t certificates = 0, keys = 0, requests = 0, addresses = 0;
    bool operator==(const Counts&) const = default;
};

Counts countObjects(client::Client& c)
{
    const auto inv = c.list();
    return {inv.certificates.size(), inv.keys.size(), inv.requests.size(), inv.addresses.size()};
}

std::string describe(const Counts& n)
{
    return std::to_string(n.certificates) + " certificates, " + std::to_string(n.keys) + " keys, " +
           std::to_string(n.requests) + " requests, " + std::to_string(n.addresses) + " addresses";
}

// Nearest-rank percentile of sorted values.
double percentile(const std::vector<double>& sorted, double q)
{
    const auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(sorted.size())));
    return sorted[std::clamp<std::size_t>(rank, 1, sorted.size()) - 1];
}

void printRow(const char* name, std::vector<double> v)
{
    if (v.empty())
        return;
    std::sort(v.begin(), v.end());
    std::printf("  %-24s %6zu %9.2f %9.2f %9.2f\n", name, v.size(), percentile(v, 0.5), percentile(v, 0.99),
                v.back());
}

int run(const Options& options)
{
    test::PrivateBus bus;
    test::CertdProcess certd(bus);
    certd.start();

    Shared s;
    s.options = options;
    s.pid = ownerPid(client::kBusName);
    const std::uint32_t busPid = ownerPid("org.freedesktop.DBus");
    s.milestone = std::max(1, options.calls / 10);

    // The working set every thread shares: two assignable certificates covering
    // load.example.com and its subdomains (each thread's certificates can be
    // replaced by them), bound to the configured addresses.
    client::Client setup;
    s.version = setup.version();
    s.factory = setup.factoryCertificate();
    for (const auto& a : setup.getStatus().addresses)
        s.addresses.push_back(a.address);
    const auto inventory = setup.list();
    for (const auto& text : s.addresses)
        for (const auto& a : inventory.addresses)
            if (a.address == text)
                s.addressPaths.push_back(a.path);
    if (s.addresses.empty() || s.addressPaths.size() != s.addresses.size())
        throw std::runtime_error("certd reports no usable addresses");
    for (std::size_t i = 0; i < 2; ++i) {
        client::CertificateSpec sp;
        sp.friendlyName = "load shared " + std::to_string(i);
        sp.keyType = "ec-p256";
        sp.commonName = "load.example.com";
        sp.subjectAltNames = {"DNS:load.example.com", "DNS:*.load.example.com"};
        s.certs[i] = setup.createSelfSigned(sp).path;
        s.keys[i] = setup.certificate(s.certs[i]).key;
    }
    s.certDer = setup.exportCertificate(s.certs[0], {});
    for (std::size_t i = 0; i < s.addresses.size(); ++i)
        setup.assign(s.addresses[i], s.certs[i % 2]);
    const Counts before = countObjects(setup);
    const long rssStart = statusKiB(s.pid, "VmRSS");

    std::vector<std::unique_ptr<Worker>> workers;
    workers.reserve(static_cast<std::size_t>(options.threads));
    for (int i = 0; i < options.threads; ++i)
        workers.push_back(std::make_unique<Worker>(s, i));
    std::latch connected(options.threads);
    std::latch go(1);
    std::vector<std::thread> threads;
    threads.reserve(workers.size());
    for (auto& w : workers)
        threads.emplace_back([&, worker = w.get()] {
            bool ok = true;
            try {
                worker->connect();
            } catch (const std::exception& e) {
                ok = false;
                s.fail(std::string("connect: ") + e.what());
            }
            connected.count_down();
            go.wait();
            if (ok)
                worker->run();
        });
    connected.wait();
    const auto t0 = Clock::now();
    const auto wall0 = std::chrono::system_clock::now();
    s.deadline = t0 + std::chrono::seconds(options.timeLimitSeconds);
    const double certdCpu0 = cpuSeconds(s.pid), busCpu0 = cpuSeconds(busPid);
    const double certdWait0 = runQueueSeconds(s.pid);
    go.count_down();
    for (auto& t : threads)
        t.join();
    const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    const auto wall1 = std::chrono::system_clock::now();

    const double certdCpu = cpuSeconds(s.pid) - certdCpu0, busCpu = cpuSeconds(busPid) - busCpu0;
    const double certdWait = runQueueSeconds(s.pid) - certdWait0;
    const Counts after = countObjects(setup);
    const long rssEnd = statusKiB(s.pid, "VmRSS");
    const long rssPeak = statusKiB(s.pid, "VmHWM");

    // ---- Figures
    std::vector<std::vector<double>> byType(kCallTypes);
    int refusals = 0;
    for (const auto& w : workers) {
        for (std::size_t t = 0; t < kCallTypes; ++t)
            byType[t].insert(byType[t].end(), w->latencies()[t].begin(), w->latencies()[t].end());
        refusals += w->refusals();
    }
    std::vector<double> all, reads, mutations;
    for (std::size_t t = 0; t < kCallTypes; ++t) {
        all.insert(all.end(), byType[t].begin(), byType[t].end());
        auto& group = isMutation(static_cast<Call>(t)) ? mutations : reads;
        group.insert(group.end(), byType[t].begin(), byType[t].end());
    }
    const int done = s.done.load();
    std::printf("bus-load: %d threads (one bus connection each), %d of %d calls in %.1f s: %.0f calls/s; "
                "%d unexpected errors; %d expected refusals (Delete of the factory certificate: InUse)%s\n",
                options.threads, done, options.calls, seconds, static_cast<double>(done) / seconds,
                s.failureCount, refusals, s.timedOut ? "; STOPPED BY THE TIME LIMIT" : "");
    std::printf("  %-24s %6s %9s %9s %9s\n", "call (latency in ms)", "calls", "p50", "p99", "max");
    for (std::size_t t = 0; t < kCallTypes; ++t)
        printRow(kCallNames[t], byType[t]);
    printRow("reads", reads);
    printRow("mutations", mutations);
    printRow("all", all);
    // For bench/bus-load.sh MODE=fsync: strace -ttt timestamps of certd's fsyncs inside this
    // window, per mutation that succeeded (each reply means durable).
    const auto epoch = [](std::chrono::system_clock::time_point t) {
        return std::chrono::duration<double>(t.time_since_epoch()).count();
    };
    std::printf("load window (epoch s): %.6f %.6f; mutations acknowledged: %zu\n", epoch(wall0), epoch(wall1),
                mutations.size() - static_cast<std::size_t>(refusals));

    std::printf(
        "CPU during the load: certd %.1f s (%.2f ms per call, %.0f %% of one core) and %.1f s runnable "
        "but waiting for a CPU; dbus-daemon %.1f s; load average at the end %s\n",
        certdCpu, 1000.0 * certdCpu / std::max(1, done), 100.0 * certdCpu / seconds, certdWait, busCpu,
        loadAverage().c_str());

    long rssWarm = 0;
    std::string profile;
    std::sort(s.rss.begin(), s.rss.end());
    for (const auto& [n, kib] : s.rss) {
        if (rssWarm == 0 && n * 5 >= options.calls)
            rssWarm = kib;
        profile += (profile.empty() ? "" : " ") + mib(kib);
    }
    if (rssWarm == 0)
        rssWarm = rssStart;
    std::printf("certd RSS (MiB): before load %s; at each tenth of the calls: %s; warm-up (20 %%) %s; "
                "end %s; peak (VmHWM) %s\n",
                mib(rssStart).c_str(), profile.c_str(), mib(rssWarm).c_str(), mib(rssEnd).c_str(),
                mib(rssPeak).c_str());
    std::printf("objects: before the load %s; after %s\n", describe(before).c_str(), describe(after).c_str());

    bool ok = s.failureCount == 0;
    for (const auto& f : s.failures)
        std::printf("FAIL %s\n", f.c_str());
    if (s.failureCount > static_cast<int>(s.failures.size()))
        std::printf("FAIL … and %zu more\n", static_cast<std::size_t>(s.failureCount) - s.failures.size());
    if (!(after == before)) {
        std::printf("FAIL the stored objects changed: the threads deleted less than they made\n");
        ok = false;
    }
    const long limit = rssWarm + rssWarm / 4 + 4L * 1024;
    if (underAsan(s.pid)) {
        std::printf("certd runs under ASan: its quarantine grows RSS with the churn; RSS not checked\n");
    } else if (rssEnd > limit) {
        std::printf("FAIL certd RSS grew after warm-up: end %s MiB > warm-up %s MiB x 1.25 + 4 MiB\n",
                    mib(rssEnd).c_str(), mib(rssWarm).c_str());
        ok = false;
    }
    try {
        certd.stop(); // a clean exit (and, under ASan, no leak report)
    } catch (const std::exception& e) {
        std::printf("FAIL certd did not stop cleanly: %s\n%s\n", e.what(), certd.log().c_str());
        ok = false;
    }
    if (!ok && s.failureCount > 0) {
        const auto log = certd.log();
        std::printf("certd log (last 4000 bytes):\n%s\n",
                    log.substr(log.size() > 4000 ? log.size() - 4000 : 0).c_str());
    }
    std::printf("bus-load: %s\n", ok ? "PASS" : "FAIL");
    return ok ? 0 : 1;
}

} // namespace

int main(int argc, char** argv)
{
    try {
        return run(parseOptions(argc, argv));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bus-load: %s\n", e.what());
        return 1;
    }
}
