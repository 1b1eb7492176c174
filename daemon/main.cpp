// certd: wires the configuration, store, manager, bus service and event loop together.

#include "acme/service.hpp"
#include "address_monitor.hpp"
#include "bus/service.hpp"
#include "change_flow.hpp"
#include "config.hpp"
#include "error.hpp"
#include "event_loop.hpp"
#include "expiry_watch.hpp"
#include "log.hpp"
#include "manager/manager.hpp"
#include "pki/ossl.hpp"
#include "reload.hpp"
#include "store/store.hpp"
#include "terminator/link.hpp"
#include "terminator/supervisor.hpp"

#include <sdbus-c++/sdbus-c++.h>
#include <systemd/sd-daemon.h>

#include <csignal>
#include <malloc.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#ifndef CERTD_VERSION
#define CERTD_VERSION "0.0.0"
#endif

namespace {

void usage(std::FILE* out)
{
    std::fputs("usage: certd [--config PATH] [--terminator-socket PATH] [--terminator-holds-keys]\n"
               "  Manages the appliance's TLS certificates; serves org.certd1 on the system bus\n"
               "  (DBUS_SYSTEM_BUS_ADDRESS redirects it).\n"
               "  --config PATH   configuration file (default /etc/certd/certd.yaml)\n"
               "  --terminator-socket PATH\n"
               "                  connect to certd-tls.service there (certd-tls.socket) instead of\n"
               "                  spawning it; certd still binds the listeners and sends them\n"
               "  --terminator-holds-keys\n"
               "                  give certd-tls the private keys instead of signing for it: only\n"
               "                  the baseline of bench/key-custody.sh, never for production\n"
               "  --version       print the version\n",
               out);
}

// Keys must never land in a core dump or in swap: no dumps at all, no ptrace by our own uid,
// and the keys in OpenSSL's locked, MADV_DONTDUMP secure heap. The signer keeps every served
// key loaded (certd-tls holds none), and a full heap makes OpenSSL refuse to load more: 16 MiB
// holds about 9,000 RSA-4096 keys (2,339 per 4 MiB, measured), more of smaller types. The arena
// is a power of two; take the largest RLIMIT_MEMLOCK lets us lock (2 MiB at least).
void protectMemory()
{
    ::prctl(PR_SET_DUMPABLE, 0);
    rlimit none{0, 0};
    ::setrlimit(RLIMIT_CORE, &none);
    std::size_t heapBytes = 16U << 20;
    rlimit memlock{};
    if (::getrlimit(RLIMIT_MEMLOCK, &memlock) == 0 && memlock.rlim_cur != RLIM_INFINITY)
        while (heapBytes > (2U << 20) && heapBytes > memlock.rlim_cur)
            heapBytes /= 2;
    const auto heap = certd::initSecureHeap(heapBytes);
    certd::log::info("secure heap of " + std::to_string(heapBytes >> 20) + " MiB for private keys");
    if (heap == certd::SecureHeap::Unavailable)
        certd::log::warning("no secure heap; private keys are loaded into ordinary memory");
    else if (heap == certd::SecureHeap::NotLocked)
        certd::log::warning("secure heap not locked in memory (RLIMIT_MEMLOCK too low)");
}

// Hands freed heap pages back to the kernel once there are many (malloc_trim walks the free
// chunks of every arena: cheap next to the mutation that freed them).
void releaseFreedMemory()
{
    constexpr std::size_t kKeepFree = 4U << 20;
    if (mallinfo2().fordblks > kKeepFree)
        malloc_trim(0);
}

int run(const std::filesystem::path& configPath, const std::filesystem::path& terminatorSocket,
        bool terminatorHoldsKeys)
{
    using namespace certd;
    // Before anything opens a descriptor: the rest of systemd's LISTEN_FDS range is closed.
    auto keptSockets = terminator::storedListeningSockets();
    const Config config = loadConfig(configPath);
    protectMemory();

    // Keys sealed at rest when systemd passes the credential certd-kek (store/key_seal.hpp).
    std::optional<KeySeal> seal;
    if (auto credential = loadKeyEncryptionCredential())
        seal.emplace(*credential);
    const bool sealed = seal.has_value();
    Store store(config.stateDirectory, std::move(seal));
    if (sealed)
        log::info("store: private keys sealed at rest (credential " + std::string(kKeyEncryptionCredential) +
                  ")");
    for (const auto& line : store.loadReport())
        log::notice("store: " + line);

    ManagerOptions options;
    options.factorySpec = config.factoryCertificate;
    options.factoryKeyType = config.factoryCertificate.keyType.value_or(pki::KeyType::Rsa2048);
    options.expiringWithinDays = expiringSoonDays(config);
    options.configuredAddresses = config.addresses;
    // Bus mutations that arrive together share one flush (ChangeFlow). CERTD_GROUP_COMMIT=0 makes
    // each commit on its own, as before: the baseline of bench/bus-load.sh.
    const char* groupCommit = std::getenv("CERTD_GROUP_COMMIT");
    options.groupCommit = !(groupCommit && std::string_view(groupCommit) == "0");
    const unsigned expiringWithinDays = options.expiringWithinDays;
    Manager manager(store, std::move(options));
    manager.ensureFactoryCertificate();
    manager.flush(); // durable before anything is served; a failure ends start-up

    // The path of a change: bus call / netlink / timer -> Manager (durable in the store) ->
    // ChangeFlow -> terminator (acknowledged) -> subscribers (bus objects and signals, expiry watch).
    EventLoop loop;
    // certd-tls holds no private key: these threads sign for it (terminator/signer.hpp).
    std::optional<terminator::Signer> signer;
    if (terminatorHoldsKeys)
        log::warning("--terminator-holds-keys: certd-tls gets the private keys (benchmark baseline)");
    else
        signer.emplace();
    terminator::SupervisorOptions supervisorOptions;
    supervisorOptions.signer = signer ? &*signer : nullptr;
    supervisorOptions.socket = terminatorSocket;
    supervisorOptions.binary = terminator::terminatorBinary(config);
    supervisorOptions.user = config.terminator.user;
    supervisorOptions.freebind = config.freebind;
    supervisorOptions.kept = std::move(keptSockets);
    terminator::Supervisor supervisor(loop.get(), std::move(supervisorOptions));
    terminator::Link terminator(manager, config, supervisor, signer ? &*signer : nullptr);
    ChangeFlow flow(manager, terminator, loop);
    Reloader reloader(configPath, config, manager, terminator, flow);

    auto connection = sdbus::createSystemBusConnection();
    bus::ServiceInfo info;
    info.version = CERTD_VERSION;
    info.port = config.port;
    info.maxMessageSize = config.busMaxMessageSize;
    info.auth = bus::AuthPolicy{config.adminGroup, config.keyExportGroup};
    info.reload = [&reloader] { reloader.reload(); };
    bus::Service service(*connection, loop, manager, flow, info);
    // ACME orders run beside the bus (acme/service.hpp); their objects are the Service's.
    acme::ServiceOptions acmeOptions;
    acmeOptions.dnsHook = config.acmeDnsHook;
    acmeOptions.retryBaseUSec = std::uint64_t{config.acmeRetrySeconds} * 1'000'000;
    acme::Service acme(loop, manager, flow, terminator, acmeOptions);
    reloader.subscribe([&acme](const Config& c) {
        acme.setDnsHook(c.acmeDnsHook);
        acme.setRetryBase(std::uint64_t{c.acmeRetrySeconds} * 1'000'000);
    });
    acme.onRenewalFailed = [&service](const std::string& id, const std::string& name,
                                      const std::string& message) {
        service.emitAcmeRenewalFailed(id, name, message);
    };
    service.setAcme(acme);
    reloader.subscribe([&service](const Config& c) {
        service.reconfigure(c.port, bus::AuthPolicy{c.adminGroup, c.keyExportGroup}, c.busMaxMessageSize);
    });
    ExpiryWatch expiry(loop, manager, config.expiryWarningDays, expiringWithinDays,
                       [&](const std::string& id, std::uint64_t notAfter, unsigned days) {
                           log::warning("certificate '" + manager.friendlyName(id) + "' expires in " +
                                            std::to_string(days) + " days or less",
                                        {{"CERTD_OBJECT", bus::certificatePath(id)},
                                         {"CERTD_NOT_AFTER_USEC", std::to_string(notAfter)},
                                         {"CERTD_THRESHOLD_DAYS", std::to_string(days)}});
                           service.emitCertificateExpiring(id, notAfter, days);
                       });
    flow.subscribe([&expiry](const Changes& changes) { expiry.changed(changes); });
    reloader.subscribe(
        [&expiry](const Config& c) { expiry.setThresholds(c.expiryWarningDays, expiringSoonDays(c)); });
    // A mutation's working copies of the store state (a few MB at 10,000 certificates) are
    // freed by now; give them back rather than keep them resident until the next one.
    flow.subscribe([](const Changes&) { releaseFreedMemory(); });
    // Whatever an event changed reaches the world after it; bus mutations wait for their group's
    // settle (ChangeFlow::whenSettled), and so does anything else while such a group forms.
    loop.afterEveryEvent([&flow] { flow.settleUnlessGrouping(); });

    loop.exitOnTerminationSignals();
    loop.onSignal(SIGHUP, [&reloader] {
        try {
            reloader.reload();
        } catch (const Error&) {
            // Logged by reload(); the running configuration stays.
        }
    });
    loop.enableWatchdog();
    loop.attachBus(*connection);

    std::optional<AddressMonitor> monitor;
    if (config.discovery.enabled) {
        monitor.emplace(config.discovery.interfaces, [&](const std::string& address, bool present) {
            if (present)
                manager.addressAppeared(address);
            else
                manager.addressVanished(address);
        });
        monitor->requestDump();
        loop.watchReadable(monitor->fd(), [&] { monitor->process(); });
    }

    flow.settle(); // the first desired state, before the name is taken
    // Loading the store peaks above what stays; glibc keeps freed pages resident unless told.
    malloc_trim(0);
    // The tree is complete before the name is taken, so no client sees it half built.
    connection->requestName(bus::kBusName);
    log::info("certd " CERTD_VERSION " serving " + std::to_string(manager.certificates().size()) +
              " certificates on " + std::to_string(manager.addresses().size()) + " addresses");
    acme.start(); // orders in progress resume, renewals are scheduled
    sd_notifyf(0, "READY=1\nSTATUS=Serving %zu certificates on %zu addresses", manager.certificates().size(),
               manager.addresses().size());
    const int r = loop.run();
    sd_notify(0, "STOPPING=1");
    // Calls still waiting for their group's settle get it now (durable, then answered), while
    // the connection their replies need is alive.
    flow.settle();
    connection->releaseName(bus::kBusName);
    return r < 0 ? 1 : 0;
}

} // namespace

