#include "acme/service.hpp"

#include "acme/challenge.hpp"
#include "acme/hook.hpp"
#include "error.hpp"
#include "log.hpp"
#include "pki/certificate.hpp"
#include "pki/key.hpp"
#include "terminator/link.hpp"

#include <openssl/err.h>
#include <openssl/pem.h>

#include <algorithm>
#include <chrono>

namespace certd::acme {
namespace {

// The CA said no to this order (a challenge or the order is invalid): a new order is needed,
// and retrying the same one cannot help.
class Refused : public Error {
public:
    explicit Refused(const std::string& message) : Error(ErrorCode::AcmeFailed, message) {}
};

constexpr std::uint64_t kDefaultRenewPercent = 66;

std::string orderPath(const std::string& id)
{
    return "/org/certd1/acme_order/" + id;
}

std::vector<Identifier> identifiersOf(const StoredAcmeOrder& order)
{
    std::vector<Identifier> ids;
    for (const auto& text : order.identifiers)
        ids.push_back(parseIdentifier(text));
    return ids;
}

pki::EvpPkeyPtr shared(EVP_PKEY* key)
{
    EVP_PKEY_up_ref(key);
    return pki::EvpPkeyPtr(key);
}

// A CSR for the identifiers: SANs only (RFC 8555 §7.4), plus a DNS common name that fits.
Bytes csrFor(const std::vector<Identifier>& ids, EVP_PKEY* key)
{
    pki::CertificateSpec spec;
    for (const auto& id : ids)
        spec.subjectAltNames.push_back(
            {id.type == Identifier::Type::Ip ? pki::SubjectAltName::Type::Ip : pki::SubjectAltName::Type::Dns,
             id.value});
    if (!ids.empty() && ids.front().type == Identifier::Type::Dns && ids.front().value.size() <= 64)
        spec.subject.commonName = ids.front().value;
    const pki::X509ReqPtr req = pki::createRequest(spec, key);
    return pki::i2dBytes(req.get(), i2d_X509_REQ, "the ACME request");
}

// Tells the CA to validate each challenge, waits for the authorizations, then for the order to be
// ready (every authorization valid). A refusal is Refused: this order cannot succeed any more.
void validateAll(const ServerOptions& server, const std::shared_ptr<EVP_PKEY>& key,
                 const std::string& accountUrl,
                 const std::vector<std::pair<std::string, std::string>>& pending, const std::string& orderUrl,
                 Order& validated)
{
    Client client(server, shared(key.get()), accountUrl);
    for (const auto& [authz, challenge] : pending)
        client.respond(challenge);
    for (const auto& [url, challenge] : pending) {
        const Authorization authz = client.waitForAuthorization(url);
        if (authz.status != "valid")
            throw Refused("the ACME server could not validate " + authz.identifier.value + " (" +
                          authz.status + ")" + (authz.error.empty() ? "" : ": " + authz.error));
    }
    validated = client.waitForOrder(orderUrl, true);
    if (validated.status == "invalid" || validated.status == "pending")
        throw Refused("the ACME order " + orderUrl + " is " + validated.status +
                      (validated.error.empty() ? "" : ": " + validated.error));
}

} // namespace

std::uint64_t retryDelayUSec(unsigned failures, std::uint64_t baseUSec, std::uint64_t maxUSec)
{
    std::uint64_t delay = baseUSec;
    for (unsigned i = 1; i < failures && delay < maxUSec; ++i)
        delay *= 2;
    return std::min(delay, maxUSec);
}

struct Service::Run {
    std::string id;
    bool renewal = false; // the order has a certificate: failures leave it serving
    pki::EvpPkeyPtr accountKey;
    std::string accountUrl;
};

struct Service::Begun {
    std::optional<ParsedKey> accountKey; // made now: the order had none
    std::optional<ParsedKey> certificateKey;
    std::string accountUrl;
    Order order;
    std::vector<std::pair<std::string, std::string>> pending; // (authorization URL, challenge URL)
    std::vector<tls::AcmeChallenge> challenges;
    std::vector<DnsRecord> dnsRecords; // dns-01
};

struct Service::Issued {
    Manager::ParsedImport parsed;
    std::string leafId;
};

Service::Service(EventLoop& loop, Manager& manager, ChangeFlow& flow, terminator::Link& link,
                 ServiceOptions options)
    : loop_(loop), manager_(manager), flow_(flow), link_(link), options_(std::move(options)),
      timer_(loop, [this] { onTimer(); }), pool_(loop.get(), WorkPoolOptions{"ACME", 2, 64, 256})
{
}

Service::~Service() = default;

std::uint64_t Service::now() const
{
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                          std::chrono::system_clock::now().time_since_epoch())
                                          .count());
}

