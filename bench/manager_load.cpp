// Start-up of the model alone, without the bus: opens the store in DIR and builds the Manager
// over it, as certd does at start-up, and prints how long each took and the resident memory
// after each (VmRSS), per certificate. Run it twice on a fresh store to see the first start
// (descriptions parsed, certificates.cache written) and a restart (descriptions from the cache).
// The RSS after each step includes what glibc keeps of freed memory (yaml-cpp's parse tree);
// the last figure is after malloc_trim(0).
// Usage: manager-load DIR
#include "manager/manager.hpp"
#include "store/store.hpp"

#include <malloc.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>

namespace {

long rssKib()
{
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line))
        if (line.rfind("VmRSS:", 0) == 0)
            return std::stol(line.substr(6));
    return 0;
}

double msSince(std::chrono::steady_clock::time_point t0)
{
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

} // namespace

int main(int argc, char** argv)
{
    if (argc != 2) {
        std::fprintf(stderr, "usage: manager-load DIR\n");
        return 2;
    }
    using namespace certd;
    const long rss0 = rssKib();
    auto t0 = std::chrono::steady_clock::now();
    Store store(argv[1]);
    const double storeMs = msSince(t0);
    const long rss1 = rssKib();
    t0 = std::chrono::steady_clock::now();
    ManagerOptions options;
    options.factorySpec.subject.commonName = "bench.example";
    options.factoryKeyType = pki::KeyType::EcP256;
    Manager manager(store, options);
    const double managerMs = msSince(t0);
    const long rss2 = rssKib();
    ::malloc_trim(0); // what stays once freed memory goes back (certd trims after a settle)
    const long rss3 = rssKib();
    const auto n = static_cast<double>(manager.certificates().size());
    std::printf("certificates %zu store_ms %.0f manager_ms %.0f rss_kib_cert: store %.2f +manager %.2f, "
                "both after malloc_trim %.2f\n",
                manager.certificates().size(), storeMs, managerMs, static_cast<double>(rss1 - rss0) / n,
                static_cast<double>(rss2 - rss1) / n, static_cast<double>(rss3 - rss0) / n);
    return 0;
}