int main(int argc, char** argv)
{
    // A fixed threshold: large buffers (a GetManagedObjects reply of 10,000 certificates is
    // 18 MB) are mapped and unmapped whole. glibc otherwise raises it to the largest block
    // freed, and later ones stay in the heap and resident.
    mallopt(M_MMAP_THRESHOLD, 256 * 1024);
    // Before OpenSSL allocates anything: what it builds from a key inside a SecureAllocationScope
    // (the signer's keys) comes from the secure heap.
    const bool routed = certd::routeOpenSslAllocations();
    std::filesystem::path configPath{std::string(certd::kDefaultConfigPath)};
    std::filesystem::path terminatorSocket;
    bool terminatorHoldsKeys = false;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--config" && i + 1 < argc) {
            configPath = argv[++i];
        } else if (arg.rfind("--config=", 0) == 0) {
            configPath = arg.substr(9);
        } else if (arg == "--terminator-socket" && i + 1 < argc) {
            terminatorSocket = argv[++i];
        } else if (arg.rfind("--terminator-socket=", 0) == 0) {
            terminatorSocket = arg.substr(20);
        } else if (arg == "--terminator-holds-keys") {
            terminatorHoldsKeys = true;
        } else if (arg == "--version") {
            std::puts("certd " CERTD_VERSION);
            return 0;
        } else if (arg == "--help" || arg == "-h") {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (!routed)
        certd::log::warning(
            "OpenSSL allocated before certd could route its key allocations to the secure heap");
    try {
        return run(configPath, terminatorSocket, terminatorHoldsKeys);
    } catch (const certd::Error& e) {
        std::fprintf(stderr, "certd: %s\n", e.what());
        certd::log::error(std::string("start-up failed: ") + e.what());
        sd_notifyf(0, "STATUS=Failed: %s", e.what());
        return 1;
    } catch (const sdbus::Error& e) {
        std::fprintf(stderr, "certd: D-Bus: %s: %s\n", e.getName().c_str(), e.getMessage().c_str());
        return 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "certd: %s\n", e.what());
        return 1;
    }
}
