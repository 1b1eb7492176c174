#pragma once

// Puts the Manager on the bus: an object per certificate, key, request and
// address under /org/certd1, announced through the ObjectManager, and every
// mutation authorised, audited and answered only once durable and served.
// It maps; it never drives the domain: handlers call the Manager, mutate() settles the
// ChangeFlow before the reply, and publish() (a ChangeFlow subscriber) turns what changed
// into objects and signals.

#include "acme/service.hpp"
#include "auth.hpp"
#include "bus_error.hpp"
#include "change_flow.hpp"
#include "event_loop.hpp"
#include "manager/manager.hpp"
#include "work_pool.hpp"

#include <sdbus-c++/sdbus-c++.h>
#include <systemd/sd-bus.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <utility>

namespace certd::bus {

inline constexpr const char* kBusName = "org.certd1";
inline constexpr const char* kRootPath = "/org/certd1";

class ManagerObject;
class AddressObject;
class ObjectTree;

std::string certificatePath(const std::string& id);
std::string keyPath(const std::string& id);
std::string requestPath(const std::string& id);
std::string addressPath(const std::string& address);
std::string acmeOrderPath(const std::string& id);
std::string acmeAccountPath(const std::string& keyId);
// The id in a path under `prefix` ("/org/certd1/certificate/"); throws NotFound otherwise.
std::string idFromPath(const std::string& path, const std::string& prefix, const char* what);

struct ServiceInfo {
    std::string version;
    std::uint16_t port = 443;
    AuthPolicy auth;
    std::size_t maxMessageSize = 33554432; // the bus's max_message_size (Config::busMaxMessageSize)
    // Manager.Reload: applies the configuration file again (Reloader::reload); throws
    // Error(InvalidArgument) for a bad file, which changes nothing.
    std::function<void()> reload;
    std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
};

// Whether a bus object still exists. sd-bus checks a method return against the signature in
// the vtable of the object that got the call, so a reply can succeed only while that object
// is alive; a later one is answered NotFound (Service::mutate, mutateLater). Every
// sdbus-c++ object has one; the trees' vtables are static, their calls live for ever (Call).
class Lifeline {
public:
    std::weak_ptr<const void> lifeline() const { return token_; }

private:
    std::shared_ptr<const void> token_ = std::make_shared<char>(0);
};

// The call being processed, and the lifeline of the object it came to.
struct Callee {
    Callee(const sdbus::IObject& object, std::weak_ptr<const void> token)
        : message(*object.getCurrentlyProcessedMessage()), alive(std::move(token))
    {
    }
    Callee(const sdbus::Message& call, std::weak_ptr<const void> token)
        : message(call), alive(std::move(token))
    {
    }
    const sdbus::Message& message;
    std::weak_ptr<const void> alive;
};

// A call whose slow part runs on a worker thread (see Service::mutateLater).
template <typename Reply>
struct SlowCall {
    std::function<void()> build;   // on a worker: no Manager access
    std::function<Reply()> commit; // back on the bus thread: commits, returns the reply's values
};

// Which pool a slow call waits in: CPU-bound work (keys, signing, KDFs) or issuer downloads,
// so a hung HTTP server cannot hold up key generation and the reverse.
enum class Pool { Cpu, Fetch };

class Service {
public:
    // Subscribes to `flow`.
    Service(sdbus::IConnection& connection, EventLoop& loop, Manager& manager, ChangeFlow& flow,
            ServiceInfo info);
    ~Service();
    Service(const Service&) = delete;
    Service& operator=(const Service&) = delete;

    Manager& manager() { return manager_; }
    // ACME orders (CreateAcmeOrder, AcmeOrder.*); set once at start-up (setAcme), before the name.
    acme::Service& acme();
    void setAcme(acme::Service& acme) { acme_ = &acme; }
    // AcmeOrder.RenewalFailed.
    void emitAcmeRenewalFailed(const std::string& id, const std::string& errorName,
                               const std::string& message);
    const ServiceInfo& info() const { return info_; }

