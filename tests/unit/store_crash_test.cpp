// store-crash-test: kills (SIGKILL) a process that is committing to a store,
// at random instants, again and again on the same store, and checks after each
// kill that the store opens cleanly with every acknowledged change in it.
//
// The child applies a deterministic stream of mutations (a function of the
// seed, the sequence number and the state before) in groups (group commit: each
// mutation staged, then one flush; half the groups hold one mutation, the others
// 2 to 5, also a function of the seed) and writes the group's sequence numbers to
// a pipe once flush() has returned. The parent recomputes the expected states
// from the same stream: after k acknowledgements the store must hold exactly the
// state after k mutations, or after the whole next group (the one in flight may
// have become durable before its acknowledgement), never part of a group. A kill
// tests the order of writes, renames and removals, not fsync (the page cache
// survives the process).
//
// CERTD_CRASH_ITERATIONS (default 200) sets the number of kills,
// CERTD_CRASH_SEED the seed (default: from the clock; printed to reproduce),
// CERTD_CRASH_PREFILL (default 0) a number of certificates the store holds before
// the first kill (laid out by hand, as a large store that each commit must not rewrite).

#include "error.hpp"
#include "fs.hpp"
#include "store/state_codec.hpp"
#include "store/store.hpp"
#include "temp_dir.hpp"
#include "unique_fd.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <iterator>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

using namespace certd;
namespace fs = std::filesystem;

