#pragma once

// Puts the Manager on the bus: one object per certificate, key, request and
// address under /org/certd1, announced through the ObjectManager, and every
// mutation authorised, audited and answered only once durable and served.
// It maps; it never drives the domain: handlers call the Manager, mutate() settles the
// ChangeFlow before the reply, and publish() (a ChangeFlow subscriber) turns what changed
// into objects and signals.

#include "auth.hpp"
#include "bus_error.hpp"
#include "change_flow.hpp"
#include "event_loop.hpp"
#include "manager/manager.hpp"

#include <sdbus-c++/sdbus-c++.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>

namespace certd::bus {

inline constexpr const char* kBusName = "org.certd1";
inline constexpr const char* kRootPath = "/org/certd1";

class ManagerObject;
class CertificateObject;
class KeyObject;
class RequestObject;
class AddressObject;

std::string certificatePath(const std::string& id);
std::string keyPath(const std::string& id);
std::string requestPath(const std::string& id);
std::string addressPath(const std::string& address);
// The id in a path under `prefix` ("/org/certd1/certificate/"); throws NotFound otherwise.
std::string idFromPath(const std::string& path, const std::string& prefix, const char* what);

struct ServiceInfo {
    std::string version;
    std::uint16_t port = 443;
    AuthPolicy auth;
    std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
};

class Service {
public:
    // Subscribes to `flow`.
    Service(sdbus::IConnection& connection, EventLoop& loop, Manager& manager, ChangeFlow& flow,
            ServiceInfo info);
    ~Service();
    Service(const Service&) = delete;
    Service& operator=(const Service&) = delete;

    Manager& manager() { return manager_; }
    const ServiceInfo& info() const { return info_; }

    // Creates, removes and refreshes objects for what changed; emits the signals.
    void publish(const Changes& changes);
    // The terminator's next sync also flushes session state (a compromise-driven swap).
    void requestFlush() { flow_.requestFlush(); }
    void emitManagerProperties(const std::vector<std::string>& names);
    void emitCertificateExpiring(const std::string& id, std::uint64_t notAfterUSec, unsigned days);

    // Runs a mutation: authorise the caller from the message being processed,
    // run `body`, audit the outcome. Errors are translated for sd-bus.
    template <typename F>
    auto mutate(const sdbus::IObject& object, const std::string& action, const std::string& target,
                Right right, F&& body) -> decltype(body())
    {
        return handleErrors([&]() -> decltype(body()) {
            buryTheDead();
            const Caller caller = callerOf(*object.getCurrentlyProcessedMessage());
            try {
                authorize(caller, right, info_.auth);
                // The reply waits until the change is durable (the Manager committed it) and
                // served (settle: the terminator acknowledged it).
                if constexpr (std::is_void_v<decltype(body())>) {
                    body();
                    flow_.settle();
                    log::audit(action, target, caller.uid, caller.pid, "ok");
                } else {
                    auto result = body();
                    flow_.settle();
                    log::audit(action, target, caller.uid, caller.pid, "ok");
                    return result;
                }
            } catch (const certd::Error& e) {
                log::audit(action, target, caller.uid, caller.pid, std::string(errorName(e.code())));
                throw;
            }
        });
    }

    std::string certificateIdFromPath(const std::string& path) const;

private:
    // Objects removed by a mutation are announced at once but unregistered and
    // freed only after the current message: sd-bus and sdbus-c++ 1.2 touch an
    // object after its own handler returns, so Delete must not free itself.
    void buryTheDead() { graveyard_.clear(); }
    void addCertificateObject(const std::string& id, bool announce);
    void addKeyObject(const std::string& id, bool announce);
    void addRequestObject(const std::string& id, bool announce);
    void addAddressObject(const std::string& address, bool announce);

    sdbus::IConnection& connection_;
    EventLoop& loop_;
    Manager& manager_;
    ChangeFlow& flow_;
    ServiceInfo info_;
    std::unique_ptr<ManagerObject> managerObject_;
    std::map<std::string, std::unique_ptr<CertificateObject>> certificates_;
    std::map<std::string, std::unique_ptr<KeyObject>> keys_;
    std::map<std::string, std::unique_ptr<RequestObject>> requests_;
    std::map<std::string, std::unique_ptr<AddressObject>> addresses_;
    std::vector<std::shared_ptr<void>> graveyard_;
};

} // namespace certd::bus