    // Creates, removes and refreshes objects for what changed; emits the signals.
    void publish(const Changes& changes);
    // The terminator's next sync also flushes session state (a compromise-driven swap).
    void requestFlush() { flow_.requestFlush(); }
    void emitManagerProperties(const std::vector<std::string>& names);
    void emitCertificateExpiring(const std::string& id, std::uint64_t notAfterUSec, unsigned days);
    // A reload: the port the addresses show, who may call what (from the next call on), and the
    // bus's message size limit.
    void reconfigure(std::uint16_t port, AuthPolicy auth, std::size_t maxMessageSize);

    // Runs a mutation: authorise the caller from the message being processed, run `body` (it
    // returns the reply's values: nothing, one value or a tuple), and reply when the change is
    // durable and served: after the flow's next settle, which flushes the Manager's staged
    // transactions for every call that arrived meanwhile at once (group commit). The outcome
    // is audited then. Errors reply in the same order, after the same settle.
    template <typename... Results, typename F>
    void mutate(const Callee& callee, sdbus::Result<Results...>&& result, const std::string& action,
                const std::string& target, Right right, F&& body)
    {
        auto reply = std::make_shared<sdbus::Result<Results...>>(std::move(result));
        Caller caller;
        try {
            caller = callerOf(callee.message);
            authorize(caller, right, info_.auth);
            std::tuple<Results...> values;
            if constexpr (std::is_void_v<decltype(body())>)
                body();
            else if constexpr (sizeof...(Results) == 1)
                values = std::tuple<Results...>(body());
            else
                values = body();
            replyWhenSettled(reply, callee.alive, std::move(values), nullptr, caller, action, target, right);
        } catch (...) {
            replyWhenSettled(reply, callee.alive, {}, std::current_exception(), caller, action, target,
                             right);
        }
    }

    // Runs a slow call without blocking the bus: on this thread authorise the caller (from
    // the message being processed) and run `prepare`, which reads what it needs from the
    // Manager and returns a SlowCall; its build() waits in `pool` (per caller, round-robin;
    // Busy beyond the caller's cap) and runs on a worker; commit() runs back on this thread,
    // then the flow settles, the outcome is audited (unless `right` is Read) and `result`
    // gets the reply. A reply still means durable and served.
    template <typename... Results, typename Prepare>
    void mutateLater(const Callee& callee, Pool pool, const std::string& action, const std::string& target,
                     Right right, sdbus::Result<Results...>&& result, Prepare&& prepare)
    {
        auto reply = std::make_shared<sdbus::Result<Results...>>(std::move(result));
        Caller caller;
        try {
            caller = callerOf(callee.message);
            authorize(caller, right, info_.auth);
            SlowCall<std::tuple<Results...>> call = prepare();
            auto commit = std::move(call.commit);
            poolFor(pool).submit(callee.message.getSender(),
                                 WorkPool::Job{std::move(call.build),
                                               [this, reply, alive = callee.alive, commit = std::move(commit),
                                                caller, action, target, right](std::exception_ptr error) {
                                                   finishLater(reply, alive, error, commit, caller, action,
                                                               target, right);
                                               }});
        } catch (...) {
            const sdbus::Error error = currentBusError();
            if (right != Right::Read)
                log::audit(action, target, caller.uid, caller.pid, error.getName());
            reply->returnError(error);
        }
    }

