#pragma once

// certd's key holder for certd-tls (issue 13): signing threads that make every private-key
// operation of the terminator's handshakes, so certd-tls, the process that parses what the
// network sends, holds no private key.
//
// The threads live in certd, beside the keys (already in its secure heap), not on the bus
// thread: each has its own epoll over the signing channels it owns, so a slow bus call never
// delays a signature and a flood of signatures never delays the bus. Each certd-tls worker has
// one channel (tls/sign_wire.hpp); it arrives through a broker socket that newBroker() makes
// for each terminator connection. Requests are read in batches, signed, and the replies
// written in one write per channel and batch.
//
// Only the keys of certificates bound to an address sign (setKeys(), from each snapshot): a
// compromised terminator cannot use any other key of the store. A key unbound by a snapshot
// keeps signing for a grace period, for handshakes that chose its certificate just before.

#include "secure_memory.hpp"
#include "tls/sign_wire.hpp"
#include "unique_fd.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace certd::terminator {

class Signer {
public:
    // `threads` 0: one per CPU certd may run on, at most 8.
    explicit Signer(unsigned threads = 0);
    ~Signer();
    Signer(const Signer&) = delete;
    Signer& operator=(const Signer&) = delete;

    // The keys that may sign from now on, by certificate id (unencrypted PKCS#8 DER). Keys no
    // longer listed sign for `grace` more, then not at all. Throws Error(Malformed) for a key
    // that does not parse (nothing changes then).
    void setKeys(const std::map<std::string, SecureBytes>& keys, std::chrono::milliseconds grace);

    // A broker socket pair: certd keeps one end (the signing threads take the channels that
    // arrive there), the returned end goes to certd-tls with the control connection.
    UniqueFd newBroker();

    struct Counters {
        std::uint64_t signatures = 0; // made
        std::uint64_t refused = 0;    // unknown key, or not what TLS needs
        std::uint64_t channels = 0;   // accepted over all brokers
    };
    Counters counters() const;

private:
    struct Key;
    struct KeyTable;
    struct Channel;
    struct Thread;

    void run(Thread& thread);
    void adopt(Thread& thread);
    void readBroker(Thread& thread, int fd);
    void serve(Thread& thread, Channel& channel, std::uint32_t events);
    bool flush(Thread& thread, Channel& channel);
    // The thread's prepared context for this key and the request's scheme and hash (or null);
    // `fresh` when this is the first request of that kind on this thread since the keys changed.
    static EVP_PKEY_CTX* prepared(Thread& thread, const KeyTable* table,
                                  const std::shared_ptr<const Key>& key, const tls::sign::Request& request,
                                  bool& fresh);

    std::vector<std::unique_ptr<Thread>> threads_;
    std::atomic<std::shared_ptr<const KeyTable>> keys_;
    std::atomic<unsigned> nextThread_{0};
    std::atomic<std::uint64_t> signatures_{0};
    std::atomic<std::uint64_t> refused_{0};
    std::atomic<std::uint64_t> channels_{0};
};

} // namespace certd::terminator