void Service::start()
{
    // Collected first: launching stores (the order shows pending again), which may replace the map.
    std::vector<std::pair<std::string, AcmeOrderState>> resumed;
    for (const auto& [id, order] : manager_.acmeOrders()) {
        const bool interrupted = order.state == AcmeOrderState::Pending ||
                                 order.state == AcmeOrderState::Processing ||
                                 order.state == AcmeOrderState::Failed;
        if (interrupted || (order.state == AcmeOrderState::Valid && !order.orderUrl.empty()))
            resumed.emplace_back(id, order.state);
    }
    for (const auto& [id, state] : resumed) {
        log::info("ACME order " + id + ": resuming (" + std::string(acmeOrderStateName(state)) + ")",
                  {{"CERTD_OBJECT", orderPath(id)}});
        launch(id);
    }
    armTimer();
}

std::pair<std::string, std::vector<pki::Warning>> Service::create(OrderSpec spec)
{
    StoredAcmeOrder& order = spec.order;
    std::vector<pki::Warning> warnings;
    if (order.directoryUrl.rfind("https://", 0) != 0)
        throw Error(ErrorCode::InvalidArgument, "directory_url: must be an https URL (RFC 8555 §6.1)");
    if (order.identifiers.empty())
        throw Error(ErrorCode::InvalidArgument, "identifiers: at least one DNS name or IP address");
    if (order.identifiers.size() > 100)
        throw Error(ErrorCode::InvalidArgument, "identifiers: at most 100");
    if (order.challenge.empty())
        order.challenge = "tls-alpn-01";
    if (order.challenge != "tls-alpn-01" && order.challenge != "http-01" && order.challenge != "dns-01")
        throw Error(ErrorCode::InvalidArgument,
                    "challenge: '" + order.challenge + "' is not one of tls-alpn-01, http-01, dns-01");
    if (order.challenge == "dns-01" && options_.dnsHook.empty())
        throw Error(
            ErrorCode::InvalidArgument,
            "challenge: dns-01 needs a hook that publishes TXT records (acme_dns_hook in certd.yaml)");
    std::vector<std::string> canonical;
    for (const auto& text : order.identifiers) {
        const Identifier id = parseIdentifier(text);
        if (id.value.rfind("*.", 0) == 0 && order.challenge != "dns-01")
            throw Error(ErrorCode::InvalidArgument,
                        "identifiers: the wildcard '" + id.value + "' needs the dns-01 challenge");
        if (id.type == Identifier::Type::Ip && order.challenge == "dns-01")
            throw Error(ErrorCode::InvalidArgument,
                        "identifiers: the IP address " + id.value + " cannot be validated with dns-01");
        if (std::find(canonical.begin(), canonical.end(), id.value) != canonical.end())
            throw Error(ErrorCode::InvalidArgument, "identifiers: '" + id.value + "' is listed twice");
        canonical.push_back(id.value);
        if (id.type == Identifier::Type::Ip && !manager_.addresses().count(id.value))
            warnings.push_back({"identifier-not-served",
                                "certd serves no address " + id.value +
                                    ": the CA's validation connects there and must reach certd-tls"});
    }
    order.identifiers = canonical;
    if (!order.fixedKeyId.empty()) {
        manager_.key(order.fixedKeyId); // NotFound
        order.keyType.clear();
    } else {
        if (order.keyType.empty())
            order.keyType = "ec-p256";
        if (!pki::parseKeyType(order.keyType))
            throw Error(ErrorCode::InvalidArgument,
                        "key_type: '" + order.keyType + "' is not one of " + pki::keyTypeNames());
    }
    if (!order.caBundle.empty()) {
        const auto bio = pki::memoryBio(asBytes(order.caBundle));
        const pki::X509Ptr first(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
        ERR_clear_error();
        if (!first)
            throw Error(ErrorCode::InvalidArgument, "ca_bundle: holds no PEM certificate");
    }
    for (auto& address : order.assign) {
        const auto parsed = parseIdentifier(address);
        if (parsed.type != Identifier::Type::Ip)
            throw Error(ErrorCode::InvalidArgument, "assign: '" + address + "' is not an IP address");
        address = parsed.value;
        manager_.address(address); // NotFound for an address certd does not serve
    }
    if (order.renewPercent > 99)
        throw Error(ErrorCode::InvalidArgument, "renew_percent: 1 to 99");
    if (order.friendlyName.size() > 256)
        throw Error(ErrorCode::InvalidArgument, "friendly_name: at most 256 characters");
    if (order.friendlyName.empty())
        order.friendlyName = "ACME " + order.identifiers.front();
    // One account per ACME server and contact: reuse what another order registered.
    for (const auto& [otherId, other] : manager_.acmeOrders())
        if (other.directoryUrl == order.directoryUrl && other.contact == order.contact &&
            !other.accountKeyId.empty() && !other.accountUrl.empty() && other.caBundle == order.caBundle) {
            order.accountKeyId = other.accountKeyId;
            order.accountUrl = other.accountUrl;
            break;
        }
    order.state = AcmeOrderState::Pending;
    const std::string id = manager_.createAcmeOrder(order, {});
    if (spec.eab)
        eab_[id] = *spec.eab;
    // Starts once the order is stored: a step's result always has a stored order to go to.
    flow_.whenSettled([this, id](const std::exception_ptr& failure) {
        if (!failure && manager_.acmeOrders().count(id))
            launch(id);
    });
    return {id, warnings};
}

void Service::renew(const std::string& id)
{
    const StoredAcmeOrder& order = manager_.acmeOrder(id);
    if (running(id))
        throw Error(ErrorCode::Busy, "ACME order " + id + " is running a step now");
    if (order.state == AcmeOrderState::Invalid) {
        StoredAcmeOrder next = order;
        next.orderUrl.clear();
        manager_.updateAcmeOrder(id, next);
    }
    failures_.erase(id);
    retryAt_.erase(id);
    launch(id);
}

void Service::remove(const std::string& id)
{
    manager_.deleteAcmeOrder(id);
    runs_.erase(id);
    serveChallenges(id, {});
    failures_.erase(id);
    retryAt_.erase(id);
    eab_.erase(id);
    armTimer();
}

bool Service::running(const std::string& id) const
{
    return runs_.count(id) > 0;
}

bool Service::current(const std::shared_ptr<Run>& run) const
{
    const auto it = runs_.find(run->id);
    return it != runs_.end() && it->second == run && manager_.acmeOrders().count(run->id);
}

void Service::finish(const std::shared_ptr<Run>& run)
{
    if (current(run))
        runs_.erase(run->id);
    armTimer();
}

ServerOptions Service::serverOptions(const StoredAcmeOrder& order) const
{
    ServerOptions server;
    server.directoryUrl = order.directoryUrl;
    server.caBundlePem = order.caBundle;
    server.cancel = &pool_.cancelled();
    server.pollTimeout = options_.pollTimeout;
    return server;
}

void Service::launch(const std::string& id)
{
    if (running(id))
        return;
    const StoredAcmeOrder& order = manager_.acmeOrder(id);
    auto run = std::make_shared<Run>();
    run->id = id;
    run->renewal = order.state == AcmeOrderState::Valid && !order.certificateId.empty();
    runs_[id] = run;
    retryAt_.erase(id);
    if (!run->renewal && order.state != AcmeOrderState::Pending &&
        order.state != AcmeOrderState::Processing) {
        // A new attempt (Renew, a retry): the order shows it works again; Error keeps the last failure.
        StoredAcmeOrder next = order;
        next.state = AcmeOrderState::Pending;
        manager_.updateAcmeOrder(id, next);
    }
    try {
        begin(run);
    } catch (...) {
        fail(run, std::current_exception()); // e.g. the pool is full: stored, and retried later
    }
}

void Service::submitStep(const std::shared_ptr<Run>& run, std::function<void()> work,
                         std::function<void()> then)
{
    pool_.submit(run->id, WorkPool::Job{std::move(work),
                                        [this, run, then = std::move(then)](const std::exception_ptr& error) {
                                            if (!current(run))
                                                return; // deleted, or a newer run: its result is dropped
                                            if (error) {
                                                fail(run, error);
                                                return;
                                            }
                                            try {
                                                then();
                                            } catch (...) {
                                                fail(run, std::current_exception());
                                            }
                                        }});
}

void Service::whenDurable(const std::shared_ptr<Run>& run, std::function<void()> next)
{
    flow_.whenSettled([this, run, next = std::move(next)](const std::exception_ptr& failure) {
        if (!current(run))
            return;
        if (failure) {
            fail(run, failure);
            return;
        }
        try {
            next();
        } catch (...) {
            fail(run, std::current_exception());
        }
    });
}

void Service::begin(const std::shared_ptr<Run>& run)
{
    const StoredAcmeOrder order = manager_.acmeOrder(run->id);
    if (!order.accountKeyId.empty())
        run->accountKey = manager_.acmeKey(order.accountKeyId);
    std::optional<ExternalAccountBinding> eab;
    if (const auto it = eab_.find(run->id); it != eab_.end())
        eab = it->second;
    auto begun = std::make_shared<Begun>();
    const ServerOptions server = serverOptions(order);
    const bool needKey = order.keyId.empty() && order.fixedKeyId.empty();
    pki::EvpPkeyPtr accountKey = run->accountKey ? shared(run->accountKey.get()) : nullptr;
    auto work = [begun, order, eab, server, needKey,
                 accountKey = std::shared_ptr<EVP_PKEY>(accountKey.release(), EVP_PKEY_free)]() {
        pki::EvpPkeyPtr key = accountKey ? shared(accountKey.get()) : nullptr;
        if (!key) {
            begun->accountKey = parseKey(pki::generateKey(pki::KeyType::EcP256));
            key = shared(begun->accountKey->key.get());
        }
        if (needKey)
            begun->certificateKey = parseKey(pki::generateKey(*pki::parseKeyType(order.keyType)));
        std::string accountUrl = begun->accountKey ? std::string() : order.accountUrl;
        auto client = std::make_unique<Client>(server, shared(key.get()), accountUrl);
        try {
            begun->accountUrl = client->ensureAccount(order.contact, eab ? &*eab : nullptr);
            begun->order = order.orderUrl.empty() ? client->newOrder(identifiersOf(order))
                                                  : client->getOrder(order.orderUrl);
        } catch (const Error& e) {
            // The server forgot the account (a test CA restarted, an account deactivated): the key
            // registers again, and a new order follows; the stored one belonged to that account.
            if (e.code() != ErrorCode::AcmeFailed ||
                std::string(e.what()).find("accountDoesNotExist") == std::string::npos)
                throw;
            client = std::make_unique<Client>(server, shared(key.get()), std::string());
            begun->accountUrl = client->ensureAccount(order.contact, eab ? &*eab : nullptr);
            begun->order = client->newOrder(identifiersOf(order));
        }
        if (begun->order.status == "invalid")
            throw Refused("the ACME server's order " + begun->order.url + " is invalid" +
                          (begun->order.error.empty() ? std::string() : ": " + begun->order.error));
        if (begun->order.status != "pending")
            return;
        for (const auto& url : begun->order.authorizations) {
            const Authorization authz = client->getAuthorization(url);
            if (authz.status == "valid")
                continue;
            if (authz.status != "pending")
                throw Refused("the authorization of " + authz.identifier.value + " is " + authz.status +
                              (authz.error.empty() ? std::string() : ": " + authz.error));
            const auto challenge =
                std::find_if(authz.challenges.begin(), authz.challenges.end(),
                             [&](const Challenge& c) { return c.type == order.challenge; });
            if (challenge == authz.challenges.end() || challenge->token.empty())
                throw Refused("the ACME server offers no " + order.challenge + " challenge for " +
                              authz.identifier.value);
            const std::string keyAuthorization = client->keyAuthorization(challenge->token);
            const Identifier id = parseIdentifier(authz.identifier.value);
            if (order.challenge == "dns-01")
                begun->dnsRecords.push_back({(authz.wildcard ? "*." : "") + authz.identifier.value,
                                             dnsRecordName(authz.identifier.value),
                                             dnsTxtValue(keyAuthorization)});
            else if (order.challenge == "http-01")
                begun->challenges.push_back(httpChallenge(challenge->token, keyAuthorization));
            else
                begun->challenges.push_back(
                    tlsAlpnChallenge(id, keyAuthorization, id.type == Identifier::Type::Ip ? id.value : ""));
            begun->pending.emplace_back(authz.url, challenge->url);
        }
    };
    submitStep(run, std::move(work), [this, run, begun] { afterBegin(run, *begun); });
}

void Service::afterBegin(const std::shared_ptr<Run>& run, Begun& begun)
{
    StoredAcmeOrder order = manager_.acmeOrder(run->id);
    std::vector<ParsedKey> newKeys;
    if (begun.accountKey) {
        order.accountKeyId = begun.accountKey->id;
        run->accountKey = shared(begun.accountKey->key.get());
        newKeys.push_back(std::move(*begun.accountKey));
    }
    if (begun.certificateKey) {
        order.keyId = begun.certificateKey->id;
        newKeys.push_back(std::move(*begun.certificateKey));
    }
    order.accountUrl = begun.accountUrl;
    run->accountUrl = begun.accountUrl;
    order.orderUrl = begun.order.url;
    if (!run->renewal)
        order.state = begun.order.status == "pending" ? AcmeOrderState::Pending : AcmeOrderState::Processing;
    manager_.updateAcmeOrder(run->id, order, newKeys);
    eab_.erase(run->id); // the account exists now

    if (begun.order.status != "pending") {
        whenDurable(run, [this, run, o = begun.order] { issue(run, o); });
        return;
    }
    log::info("ACME order " + run->id + ": answering " + std::to_string(begun.pending.size()) + " " +
                  order.challenge + " challenge(s) for " + std::to_string(order.identifiers.size()) +
                  " identifier(s)",
              {{"CERTD_OBJECT", orderPath(run->id)}});
    serveChallenges(run->id, std::move(begun.challenges));
    // The settle that makes the order durable also sends the challenges to certd-tls and
    // returns once it acknowledged them: only then may the CA connect.
    auto pending = begun.pending;
    auto dnsRecords = begun.dnsRecords;
    const std::string orderUrl = begun.order.url;
    whenDurable(run, [this, run, pending, dnsRecords, orderUrl] {
        const StoredAcmeOrder stored = manager_.acmeOrder(run->id);
        auto validated = std::make_shared<Order>();
        auto work = [validated, pending, orderUrl, server = serverOptions(stored),
                     key = std::shared_ptr<EVP_PKEY>(shared(run->accountKey.get()).release(), EVP_PKEY_free),
                     accountUrl = run->accountUrl, dnsRecords, hook = options_.dnsHook,
                     cancel = &pool_.cancelled()]() {
            // dns-01: the records are published before the CA is told to look, and taken away
            // afterwards whatever the outcome.
            std::size_t published = 0;
            auto unpublish = [&] {
                for (std::size_t i = 0; i < published; ++i) {
                    try {
                        // Also when certd stops: a few seconds to take the record away again.
                        runDnsHook(hook, "remove", dnsRecords[i],
                                   {.cancel = cancel, .graceOnCancel = std::chrono::seconds(10)});
                    } catch (const std::exception& e) {
                        log::warning(std::string("ACME: ") + e.what());
                    }
                }
            };
            try {
                for (; published < dnsRecords.size(); ++published)
                    runDnsHook(hook, "add", dnsRecords[published], {.cancel = cancel});
                validateAll(server, key, accountUrl, pending, orderUrl, *validated);
            } catch (...) {
                unpublish();
                throw;
            }
            unpublish();
        };
        submitStep(run, std::move(work), [this, run, validated] {
            serveChallenges(run->id, {}); // validated: withdrawn (fail() withdraws them too)
            StoredAcmeOrder next = manager_.acmeOrder(run->id);
            if (!run->renewal)
                next.state = AcmeOrderState::Processing;
            manager_.updateAcmeOrder(run->id, next);
            whenDurable(run, [this, run, o = *validated] { issue(run, o); });
        });
    });
}

void Service::issue(const std::shared_ptr<Run>& run, Order order)
{
    const StoredAcmeOrder stored = manager_.acmeOrder(run->id);
    const std::string keyId = stored.fixedKeyId.empty() ? stored.keyId : stored.fixedKeyId;
    auto certificateKey = std::shared_ptr<EVP_PKEY>(manager_.acmeKey(keyId).release(), EVP_PKEY_free);
    auto issued = std::make_shared<Issued>();
    auto work = [issued, order, certificateKey, ids = identifiersOf(stored), server = serverOptions(stored),
                 key = std::shared_ptr<EVP_PKEY>(shared(run->accountKey.get()).release(), EVP_PKEY_free),
                 accountUrl = run->accountUrl]() mutable {
        Client client(server, shared(key.get()), accountUrl);
        if (order.status == "ready")
            order = client.finalize(order.finalizeUrl, csrFor(ids, certificateKey.get()));
        if (order.status == "processing" || order.status == "ready")
            order = client.waitForOrder(order.url, false);
        if (order.status != "valid" || order.certificateUrl.empty())
            throw Refused("the ACME order " + order.url + " is " + order.status + " after finalization" +
                          (order.error.empty() ? "" : ": " + order.error));
        const std::string pem = client.downloadCertificate(order.certificateUrl);
        // The first certificate is the leaf (RFC 8555 §9.1); it must be for the order's key.
        const auto bio = pki::memoryBio(asBytes(pem));
        const pki::X509Ptr leaf(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
        ERR_clear_error();
        if (!leaf)
            throw Error(ErrorCode::InvalidCertificate, "the ACME server's certificate at " +
                                                           order.certificateUrl +
                                                           " is not a PEM certificate");
        if (X509_get0_pubkey(leaf.get()) == nullptr ||
            !pki::sameKey(X509_get0_pubkey(leaf.get()), certificateKey.get()))
            throw Error(ErrorCode::KeyMismatch, "the certificate the ACME server issued (" +
                                                    order.certificateUrl + ") is not for the order's key");
        issued->parsed = Manager::parseImportData(asBytes(pem), Secret());
        if (!issued->parsed.keys.empty())
            throw Error(ErrorCode::Malformed, "the ACME server's certificate chain carries a private key");
        issued->leafId = pki::certificateId(leaf.get());
    };
    submitStep(run, std::move(work), [this, run, issued] { afterIssue(run, *issued); });
}

void Service::afterIssue(const std::shared_ptr<Run>& run, Issued& issued)
{
    StoredAcmeOrder order = manager_.acmeOrder(run->id);
    const std::string previous = order.certificateId;
    manager_.commitImport(std::move(issued.parsed), order.friendlyName);
    const std::string& id = issued.leafId;
    std::string bindError;
    try {
        if (!previous.empty() && previous != id && manager_.certificates().count(previous)) {
            // Every address of the old certificate moves at once, pre-flight included.
            if (!manager_.addressesOf(previous).empty())
                manager_.replaceCertificate(previous, id);
        } else if (previous.empty()) {
            for (const auto& address : order.assign)
                manager_.assign(address, id);
        }
    } catch (const Error& e) {
        bindError = std::string("issued, but not bound: ") + e.what();
        order.errorName = std::string(errorName(e.code()));
    }
    const auto& info = manager_.certificate(id).info;
    const std::uint64_t lifetime =
        info.notAfterUSec > info.notBeforeUSec ? info.notAfterUSec - info.notBeforeUSec : 0;
    const std::uint64_t percent = order.renewPercent != 0 ? order.renewPercent : kDefaultRenewPercent;
    order.nextRenewalUSec = order.renewAfterSeconds != 0 ? now() + order.renewAfterSeconds * 1'000'000
                                                         : info.notBeforeUSec + lifetime / 100 * percent;
    order.state = AcmeOrderState::Valid;
    order.certificateId = id;
    order.orderUrl.clear();
    order.keyId.clear(); // the certificate holds it now; the next renewal makes a new one
    order.error = bindError;
    if (bindError.empty())
        order.errorName.clear();
    manager_.updateAcmeOrder(run->id, order);
    failures_.erase(run->id);
    log::notice("ACME order " + run->id + ": certificate " + id + (run->renewal ? " renewed" : " issued") +
                    (previous.empty() || !run->renewal ? "" : ", replacing " + previous),
                {{"CERTD_OBJECT", orderPath(run->id)}});
    finish(run);
}

void Service::fail(const std::shared_ptr<Run>& run, const std::exception_ptr& error)
{
    serveChallenges(run->id, {});
    if (!manager_.acmeOrders().count(run->id)) {
        runs_.erase(run->id);
        return;
    }
    std::string name = std::string(errorName(ErrorCode::Internal));
    std::string message = "internal error";
    bool refused = false;
    try {
        std::rethrow_exception(error);
    } catch (const Refused& e) {
        refused = true;
        name = std::string(errorName(e.code()));
        message = e.what();
    } catch (const Error& e) {
        name = std::string(errorName(e.code()));
        message = e.what();
    } catch (const std::exception& e) {
        message = e.what();
    }
    StoredAcmeOrder order = manager_.acmeOrder(run->id);
    const unsigned failures = ++failures_[run->id];
    const std::uint64_t backoff = retryDelayUSec(failures, options_.retryBaseUSec, options_.retryMaxUSec);
    order.errorName = name;
    order.error = message;
    if (refused || name == errorName(ErrorCode::KeyMismatch) ||
        name == errorName(ErrorCode::InvalidCertificate))
        order.orderUrl
            .clear(); // that CA order cannot give a usable certificate: the next attempt makes a new one
    if (run->renewal) {
        retryAt_[run->id] = now() + backoff;
        log::warning("ACME order " + run->id + ": renewal failed, certificate " + order.certificateId +
                         " keeps serving; retry in " + std::to_string(backoff / 1'000'000) + " s: " + message,
                     {{"CERTD_OBJECT", orderPath(run->id)}, {"CERTD_ERROR", name}});
        if (onRenewalFailed)
            onRenewalFailed(run->id, name, message);
    } else if (refused) {
        order.state = AcmeOrderState::Invalid;
        log::warning("ACME order " + run->id + " is invalid: " + message,
                     {{"CERTD_OBJECT", orderPath(run->id)}});
    } else {
        order.state = AcmeOrderState::Failed;
        retryAt_[run->id] = now() + backoff;
        log::warning("ACME order " + run->id + " failed; retry in " + std::to_string(backoff / 1'000'000) +
                         " s: " + message,
                     {{"CERTD_OBJECT", orderPath(run->id)}, {"CERTD_ERROR", name}});
    }
    runs_.erase(run->id);
    try {
        manager_.updateAcmeOrder(run->id, order);
    } catch (const std::exception& e) {
        log::error("ACME order " + run->id + ": cannot store its failure: " + e.what());
    }
    armTimer();
}

void Service::serveChallenges(const std::string& id, std::vector<tls::AcmeChallenge> challenges)
{
    if (challenges.empty() && !served_.count(id))
        return;
    if (challenges.empty())
        served_.erase(id);
    else
        served_[id] = std::move(challenges);
    std::vector<tls::AcmeChallenge> all;
    for (const auto& [order, list] : served_)
        all.insert(all.end(), list.begin(), list.end());
    link_.setChallenges(std::move(all));
    flow_.requestSync();
}

void Service::armTimer()
{
    std::optional<std::uint64_t> next;
    auto consider = [&](std::uint64_t at) { next = next ? std::min(*next, at) : at; };
    for (const auto& [id, order] : manager_.acmeOrders()) {
        if (running(id))
            continue;
        if (const auto it = retryAt_.find(id); it != retryAt_.end())
            consider(it->second);
        else if (order.state == AcmeOrderState::Valid && order.nextRenewalUSec != 0)
            consider(order.nextRenewalUSec);
    }
    if (next)
        timer_.arm(*next);
    else
        timer_.disarm();
}

void Service::onTimer()
{
    const std::uint64_t t = now();
    std::vector<std::string> due;
    for (const auto& [id, order] : manager_.acmeOrders()) {
        if (running(id))
            continue;
        const auto retry = retryAt_.find(id);
        if (retry != retryAt_.end() ? retry->second <= t
                                    : order.state == AcmeOrderState::Valid && order.nextRenewalUSec != 0 &&
                                          order.nextRenewalUSec <= t)
            due.push_back(id);
    }
    for (const auto& id : due) {
        try {
            launch(id);
        } catch (const std::exception& e) {
            log::error("ACME order " + id + ": cannot start: " + e.what());
        }
    }
    armTimer();
}

} // namespace certd::acme
