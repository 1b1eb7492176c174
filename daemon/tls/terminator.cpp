#include "tls/terminator.hpp"

#include <fcntl.h>

#include <algorithm>

#include "log.hpp"
#include "tls/worker.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/un.h>

#include <cstring>
#include <set>

namespace certd::tls {

std::shared_ptr<const CertificateContext> Listener::challengeFor(std::string_view serverName) const
{
    const auto challenges = challenges_.load();
    if (!challenges)
        return nullptr;
    for (const auto& c : *challenges)
        if (serverName.empty() ? c.addressLimited : c.serverName == serverName)
            return c.context;
    return nullptr;
}

Listener::Listener(std::string name, UniqueFd socket, TicketKeys& keys, pki::SslCtxPtr front)
    : name_(std::move(name)), socket_(std::move(socket)), keys_(keys)
{
    // SSL_MAX_SID_CTX_LENGTH is 32: a digest of the name fits whatever the address.
    const auto digest = pki::sha256(asBytes("certd-tls listener " + name_));
    sessionContext_.assign(reinterpret_cast<const char*>(digest.data()), SSL_MAX_SID_CTX_LENGTH);
    setFront(std::move(front));
}

void Listener::setFront(pki::SslCtxPtr front)
{
    front_.store(std::shared_ptr<SSL_CTX>(front.release(), SSL_CTX_free));
}

unsigned usableCpus()
{
    cpu_set_t set;
    if (::sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return static_cast<unsigned>(CPU_COUNT(&set));
    return 1;
}

void resolveBackend(const Backend& backend, RuntimeSettings& settings)
{
    settings.backend = {};
    if (backend.kind == Backend::Kind::Unix) {
        auto* un = reinterpret_cast<sockaddr_un*>(&settings.backend);
        const std::string path = backend.path.string();
        if (path.empty() || path.size() >= sizeof un->sun_path)
            throw Error(ErrorCode::InvalidArgument,
                        "backend: unix socket path '" + path + "' is empty or too long");
        un->sun_family = AF_UNIX;
        std::memcpy(un->sun_path, path.c_str(), path.size() + 1);
        settings.backendLength = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + 1);
        return;
    }
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* result = nullptr;
    const std::string port = std::to_string(backend.port);
    if (const int r = ::getaddrinfo(backend.host.c_str(), port.c_str(), &hints, &result); r != 0)
        throw Error(ErrorCode::InvalidArgument,
                    "backend: cannot resolve '" + backend.host + "': " + ::gai_strerror(r));
    std::memcpy(&settings.backend, result->ai_addr, result->ai_addrlen);
    settings.backendLength = result->ai_addrlen;
    ::freeaddrinfo(result);
}

Terminator::Terminator(Shared& shared) : shared_(shared) {}

// Each proxied connection holds two descriptors (client and backend). The soft RLIMIT_NOFILE is
// raised as far as `wanted` needs (up to the hard limit); when even that is too low, fewer
// connections are served, so that further clients wait in the listen queue instead of being
// accepted, handshaken and dropped for want of a backend socket (or spinning on EMFILE).
unsigned Terminator::connectionLimit(unsigned wanted, std::size_t listeners, unsigned workers)
{
    rlimit r{};
    if (::getrlimit(RLIMIT_NOFILE, &r) != 0)
        return wanted;
    // Listeners, an epoll and an eventfd per worker, the control socket, signalfd, stdio.
    const rlim_t reserve = 32 + listeners + 2 * rlim_t{workers};
    const rlim_t needed = 2 * rlim_t{wanted} + reserve;
    if (r.rlim_cur != RLIM_INFINITY && r.rlim_cur < needed && r.rlim_cur != r.rlim_max) {
        rlimit raised = r;
        raised.rlim_cur = r.rlim_max == RLIM_INFINITY ? needed : std::min(needed, r.rlim_max);
        if (::setrlimit(RLIMIT_NOFILE, &raised) == 0)
            r = raised;
    }
    if (r.rlim_cur == RLIM_INFINITY || r.rlim_cur >= needed) {
        fdLimitWarned_ = 0;
        return wanted;
    }
    const auto fit = static_cast<unsigned>(r.rlim_cur > reserve + 2 ? (r.rlim_cur - reserve) / 2 : 1);
    if (fdLimitWarned_ != r.rlim_cur) {
        fdLimitWarned_ = r.rlim_cur;
        log::warning("certd-tls: " + std::to_string(wanted) + " connections need " + std::to_string(needed) +
                     " file descriptors, the limit is " + std::to_string(r.rlim_cur) + ": serving at most " +
                     std::to_string(fit) + " (raise LimitNOFILE)");
    }
    return fit;
}

Terminator::~Terminator()
{
    workers_.clear(); // joins them, closing their connections
    retiring_.clear();
}

void Terminator::resizeWorkers(unsigned count)
{
    std::erase_if(retiring_, [](const auto& w) { return w->finished(); }); // joins them
    if (count == workers_.size())
        return;
    const bool first = workers_.empty();
    while (workers_.size() > count) {
        workers_.back()->retire();
        retiring_.push_back(std::move(workers_.back()));
        workers_.pop_back();
    }
    while (workers_.size() < count) {
        auto worker = std::make_unique<Worker>(shared_, static_cast<unsigned>(workers_.size()));
        for (const auto& [name, listener] : listeners_)
            worker->addListener(listener);
        if (signerBroker_)
            worker->attachSigner(UniqueFd(::fcntl(signerBroker_.get(), F_DUPFD_CLOEXEC, 3)));
        workers_.push_back(std::move(worker));
    }
    std::string line = "certd-tls: " + std::to_string(count) + " worker(s)";
    if (!first)
        line += " now; " + std::to_string(retiring_.size()) + " retiring once their connections end";
    log::info(line);
}

void Terminator::setSigner(UniqueFd broker)
{
    signerBroker_ = std::move(broker);
    for (auto& w : workers_)
        w->attachSigner(UniqueFd(::fcntl(signerBroker_.get(), F_DUPFD_CLOEXEC, 3)));
}

void Terminator::stopAccepting()
{
    for (auto& w : workers_)
        for (const auto& [name, listener] : listeners_)
            w->removeListener(listener.get());
    syncWorkers();
    for (const auto& [name, listener] : listeners_)
        listener->closeSocket();
    listeners_.clear();
}

void Terminator::syncWorkers()
{
    for (auto* pool : {&workers_, &retiring_})
        for (auto& w : *pool)
            if (!w->sync(std::chrono::seconds(2)))
                log::warning("certd-tls: a worker is slow to take a new generation");
}

wire::Ack Terminator::apply(const wire::Snapshot& snapshot, std::map<std::string, UniqueFd>& sockets)
{
    const DesiredState& s = snapshot.state;
    wire::Ack ack;
    ack.generation = snapshot.generation;

    auto settings = std::make_shared<RuntimeSettings>(*shared_.settings.load());
    settings->proxyV2 = s.proxyProtocol == ProxyProtocol::V2;
    settings->handshakeTimeout = s.handshakeTimeout;
    settings->idleTimeout = s.idleTimeout;
    const unsigned workers = s.workers ? s.workers : usableCpus();
    settings->maxConnections = connectionLimit(std::max(1U, s.maxConnections), s.listeners.size(), workers);
    try {
        resolveBackend(s.backend, *settings);
    } catch (const Error& e) {
        ack.error = e.what(); // keep forwarding to the last backend that resolved
    }
    shared_.settings.store(std::move(settings));

    // Certificate contexts: built here, on the control thread, never by a worker. They carry
    // the profile's cipher list, so a profile change rebuilds them all.
    // Forwarded keys (no key in the material) need handshakes in ASYNC jobs: certd's snapshots
    // either all carry keys (--terminator-holds-keys) or none.
    const bool asyncSigning = std::any_of(s.certificates.begin(), s.certificates.end(),
                                          [](const CertificateMaterial& m) { return m.keyPkcs8.empty(); });
    const bool newFront = profile_ != s.profile || s.flush || asyncSigning != asyncSigning_;
    asyncSigning_ = asyncSigning;
    if (profile_ != s.profile) {
        certificates_.clear();
        challengeContexts_.clear(); // they carry the profile's cipher list too
    }
    std::map<std::string, wire::CertificateError> rejected;
    std::set<std::string> present;
    for (const auto& m : s.certificates) {
        present.insert(m.id);
        const auto digest = pki::sha256(m.keyPkcs8);
        auto cached = certificates_.find(m.id);
        if (cached != certificates_.end() && cached->second.chainPem == m.chainPem &&
            cached->second.keyDigest == digest)
            continue;
        try {
            auto context = buildCertificateContext(m, s.profile);
            certificates_[m.id] = {m.chainPem, digest, std::move(context)};
        } catch (const Error& e) {
            rejected[m.id] = {m.id, e.code(), e.what()};
            certificates_.erase(m.id);
        }
    }
    std::erase_if(certificates_, [&](const auto& entry) { return !present.contains(entry.first); });
    for (const auto& [id, error] : rejected)
        ack.certificates.push_back(error);

    profile_ = s.profile;
    if (s.flush)
        shared_.ticketKeys.reset(); // every ticket issued so far stops resuming

    // ACME tls-alpn-01 challenges: usually none; each listener gets those for its address.
    std::set<std::string> challengeIds;
    std::vector<std::pair<const AcmeChallenge*, std::shared_ptr<const CertificateContext>>> challenges;
    for (const auto& c : s.challenges) {
        if (c.kind != AcmeChallenge::Kind::TlsAlpn01)
            continue;
        challengeIds.insert(c.certificate.id);
        auto& context = challengeContexts_[c.certificate.id];
        try {
            if (!context)
                context = buildChallengeContext(c.certificate, s.profile);
            challenges.emplace_back(&c, context);
        } catch (const Error& e) {
            challengeContexts_.erase(c.certificate.id);
            log::warning(std::string("certd-tls: cannot serve an ACME challenge certificate: ") + e.what());
        }
    }
    std::erase_if(challengeContexts_, [&](const auto& entry) { return !challengeIds.contains(entry.first); });
    auto challengesFor = [&](const std::string& address) {
        auto list = std::make_shared<Challenges>();
        for (const auto& [c, context] : challenges)
            if (c->address.empty() || c->address == address)
                list->push_back({c->serverName, !c->address.empty(), context});
        return list;
    };

    std::vector<std::shared_ptr<Listener>> added;
    std::vector<std::shared_ptr<Listener>> removed;
    std::set<std::string> wanted;
    for (const auto& l : s.listeners) {
        const std::string name = endpointName(l.address, l.port);
        wanted.insert(name);
        ListenerStatus status;
        status.address = l.address;
        status.port = l.port;
        auto existing = listeners_.find(name);
        std::shared_ptr<Listener> listener;
        if (auto socket = sockets.extract(name)) {
            // A new socket for this endpoint (first time, or certd bound it again).
            listener = std::make_shared<Listener>(name, std::move(socket.mapped()), shared_.ticketKeys,
                                                  buildFrontContext(s.profile, asyncSigning));
            if (existing != listeners_.end()) {
                listener->setCertificate(existing->second->certificate());
                removed.push_back(existing->second);
            }
            listeners_[name] = listener;
            added.push_back(listener);
        } else if (existing != listeners_.end()) {
            listener = existing->second;
            if (newFront)
                listener->setFront(buildFrontContext(s.profile, asyncSigning));
        } else {
            status.state = ListenerState::Error;
            status.error = "certd-tls has no socket for " + name;
            status.errorCode = ErrorCode::Internal;
            ack.listeners.push_back(std::move(status));
            continue;
        }

        listener->setChallenges(challengesFor(l.address));
        const auto cert = certificates_.find(l.certificateId);
        if (cert != certificates_.end()) {
            listener->setCertificate(cert->second.context);
        } else if (auto r = rejected.find(l.certificateId); r != rejected.end()) {
            status.error = r->second.message;
            status.errorCode = r->second.code;
        } else {
            status.error = "certificate " + l.certificateId + " is not in the snapshot";
            status.errorCode = ErrorCode::NotFound;
        }
        const auto serving = listener->certificate();
        status.state = serving ? ListenerState::Listening : ListenerState::Error;
        status.servingCertificateId = serving ? serving->id : std::string();
        if (!status.error.empty() && serving)
            status.error += "; still serving certificate " + serving->id;
        ack.listeners.push_back(std::move(status));
    }
    for (auto it = listeners_.begin(); it != listeners_.end();) {
        if (wanted.contains(it->first)) {
            ++it;
            continue;
        }
        removed.push_back(it->second);
        it = listeners_.erase(it);
    }
    // http-01: the plain-HTTP sockets certd bound at the challenge port of each listener address.
    std::map<std::string, UniqueFd> httpSockets;
    std::set<std::string> httpWanted;
    if (s.httpChallengePort != 0)
        for (const auto& l : s.listeners) {
            const std::string name = endpointName(l.address, s.httpChallengePort);
            httpWanted.insert(name);
            if (auto socket = sockets.extract(name))
                httpSockets.emplace(name, std::move(socket.mapped()));
        }
    std::map<std::string, std::string> tokens;
    for (const auto& c : s.challenges)
        if (c.kind == AcmeChallenge::Kind::Http01)
            tokens[c.token] = c.keyAuthorization;
    if (!httpWanted.empty() && !http_)
        http_ = std::make_unique<HttpChallengeResponder>();
    if (http_)
        http_->update(std::move(httpSockets), httpWanted, std::move(tokens));
    sockets.clear(); // sockets for endpoints the snapshot does not list

    for (auto& w : workers_) {
        for (const auto& r : removed)
            w->removeListener(r.get());
        for (const auto& a : added)
            w->addListener(a);
    }
    // After the listener changes, so that a new worker starts with exactly the listeners above.
    resizeWorkers(workers);
    syncWorkers();
    // No worker polls them now; open connections keep their Listener but not its socket.
    for (const auto& r : removed)
        r->closeSocket();
    return ack;
}

} // namespace certd::tls
