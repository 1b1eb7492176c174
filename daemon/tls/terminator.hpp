#pragma once

// certd-tls's runtime: listeners (a stable front SSL_CTX and an atomically
// swapped certificate context each), the worker event loops that serve them,
// and the Terminator that turns each snapshot from certd into that runtime.

#include "tls/context.hpp"
#include "tls/http_challenge.hpp"
#include "tls/wire.hpp"

#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace certd::tls {

// Per-generation settings. A connection keeps the backend and PROXY setting of the generation
// that accepted it; timeouts and the connection limit are always the current generation's.
struct RuntimeSettings {
    sockaddr_storage backend{};
    socklen_t backendLength = 0; // 0: no usable backend
    bool proxyV2 = false;
    std::chrono::milliseconds handshakeTimeout{10'000};
    std::chrono::milliseconds idleTimeout{300'000};
    unsigned maxConnections = 10'000;
};

// What the control thread and the workers share.
struct Shared {
    std::atomic<std::shared_ptr<const RuntimeSettings>> settings{std::make_shared<const RuntimeSettings>()};
    std::atomic<unsigned> connections{0};
    TicketKeys ticketKeys;
};

// The ACME challenges a listener answers (tls::AcmeChallenge, tls-alpn-01 only).
struct ChallengeEntry {
    std::string serverName;      // the SNI that selects it
    bool addressLimited = false; // an IP identifier's: also selected by a ClientHello without SNI
    std::shared_ptr<const CertificateContext> context;
};
using Challenges = std::vector<ChallengeEntry>;

class Listener final : public ConnectionSource {
public:
    Listener(std::string name, UniqueFd socket, TicketKeys& keys, pki::SslCtxPtr front);
    std::shared_ptr<const CertificateContext> certificate() const override { return certificate_.load(); }
    TicketKeys& ticketKeys() const override { return keys_; }
    std::shared_ptr<const CertificateContext> challengeFor(std::string_view serverName) const override;
    void setChallenges(std::shared_ptr<const Challenges> challenges)
    {
        challenges_.store(std::move(challenges));
    }
    // Publishes the context the next handshakes get; connections already past their
    // ClientHello keep theirs.
    void setCertificate(std::shared_ptr<const CertificateContext> context)
    {
        certificate_.store(std::move(context));
    }
    std::shared_ptr<SSL_CTX> front() const { return front_.load(); }
    // A new front context (profile change, flush): new connections only.
    void setFront(pki::SslCtxPtr front);
    int fd() const { return socket_.get(); }
    // Once no worker polls it any more.
    void closeSocket() { socket_.reset(); }
    const std::string& name() const { return name_; }
    // Binds sessions to this listener, so a ticket from one address never resumes on another.
    const std::string& sessionContext() const { return sessionContext_; }

private:
    std::string name_;
    std::string sessionContext_;
    UniqueFd socket_;
    TicketKeys& keys_;
    std::atomic<std::shared_ptr<SSL_CTX>> front_;
    std::atomic<std::shared_ptr<const CertificateContext>> certificate_;
    std::atomic<std::shared_ptr<const Challenges>> challenges_;
};

class Worker;

class Terminator {
public:
    explicit Terminator(Shared& shared);
    ~Terminator();
    // Applies a snapshot: builds the certificate contexts it lacks, publishes them, adds and
    // removes listeners (taking theirs from `sockets`), and reports per listener.
    wire::Ack apply(const wire::Snapshot& snapshot, std::map<std::string, UniqueFd>& sockets);
    void rotateTicketKeys() { shared_.ticketKeys.rotate(); }
    // certd's signing broker (a new one per control connection): every worker, and each one
    // started later, opens its signing channel through it.
    void setSigner(UniqueFd broker);
    // Before exit: the workers stop accepting and this process closes its listening sockets, so
    // that connections still in a backlog go to the next certd-tls (certd holds the sockets), not
    // to this one as it closes everything. Open connections stay until the destructor.
    void stopAccepting();

private:
    struct CachedCertificate {
        std::string chainPem;
        Bytes keyDigest;
        std::shared_ptr<const CertificateContext> context;
    };
    // Grows or shrinks the pool to `count` workers. A new worker polls every listener; one
    // beyond the count retires: it takes no new connection and its thread ends with its last
    // one, so no established connection is dropped. Retired workers are freed here once ended.
    void resizeWorkers(unsigned count);
    void syncWorkers();
    // maxConnections as far as RLIMIT_NOFILE allows (raising its soft value if need be).
    unsigned connectionLimit(unsigned wanted, std::size_t listeners, unsigned workers);

    Shared& shared_;
    std::vector<std::unique_ptr<Worker>> workers_;
    std::vector<std::unique_ptr<Worker>> retiring_; // serving their last connections
    std::map<std::string, std::shared_ptr<Listener>> listeners_;
    std::map<std::string, CachedCertificate> certificates_;
    std::map<std::string, std::shared_ptr<const CertificateContext>> challengeContexts_; // by id
    std::unique_ptr<HttpChallengeResponder> http_; // from the first snapshot with an http-01 port
    std::optional<TlsProfile> profile_;
    UniqueFd signerBroker_;
    bool asyncSigning_ = true;        // the front contexts' SSL_MODE_ASYNC
    unsigned long fdLimitWarned_ = 0; // the limit last warned about
};

// Resolves a backend to a socket address; throws Error(InvalidArgument) when it cannot.
void resolveBackend(const Backend& backend, RuntimeSettings& settings);

// CPUs this process may run on (taskset/cgroups): the default worker count.
unsigned usableCpus();

} // namespace certd::tls
