// slow-calls: drives certd's slow calls (issue 12) from several bus connections at once, which
// busctl (one call per process) cannot. Every verdict is about order, never about time.
//
//   slow-calls flood COUNT KEY_TYPE
//       Connection A sends COUNT CreateSelfSigned(KEY_TYPE) without waiting; then connection B
//       sends one CreateSelfSigned(ec-p256) and connection C reads a property. Passes when
//       every one of A's calls either succeeded or got org.certd1.Error.Busy (with a message),
//       at least one was refused Busy and at least one succeeded, and B's creation and C's read
//       were answered before A's last reply (a flood does not starve other callers or reads).
//   slow-calls latency READS [SLOW_CERT_PATH]
//       READS property reads one after another; prints p50/p99/max in milliseconds. With a
//       certificate path: meanwhile a FetchIssuer on it (to a hung server) and a stream of
//       RSA-4096 creations (two in flight, from another connection) keep certd's workers busy.
#include <sdbus-c++/sdbus-c++.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace {

using Warnings = std::vector<sdbus::Struct<std::string, std::string>>;
constexpr auto kTimeout = std::chrono::seconds(600);

// Replies in the order they arrived, from every connection's event loop thread.
struct Journal {
    std::mutex mutex;
    std::condition_variable changed;
    std::vector<std::string> events;
    void add(std::string event)
    {
        {
            const std::lock_guard lock(mutex);
            events.push_back(std::move(event));
        }
        changed.notify_all();
    }
    void waitFor(std::size_t count)
    {
        std::unique_lock lock(mutex);
        changed.wait(lock, [&] { return events.size() >= count; });
    }
};

std::map<std::string, sdbus::Variant> createSpec(const std::string& keyType, const std::string& name)
{
    return {{"key_type", sdbus::Variant(keyType)},
            {"common_name", sdbus::Variant(name + ".example.com")},
            {"friendly_name", sdbus::Variant(name)}};
}

struct Client {
    std::unique_ptr<sdbus::IConnection> connection = sdbus::createSystemBusConnection();
    std::unique_ptr<sdbus::IProxy> manager = sdbus::createProxy(*connection, "org.certd1", "/org/certd1");
    Client() { connection->enterEventLoopAsync(); }
    ~Client() { connection->leaveEventLoop(); }
};

void create(Client& client, Journal& journal, const std::string& who, const std::string& keyType,
            const std::string& name)
{
    client.manager->callMethodAsync("CreateSelfSigned")
        .onInterface("org.certd1.Manager")
        .withArguments(createSpec(keyType, name))
        .withTimeout(kTimeout)
        .uponReplyInvoke(
            [&journal, who](const sdbus::Error* error, const sdbus::ObjectPath&, const Warnings&) {
                if (!error)
                    journal.add(who + " ok");
                else if (error->getName() == "org.certd1.Error.Busy" && !error->getMessage().empty())
                    journal.add(who + " busy " + error->getMessage());
                else
                    journal.add(who + " error " + error->getName() + ": " + error->getMessage());
            });
}

int flood(int count, const std::string& keyType)
{
    Journal journal;
    Client a;
    Client b;
    Client c;
    for (int i = 0; i < count; ++i)
        create(a, journal, "A", keyType, "flood-" + std::to_string(i));
    // A synchronous call on A after the others: certd answers a connection's calls in order,
    // so once it returns, certd has taken (queued or refused) every one of A's creations.
    sdbus::Variant version;
    a.manager->callMethod("Get")
        .onInterface("org.freedesktop.DBus.Properties")
        .withArguments(std::string("org.certd1.Manager"), std::string("Version"))
        .withTimeout(kTimeout)
        .storeResultsTo(version);
    create(b, journal, "B", "ec-p256", "other-caller");
    c.manager->callMethodAsync("Get")
        .onInterface("org.freedesktop.DBus.Properties")
        .withArguments(std::string("org.certd1.Manager"), std::string("Version"))
        .withTimeout(kTimeout)
        .uponReplyInvoke([&journal](const sdbus::Error* error, const sdbus::Variant&) {
            journal.add(error ? "C error " + error->getName() : std::string("C read"));
        });
    journal.waitFor(static_cast<std::size_t>(count) + 2);

    int ok = 0;
    int busy = 0;
    std::size_t lastA = 0;
    std::size_t bAt = 0;
    std::size_t cAt = 0;
    bool failed = false;
    std::string busyMessage;
    for (std::size_t i = 0; i < journal.events.size(); ++i) {
        const std::string& e = journal.events[i];
        if (e.rfind("A ", 0) == 0)
            lastA = i;
        if (e == "A ok")
            ++ok;
        else if (e.rfind("A busy ", 0) == 0) {
            ++busy;
            busyMessage = e.substr(7);
        } else if (e == "B ok")
            bAt = i;
        else if (e == "C read")
            cAt = i;
        else {
            std::fprintf(stderr, "slow-calls: unexpected reply: %s\n", e.c_str());
            failed = true;
        }
    }
    std::printf("flood: %d calls from one connection: %d created, %d refused Busy (\"%s\"); the other "
                "caller's creation was reply %zu and the read reply %zu of %zu, A's last reply %zu\n",
                count, ok, busy, busyMessage.c_str(), bAt + 1, cAt + 1, journal.events.size(), lastA + 1);
    if (failed || ok == 0 || busy == 0 || ok + busy != count || bAt > lastA || cAt > lastA)
        return 1;
    return 0;
}

