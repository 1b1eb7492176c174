#pragma once

// Puts the Manager on the bus: one object per certificate, key, request and
// address under /org/certd1, announced through the ObjectManager, and every
// mutation authorised, audited and answered only once durable.

#include "../manager.hpp"
#include "auth.hpp"
#include "bus_error.hpp"

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
    std::function<std::string()> terminatorState = [] { return std::string("stopped"); };
    // Why the terminator could not be started; "" when nothing is wrong.
    std::function<std::string()> terminatorError = [] { return std::string(); };
    // Runs a function once the current bus message is fully handled (EventLoop::defer).
    std::function<void(std::function<void()>)> defer;
    // Called after every applied change (the expiry watch re-evaluates).
    std::function<void()> changed;
    // Called synchronously after every applied change, before the reply: brings the
    // terminator in line (and waits for its acknowledgement); returns address changes.
    // `flush`: rotate session ticket keys and drop the session cache.
    std::function<Changes(bool flush)> sync;
};

class Service {
public:
    Service(sdbus::IConnection& connection, Manager& manager, ServiceInfo info);
    ~Service();
    Service(const Service&) = delete;
    Service& operator=(const Service&) = delete;

    Manager& manager() { return manager_; }
    const ServiceInfo& info() const { return info_; }

    // Creates, removes and refreshes objects for what a mutation touched; emits the
    // signals; then syncs the terminator (see ServiceInfo::sync).
    void apply(const Changes& changes);
    // The next sync also flushes session state (a compromise-driven swap).
    void requestFlush() { flushRequested_ = true; }
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
                if constexpr (std::is_void_v<decltype(body())>) {
                    body();
                    log::audit(action, target, caller.uid, caller.pid, "ok");
                } else {
                    auto result = body();
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
    Manager& manager_;
    ServiceInfo info_;
    std::unique_ptr<ManagerObject> managerObject_;
    std::map<std::string, std::unique_ptr<CertificateObject>> certificates_;
    std::map<std::string, std::unique_ptr<KeyObject>> keys_;
    std::map<std::string, std::unique_ptr<RequestObject>> requests_;
    std::map<std::string, std::unique_ptr<AddressObject>> addresses_;
    std::vector<std::shared_ptr<void>> graveyard_;
    bool syncing_ = false;
    bool flushRequested_ = false;
    void applyObjects(const Changes& changes);
};

} // namespace certd::bus
