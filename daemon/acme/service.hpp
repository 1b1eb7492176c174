#pragma once

// Runs ACME orders (RFC 8555) to their certificates and renews them, without blocking the bus:
// each step of an order is a job of its own pool (network I/O on a worker thread); between steps,
// on the loop thread, what the order reached is stored (Manager::updateAcmeOrder) and made
// durable (the flow's next settle) before the next step starts, so a SIGKILL at any instant
// resumes the same CA order: no duplicate order, no certificate issued and lost.
//
//   begin     account (registered once), the CA's order (new, or the stored one again), the
//             authorizations still pending and what answers them        → store, serve challenges
//   validate  respond to each challenge, wait for the authorizations and
//             for the order to be ready                                 → stop serving challenges
//   issue     finalize with a CSR of the order's key (stored before), wait,
//             download the chain, check it belongs to the key           → import, bind, store
//
// The challenges go to certd-tls through the Link (tls::AcmeChallenge) and are served once the
// terminator acknowledged them. The renewed certificate replaces the old one on all its addresses
// in one step (Manager::replaceCertificate, pre-flight included); the old one stays until the
// operator deletes it. A failed renewal leaves the old certificate serving, sets Error, emits
// onRenewalFailed and is retried with exponential back-off.

#include "acme/protocol.hpp"
#include "change_flow.hpp"
#include "event_loop.hpp"
#include "manager/manager.hpp"
#include "work_pool.hpp"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace certd::terminator {
class Link;
}

namespace certd::acme {

// What CreateAcmeOrder asks for (the bus layer parsed a{sv}).
struct OrderSpec {
    StoredAcmeOrder order; // what is stored: directory, identifiers, challenge, key, assign, ...
    std::optional<ExternalAccountBinding> eab;
};

// The wait before retry number `failures` (1, 2, ...): base, 2 base, 4 base, ... at most `max`.
std::uint64_t retryDelayUSec(unsigned failures, std::uint64_t baseUSec, std::uint64_t maxUSec);

struct ServiceOptions {
    std::uint64_t retryBaseUSec = 30'000'000;              // first back-off after a failure
    std::uint64_t retryMaxUSec = 24ULL * 3600 * 1'000'000; // back-off cap
    std::chrono::milliseconds pollTimeout{120'000};
    std::filesystem::path dnsHook; // acme_dns_hook: dns-01 through this program (hook.hpp); empty: no dns-01
};

class Service {
public:
    Service(EventLoop& loop, Manager& manager, ChangeFlow& flow, terminator::Link& link,
            ServiceOptions options = {});
    ~Service();
    Service(const Service&) = delete;
    Service& operator=(const Service&) = delete;

    // Resumes what the store holds: orders in progress run again (their CA order, if they had
    // one), failed ones retry, valid ones wait for their renewal time.
    void start();

    // Validates `spec` (InvalidArgument naming the key), stores the order and starts it.
    // Returns its id and warnings (e.g. an IP identifier that is not an appliance address).
    std::pair<std::string, std::vector<pki::Warning>> create(OrderSpec spec);
    // Runs the order now: a renewal when it has a certificate, else a new attempt. Busy while
    // a step of it runs.
    void renew(const std::string& id);
    // Stops the order (a running step's result is dropped) and forgets it; its certificates stay.
    void remove(const std::string& id);

    // acme_dns_hook after a reload: steps that start from now on use it.
    void setDnsHook(std::filesystem::path hook) { options_.dnsHook = std::move(hook); }
    // acme_retry_seconds after a reload: failures from now on wait this long first.
    void setRetryBase(std::uint64_t usec) { options_.retryBaseUSec = usec; }

    // Whether a step of the order runs now (for the bus: GetStatus; for tests).
    bool running(const std::string& id) const;

    // A renewal failed: (order id, error name, message). The bus emits AcmeOrder.RenewalFailed.
    std::function<void(const std::string&, const std::string&, const std::string&)> onRenewalFailed;

private:
    struct Run;
    struct Begun;
    struct Validated;
    struct Issued;

    void launch(const std::string& id);
    void begin(const std::shared_ptr<Run>& run);
    void afterBegin(const std::shared_ptr<Run>& run, Begun& begun);
    void validate(const std::shared_ptr<Run>& run, std::vector<std::string> authorizations);
    void issue(const std::shared_ptr<Run>& run, Order order);
    void afterIssue(const std::shared_ptr<Run>& run, Issued& issued);
    void fail(const std::shared_ptr<Run>& run, const std::exception_ptr& error);
    // Runs `work` on the pool, then `then` on the loop thread if the run is still current; an
    // exception from either goes to fail().
    void submitStep(const std::shared_ptr<Run>& run, std::function<void()> work, std::function<void()> then);
    // Runs `next` once what was stored until now is durable, if the run is still current.
    void whenDurable(const std::shared_ptr<Run>& run, std::function<void()> next);
    bool current(const std::shared_ptr<Run>& run) const;
    void finish(const std::shared_ptr<Run>& run);
    void serveChallenges(const std::string& id, std::vector<tls::AcmeChallenge> challenges);
    void armTimer();
    void onTimer();
    ServerOptions serverOptions(const StoredAcmeOrder& order) const;
    std::uint64_t now() const;

    EventLoop& loop_;
    Manager& manager_;
    ChangeFlow& flow_;
    terminator::Link& link_;
    ServiceOptions options_;
    std::map<std::string, std::shared_ptr<Run>> runs_;              // by order id: the step running
    std::map<std::string, ExternalAccountBinding> eab_;             // until the account exists
    std::map<std::string, std::vector<tls::AcmeChallenge>> served_; // by order id
    std::map<std::string, unsigned> failures_;                      // consecutive, by order id
    std::map<std::string, std::uint64_t> retryAt_;                  // by order id
    EventLoop::Timer timer_;
    // Last: destroyed first, so no finished step reaches a half-destroyed service.
    WorkPool pool_;
};

} // namespace certd::acme