namespace {

enum class Blob { Certificate, Key, Request };

struct Put {
    Blob kind;
    std::string id;
};

// The bytes stored under an id: the parent checks them without having seen the put.
std::string blobText(Blob kind, const std::string& id)
{
    static constexpr const char* kTags[] = {"DER", "PKCS8", "-----BEGIN CERTIFICATE REQUEST-----"};
    return std::string(kTags[static_cast<int>(kind)]) + " " + id + " " +
           std::string(id.size() * 13 % 61, '.');
}

// A friendly name yaml could misread, different for each mutation.
std::string friendlyName(std::uint64_t seq)
{
    return "name " + std::to_string(seq) + " \"quoted\": ünïcödé 😀\n  second line #" +
           std::to_string(seq % 7);
}

template <typename Map>
typename Map::iterator pick(Map& map, std::mt19937_64& rng)
{
    return std::next(map.begin(), static_cast<long>(rng() % map.size()));
}

// Mutation number `seq` applied to `state` (a transaction's state, or the
// parent's model of the store); returns the blobs it needs.
std::vector<Put> mutate(std::uint64_t seed, std::uint64_t seq, StoreState& state)
{
    std::mt19937_64 rng(seed * 0x9e3779b97f4a7c15ULL ^ seq);
    std::vector<Put> puts;
    auto& certificates = state.certificates;
    const auto addCertificate = [&] {
        // A small pool of ids: some adds repeat a stored certificate, some bring back a removed one.
        const std::string id = "c" + std::to_string(rng() % 300);
        StoredCertificate& certificate = certificates[id];
        certificate.friendlyName = friendlyName(seq);
        certificate.addedUSec = seq;
        if (rng() % 4 == 0 && certificates.size() > 1) {
            certificate.chainMode = ChainMode::Manual;
            certificate.manualChain = {pick(certificates, rng)->first};
        }
        puts.push_back({Blob::Certificate, id});
    };
    const auto addKey = [&] {
        std::string id = "k" + std::to_string(rng() % 100);
        state.keys[id].addedUSec = seq;
        puts.push_back({Blob::Key, id});
        return id;
    };

    // Keep the store small (so each commit stays cheap) by deleting more as it grows.
    const unsigned op = certificates.size() > 40 && rng() % 2 == 0 ? 6 : static_cast<unsigned>(rng() % 10);
    if (op >= 4 && certificates.empty()) {
        addCertificate();
        return puts;
    }
    switch (op) {
    case 0:
    case 1:
        addCertificate();
        break;
    case 2:
        addKey();
        break;
    case 3: {
        const std::string keyId =
            state.keys.empty() || rng() % 2 == 0 ? addKey() : pick(state.keys, rng)->first;
        const std::string id = "r" + std::to_string(seq);
        state.requests[id] = StoredRequest{friendlyName(seq), keyId, RequestState::Pending, "", seq};
        puts.push_back({Blob::Request, id});
        break;
    }
    case 4:
        pick(certificates, rng)->second.friendlyName = friendlyName(seq);
        break;
    case 5:
        state.bindings["10.0.0." + std::to_string(rng() % 20) + ":443"] = pick(certificates, rng)->first;
        break;
    case 6: {
        const std::string id = pick(certificates, rng)->first;
        certificates.erase(id);
        std::erase_if(state.bindings, [&](const auto& binding) { return binding.second == id; });
        if (state.factoryCertificate == id)
            state.factoryCertificate.clear();
        break;
    }
    case 7:
        if (!state.keys.empty()) {
            const std::string id = pick(state.keys, rng)->first;
            state.keys.erase(id);
            std::erase_if(state.requests, [&](const auto& request) { return request.second.keyId == id; });
        }
        break;
    case 8:
        if (!state.requests.empty()) {
            const auto request = pick(state.requests, rng);
            if (rng() % 2 == 0)
                state.requests.erase(request);
            else
                request->second = {request->second.friendlyName, request->second.keyId,
                                   RequestState::Completed, pick(certificates, rng)->first,
                                   request->second.createdUSec};
        }
        break;
    default:
        if (rng() % 2 == 0 || state.bindings.empty())
            state.factoryCertificate = pick(certificates, rng)->first;
        else
            state.bindings.erase(pick(state.bindings, rng));
        break;
    }
    return puts;
}

// The number of mutations in the group that starts at `first`.
std::uint64_t groupSize(std::uint64_t seed, std::uint64_t first)
{
    std::mt19937_64 rng(seed ^ (first * 0xbf58476d1ce4e5b9ULL));
    const std::uint64_t draw = rng();
    return draw % 2 == 0 ? 1 : 2 + draw / 2 % 4;
}

// One write for the whole group (at most 40 bytes, atomic on a pipe): the parent
// never sees part of a group acknowledged.
void writeAcks(int fd, std::uint64_t first, std::uint64_t count)
{
    std::vector<std::uint64_t> seqs;
    for (std::uint64_t i = 0; i < count; ++i)
        seqs.push_back(first + i);
    const auto size = static_cast<ssize_t>(seqs.size() * sizeof(std::uint64_t));
    if (::write(fd, seqs.data(), static_cast<std::size_t>(size)) != size) {
        std::perror("store-crash child: cannot acknowledge");
        ::_exit(3);
    }
}

// The child: commits mutations from `next` on, acknowledging each, until killed.
[[noreturn]] void runChild(const fs::path& directory, std::uint64_t seed, std::uint64_t next, int ackFd)
{
    try {
        Store store(directory);
        for (std::uint64_t first = next; first < next + 100000;) {
            const std::uint64_t count = groupSize(seed, first);
            for (std::uint64_t seq = first; seq < first + count; ++seq) {
                auto tx = store.begin();
                for (const Put& put : mutate(seed, seq, tx.state())) {
                    const std::string text = blobText(put.kind, put.id);
                    switch (put.kind) {
                    case Blob::Certificate:
                        tx.putCertificate(put.id, asBytes(text));
                        break;
                    case Blob::Key:
                        tx.putKey(put.id, asBytes(text));
                        break;
                    case Blob::Request:
                        tx.putRequest(put.id, text);
                        break;
                    }
                }
                store.stage(std::move(tx));
            }
            store.flush();
            writeAcks(ackFd, first, count);
            first += count;
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "store-crash child: %s\n", e.what());
        ::_exit(2);
    }
    ::_exit(0);
}

std::string describe(const StoreState& s)
{
    return std::to_string(s.certificates.size()) + " certificates, " + std::to_string(s.keys.size()) +
           " keys, " + std::to_string(s.requests.size()) + " requests, " + std::to_string(s.bindings.size()) +
           " bindings";
}

// Problems with the opened store beyond its state: blobs, stray files, drops.
std::vector<std::string> checkStore(const Store& store)
{
    std::vector<std::string> problems;
    for (const std::string& line : store.loadReport())
        if (line.find("removed ") != 0)
            problems.push_back("open reported: " + line);

    const StoreState& s = store.state();
    const auto expectFiles = [&](const std::string& sub, const std::set<std::string>& expected) {
        std::set<std::string> actual;
        for (const auto& entry : fs::directory_iterator(store.directory() / sub))
            actual.insert(entry.path().filename().string());
        if (actual != expected)
            problems.push_back(sub + "/ holds " + std::to_string(actual.size()) + " files, expected " +
                               std::to_string(expected.size()) +
                               " (a temporary file or orphan left behind?)");
    };
    expectFiles(".", {"certs", "keys", "requests", "state.yaml"});
    const auto checkBlobs = [&](Blob kind, const auto& entries, const std::string& sub,
                                const std::string& ext, auto read) {
        std::set<std::string> names;
        for (const auto& [id, entry] : entries) {
            names.insert(id + ext);
            const auto data = read(id);
            if (std::string(data.begin(), data.end()) != blobText(kind, id))
                problems.push_back(sub + "/" + id + ext + " does not hold what was put");
        }
        expectFiles(sub, names);
    };
    checkBlobs(Blob::Certificate, s.certificates, "certs", ".der",
               [&](const std::string& id) { return store.certificateDer(id); });
    checkBlobs(Blob::Key, s.keys, "keys", ".key", [&](const std::string& id) { return store.keyPkcs8(id); });
    checkBlobs(Blob::Request, s.requests, "requests", ".csr",
               [&](const std::string& id) { return store.requestPem(id); });
    return problems;
}

std::uint64_t envNumber(const char* name, std::uint64_t fallback)
{
    const char* value = std::getenv(name);
    return value && *value ? std::strtoull(value, nullptr, 10) : fallback;
}

} // namespace