    std::string certificateIdFromPath(const std::string& path) const;
    // An upper bound of the size of the GetManagedObjects reply for the objects as they are.
    std::size_t managedObjectsSizeBound() const;
    // Why GetManagedObjects is refused now (its reply would outgrow the bus), or empty.
    std::string managedObjectsRefusal() const;
    // Slow calls queued or running, every caller and pool together (GetStatus).
    std::size_t pendingSlowCalls() const { return cpuPool_.pending() + fetchPool_.pending(); }
    // Set when certd shuts down: downloads stop early instead of holding the exit.
    const std::atomic<bool>& shuttingDown() const { return fetchPool_.cancelled(); }

private:
    WorkPool& poolFor(Pool pool) { return pool == Pool::Cpu ? cpuPool_ : fetchPool_; }
    template <typename... Results, typename Commit>
    void finishLater(const std::shared_ptr<sdbus::Result<Results...>>& reply,
                     const std::weak_ptr<const void>& alive, std::exception_ptr error, const Commit& commit,
                     const Caller& caller, const std::string& action, const std::string& target, Right right)
    {
        std::tuple<Results...> values;
        if (!error) {
            try {
                values = commit();
            } catch (...) {
                error = std::current_exception();
            }
        }
        replyWhenSettled(reply, alive, std::move(values), error, caller, action, target, right);
    }
    // Replies (values, or `error`) once the flow has settled what was staged until now, or
    // with the flush's error if that failed, or NotFound if the called object is gone (see
    // Lifeline); audits the outcome unless `right` is Read.
    template <typename... Results>
    void replyWhenSettled(std::shared_ptr<sdbus::Result<Results...>> reply, std::weak_ptr<const void> alive,
                          std::tuple<Results...> values, const std::exception_ptr& error, Caller caller,
                          std::string action, std::string target, Right right)
    {
        flow_.whenSettled([reply = std::move(reply), alive = std::move(alive), values = std::move(values),
                           error, caller, action = std::move(action), target = std::move(target),
                           right](const std::exception_ptr& failure) {
            std::exception_ptr outcome = error ? error : failure;
            if (!outcome && alive.expired())
                outcome = std::make_exception_ptr(
                    Error(ErrorCode::NotFound, "the object was removed before this call could be answered"));
            if (!outcome) {
                if (right != Right::Read)
                    log::audit(action, target, caller.uid, caller.pid, "ok");
                std::apply([&](const auto&... v) { reply->returnResults(v...); }, values);
                return;
            }
            sdbus::Error busError = sdbus::Error(std::string(errorName(ErrorCode::Internal)), "");
            try {
                std::rethrow_exception(outcome);
            } catch (...) {
                busError = currentBusError();
            }
            if (right != Right::Read)
                log::audit(action, target, caller.uid, caller.pid, busError.getName());
            reply->returnError(busError);
        });
    }

    // Objects whose removal a settle published are announced (InterfacesRemoved) then, but
    // unregistered and freed only after the current event: the settle's replies to calls on
    // them need their vtables (see Lifeline), and sd-bus and sdbus-c++ 1.2 touch an object
    // after its own handler returns (a settle may run inside one).
    void buryTheDead() { graveyard_.clear(); }
    void guardManagedObjects();
    void addAddressObject(const std::string& address, bool announce);

    sdbus::IConnection& connection_;
    EventLoop& loop_;
    Manager& manager_;
    ChangeFlow& flow_;
    ServiceInfo info_;
    std::unique_ptr<ManagerObject> managerObject_;
    // The ACME accounts, made from the orders (Manager::acmeAccounts) after each change of
    // them: published (announced unless at start-up), retracted, and PropertiesChanged when
    // their orders or URL changed.
    void publishAcmeAccounts(bool announce);
    std::unique_ptr<ObjectTree> certificates_, keys_, requests_, acmeOrders_, acmeAccounts_;
    struct AccountView {
        std::vector<std::string> orders;
        std::string url;
        bool operator==(const AccountView&) const = default;
    };
    std::map<std::string, AccountView> accountViews_;
    acme::Service* acme_ = nullptr;
    std::map<std::string, std::unique_ptr<AddressObject>> addresses_;
    std::vector<std::shared_ptr<void>> graveyard_;
    // Refuses GetManagedObjects (TooLarge) before sd-bus builds a reply above the bus's limit.
    struct SlotUnref {
        void operator()(sd_bus_slot* slot) const { sd_bus_slot_unref(slot); }
    };
    std::unique_ptr<sd_bus_slot, SlotUnref> managedObjectsGuard_;
    // Last: destroyed first, so no finished job reaches a half-destroyed service.
    WorkPool cpuPool_;
    WorkPool fetchPool_;
};

} // namespace certd::bus
