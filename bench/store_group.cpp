// Group commit in numbers: COUNT store transactions, staged GROUP at a time and made durable
// by one flush() per group, on a fresh store in DIR. Run it under
// `strace -f -c -e trace=fsync,fdatasync` to count the fsyncs (bench/store-group.sh does).
// KIND "create" puts a key and a certificate per transaction (as CreateSelfSigned does),
// "rename" changes one friendly name (as SetFriendlyName does).
// Usage: store-group DIR COUNT GROUP create|rename
#include "store/store.hpp"

#include <chrono>
#include <cstdio>
#include <string>

int main(int argc, char** argv)
{
    if (argc != 5) {
        std::fprintf(stderr, "usage: store-group DIR COUNT GROUP create|rename\n");
        return 2;
    }
    using namespace certd;
    const std::string kind = argv[4];
    const long count = std::stol(argv[2]);
    const long group = std::stol(argv[3]);
    Store store(argv[1]);
    {
        auto tx = store.begin();
        tx.putCertificate("base", asBytes(std::string(400, 'c')));
        tx.state().certificates["base"] = StoredCertificate{"base", ChainMode::Automatic, {}, 1};
        store.commit(std::move(tx));
    }
    const auto started = std::chrono::steady_clock::now();
    for (long i = 0; i < count; ++i) {
        auto tx = store.begin();
        const std::string id = "x" + std::to_string(i);
        if (kind == "create") {
            tx.putKey(id, asBytes(std::string(138, 'k')));
            tx.putCertificate(id, asBytes(std::string(400, 'c')));
            tx.state().keys[id] = StoredKey{2};
            tx.state().certificates[id] = StoredCertificate{"created " + id, ChainMode::Automatic, {}, 2};
        } else {
            tx.state().certificates["base"].friendlyName = "renamed " + id;
        }
        store.stage(std::move(tx));
        if (store.staged() == static_cast<std::size_t>(group) || i + 1 == count)
            store.flush();
    }
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
    std::printf("%ld %s transactions in groups of %ld: %.1f ms, %.2f ms per transaction\n", count,
                kind.c_str(), group, ms, ms / static_cast<double>(count));
    return 0;
}