int main()
{
    const auto started = std::chrono::steady_clock::now();
    const std::uint64_t iterations = envNumber("CERTD_CRASH_ITERATIONS", 200);
    const std::uint64_t seed =
        envNumber("CERTD_CRASH_SEED",
                  static_cast<std::uint64_t>(std::chrono::system_clock::now().time_since_epoch().count()));
    std::cout << "store-crash: seed " << seed << " (CERTD_CRASH_SEED=" << seed << " to repeat the stream)"
              << std::endl;

    const std::uint64_t prefill = envNumber("CERTD_CRASH_PREFILL", 0);
    const test::TempDir tmp;
    const fs::path directory = tmp / "store";
    std::mt19937_64 timing(seed);
    StoreState model; // the state after `applied` mutations
    if (prefill > 0) {
        {
            const Store empty(directory);
        }
        for (std::uint64_t i = 0; i < prefill; ++i) {
            const std::string id = "p" + std::to_string(i);
            const std::string text = blobText(Blob::Certificate, id);
            const UniqueFd fd(::open((directory / "certs" / (id + ".der")).c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
            if (!fd || ::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
                std::perror("store-crash: prefill");
                return 2;
            }
            model.certificates[id] =
                StoredCertificate{"prefilled " + std::to_string(i), ChainMode::Automatic, {}, i};
        }
        writeFileAtomic(directory, "state.yaml", asBytes(serializeState(model)), 0600);
        std::cout << "store-crash: store prefilled with " << prefill << " certificates" << std::endl;
    }
    std::uint64_t applied = 0;
    std::uint64_t acknowledged = 0;
    std::uint64_t inFlightLanded = 0;
    std::uint64_t cleanups = 0;
    std::uint64_t passed = 0;
    std::uint64_t failed = 0;

    for (std::uint64_t kill = 1; kill <= iterations; ++kill) {
        int fds[2];
        if (::pipe2(fds, O_CLOEXEC) != 0) {
            std::perror("pipe2");
            return 2;
        }
        const pid_t child = ::fork();
        if (child < 0) {
            std::perror("fork");
            return 2;
        }
        if (child == 0) {
            ::close(fds[0]);
            runChild(directory, seed, applied + 1, fds[1]);
        }
        ::close(fds[1]);

        // Half the kills at a random instant (some while the child is still
        // opening the store), half just after a random number of acknowledgements.
        std::vector<std::uint64_t> acks;
        const auto readAck = [&] {
            std::uint64_t seq = 0;
            if (::read(fds[0], &seq, sizeof(seq)) != static_cast<ssize_t>(sizeof(seq)))
                return false;
            acks.push_back(seq);
            return true;
        };
        if (timing() % 2 == 0) {
            std::this_thread::sleep_for(std::chrono::microseconds(timing() % 30001));
        } else {
            const std::uint64_t target = 1 + timing() % 12;
            while (acks.size() < target && readAck()) {
            }
            std::this_thread::sleep_for(std::chrono::microseconds(timing() % 3000));
        }
        ::kill(child, SIGKILL);
        int status = 0;
        ::waitpid(child, &status, 0);
        while (readAck()) {
        }
        ::close(fds[0]);

        std::vector<std::string> problems;
        if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) &&
            !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
            problems.push_back("the child failed before the kill (see its message above)");
        for (std::size_t i = 0; i < acks.size(); ++i)
            if (acks[i] != applied + 1 + i)
                problems.push_back("acknowledgement " + std::to_string(acks[i]) + " out of sequence");

        // The expected state after the acknowledged mutations, and after the next group.
        const std::uint64_t k = applied + acks.size();
        for (std::uint64_t seq = applied + 1; seq <= k; ++seq)
            mutate(seed, seq, model);
        StoreState inFlight = model;
        const std::uint64_t inFlightCount = groupSize(seed, k + 1);
        for (std::uint64_t seq = k + 1; seq <= k + inFlightCount; ++seq)
            mutate(seed, seq, inFlight);
        acknowledged += acks.size();

        try {
            const Store store(directory);
            if (store.state() == inFlight) {
                inFlightLanded += inFlight == model ? 0 : 1;
                model = std::move(inFlight);
                applied = k + inFlightCount;
            } else if (store.state() == model) {
                applied = k;
            } else {
                problems.push_back("after " + std::to_string(k) + " acknowledged mutations the store holds " +
                                   describe(store.state()) + "; expected " + describe(model) + " or " +
                                   describe(inFlight));
                // Carry on from what is there, so one failure does not fail every later kill.
                model = store.state();
                applied = k;
            }
            const auto more = checkStore(store);
            problems.insert(problems.end(), more.begin(), more.end());
            cleanups += store.loadReport().size();
        } catch (const std::exception& e) {
            problems.push_back(std::string("the store does not open: ") + e.what());
        }

        if (problems.empty()) {
            ++passed;
            continue;
        }
        ++failed;
        for (const std::string& problem : problems)
            std::cout << "store-crash: kill " << kill << ": " << problem << std::endl;
        if (failed >= 10 && passed == 0)
            break;
    }

    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    std::cout << "store-crash: " << passed + failed << " kills, " << acknowledged
              << " acknowledged mutations, " << (failed == 0 ? "all present" : "SOME MISSING OR WRONG")
              << "; " << passed << " passed, " << failed << " failed (" << inFlightLanded
              << " kills found the unacknowledged mutation durable, " << cleanups
              << " temporary files and orphans removed at open; " << seconds << " s; final store "
              << describe(model) << ")" << std::endl;
    return failed == 0 ? 0 : 1;
}