double percentile(std::vector<double> v, double p)
{
    std::sort(v.begin(), v.end());
    const auto index = static_cast<std::size_t>(std::lround(p * static_cast<double>(v.size() - 1)));
    return v[std::min(index, v.size() - 1)];
}

int latency(int reads, const std::string& slowCert)
{
    std::unique_ptr<Client> fetcher;
    std::unique_ptr<Client> creator;
    Journal journal;
    std::atomic<bool> stop{false};
    std::atomic<int> created{0};
    std::function<void(int)> createNext;
    std::function<void()> fetchNext;
    if (!slowCert.empty()) {
        fetcher = std::make_unique<Client>();
        // A FetchIssuer hangs on the server until its time limit; another follows it at once.
        fetcher->manager = sdbus::createProxy(*fetcher->connection, "org.certd1", slowCert);
        fetchNext = [&] {
            fetcher->manager->callMethodAsync("FetchIssuer")
                .onInterface("org.certd1.Certificate")
                .withTimeout(kTimeout)
                .uponReplyInvoke([&](const sdbus::Error*, const std::vector<sdbus::ObjectPath>&) {
                    journal.add("fetch returned");
                    if (!stop)
                        fetchNext();
                });
        };
        fetchNext();
        creator = std::make_unique<Client>();
        createNext = [&](int n) {
            creator->manager->callMethodAsync("CreateSelfSigned")
                .onInterface("org.certd1.Manager")
                .withArguments(createSpec("rsa4096", "load-" + std::to_string(n)))
                .withTimeout(kTimeout)
                .uponReplyInvoke([&, n](const sdbus::Error*, const sdbus::ObjectPath&, const Warnings&) {
                    ++created;
                    if (!stop)
                        createNext(n + 2);
                });
        };
        createNext(0);
        createNext(1);
    }
    Client reader;
    auto readerProxy = sdbus::createProxy(*reader.connection, "org.certd1", "/org/certd1");
    // Measure only once the slow work is under way: the fetch and both creations in progress.
    while (!slowCert.empty()) {
        std::map<std::string, sdbus::Variant> status;
        readerProxy->callMethod("GetStatus").onInterface("org.certd1.Manager").storeResultsTo(status);
        if (status.at("PendingSlowCalls").get<std::uint32_t>() >= 3)
            break;
    }
    std::vector<double> ms;
    ms.reserve(static_cast<std::size_t>(reads));
    for (int i = 0; i < reads; ++i) {
        const auto start = std::chrono::steady_clock::now();
        sdbus::Variant v;
        readerProxy->callMethod("Get")
            .onInterface("org.freedesktop.DBus.Properties")
            .withArguments(std::string("org.certd1.Manager"), std::string("TerminatorState"))
            .withTimeout(kTimeout)
            .storeResultsTo(v);
        ms.push_back(
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
    }
    stop = true;
    std::printf("reads=%d p50_ms=%.3f p99_ms=%.3f max_ms=%.3f", reads, percentile(ms, 0.50),
                percentile(ms, 0.99), percentile(ms, 1.0));
    if (!slowCert.empty()) {
        std::printf(" rsa4096_created_meanwhile=%d fetch_timeouts_meanwhile=%zu", created.load(),
                    journal.events.size());
    }
    std::printf("\n");
    std::fflush(stdout);
    // The fetch and the creations still in flight are left to certd; exit without waiting.
    std::_Exit(0);
}

} // namespace

int main(int argc, char** argv)
{
    try {
        const std::string mode = argc > 1 ? argv[1] : "";
        if (mode == "flood" && argc == 4)
            return flood(std::atoi(argv[2]), argv[3]);
        if (mode == "latency" && (argc == 3 || argc == 4))
            return latency(std::atoi(argv[2]), argc == 4 ? argv[3] : "");
        std::fprintf(stderr, "usage: slow-calls flood COUNT KEY_TYPE | latency READS [SLOW_CERT_PATH]\n");
        return 2;
    } catch (const sdbus::Error& e) {
        std::fprintf(stderr, "slow-calls: %s: %s\n", e.getName().c_str(), e.getMessage().c_str());
        return 1;
    }
}
