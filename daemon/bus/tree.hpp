#pragma once

// The objects that come by the thousand (certificates, keys, requests) are not an
// sdbus-c++ object each: one of those costs about 6 kB (its own copy of the vtable, a
// std::function per member, sd-bus's hash entry per member and path), 12 kB for a
// certificate with its key. Each kind is instead one sd-bus fallback vtable on its prefix
// ("/org/certd1/certificate"), static and shared, with a find callback over the ids the
// Service has published and a node enumerator that lists them (introspection and the
// ObjectManager). On the bus nothing differs: the same paths, interfaces and signals.
//
// The handlers are plain functions of a Call (method) or of the Service and an id
// (property); method() and property() adapt them to sd-bus, and its messages to
// sdbus-c++'s, so the Service's mutate() and the argument parsers serve both kinds of object.
// A static vtable also means a reply can always be sent: sd-bus checks it against a
// signature in the vtable (see Lifeline), and this one is never freed.

#include "service.hpp"

#include <systemd/sd-bus.h>

#include <memory>
#include <set>
#include <string>
#include <vector>

namespace certd::bus {

// sdbus-c++'s wrapper of the sd_bus of a connection (its messages need it), and that sd_bus.
struct RawBus {
    sd_bus* bus = nullptr;
    sdbus::internal::ISdBus* sdbus = nullptr;
};
// sdbus-c++ 1.2 offers neither; a message made on the connection carries both.
RawBus rawBusOf(sdbus::IConnection& connection);
// The raw message inside an sdbus-c++ one.
sd_bus_message* rawMessageOf(const sdbus::Message& message);

class ObjectTree {
public:
    // Registers `vtable` for `interface` on every path under `prefix` that add() published.
    // `changed` names the properties emitChanged() announces.
    ObjectTree(RawBus bus, Service& service, std::string prefix, const char* interface,
               const sd_bus_vtable* vtable, std::vector<std::string> changed);
    ObjectTree(const ObjectTree&) = delete;
    ObjectTree& operator=(const ObjectTree&) = delete;

    // Publishes an object; announced (InterfacesAdded) unless it is there from the start.
    void add(const std::string& id, bool announce);
    // Retracts an object (InterfacesRemoved); calls to it then get UnknownObject.
    void remove(const std::string& id);
    // PropertiesChanged for the properties that can change.
    void emitChanged(const std::string& id);
    bool contains(const std::string& id) const { return ids_.count(id) > 0; }

    Service& service() const { return service_; }
    const RawBus& bus() const { return bus_; }
    std::string pathOf(const std::string& id) const { return prefix_ + "/" + id; }
    // The id in a path this tree's find callback accepted.
    std::string idOf(const char* path) const { return std::string(path).substr(prefix_.size() + 1); }

private:
    static int find(sd_bus* bus, const char* path, const char* interface, void* userdata, void** found,
                    sd_bus_error* error);
    static int enumerate(sd_bus* bus, const char* prefix, void* userdata, char*** nodes, sd_bus_error* error);

    struct SlotUnref {
        void operator()(sd_bus_slot* slot) const { sd_bus_slot_unref(slot); }
    };
    RawBus bus_;
    Service& service_;
    std::string prefix_;
    const char* interface_;
    std::vector<std::string> changed_;
    std::set<std::string> ids_;
    std::unique_ptr<sd_bus_slot, SlotUnref> vtableSlot_, enumeratorSlot_;
};

// A method call to an object of a tree.
struct Call {
    Service& service;
    std::string id;
    std::string path;
    sdbus::MethodCall message;
    // What Service::mutate() needs; the vtable is static, so the object is never too dead to reply.
    Callee callee() const { return {message, forever()}; }
    template <typename... Results>
    sdbus::Result<Results...> result() const
    {
        return sdbus::Result<Results...>(message);
    }
    // The call's arguments, in order.
    template <typename... Args>
    void read(Args&... args)
    {
        (message >> ... >> args);
    }
    static std::weak_ptr<const void> forever();
};

// Sets `error` from the exception being handled; returns what an sd-bus handler returns.
int answerError(sd_bus_error* error);

template <void (*Handle)(Call&)>
int method(sd_bus_message* m, void* userdata, sd_bus_error* error)
{
    const auto& tree = *static_cast<const ObjectTree*>(userdata);
    try {
        struct Raw : sdbus::MethodCall {
            Raw(sd_bus_message* m, sdbus::internal::ISdBus* sdbus) : sdbus::MethodCall(m, sdbus) {}
        };
        const char* path = sd_bus_message_get_path(m);
        Call call{tree.service(), tree.idOf(path), path, Raw(m, tree.bus().sdbus)};
        Handle(call);
        return 1;
    } catch (...) {
        return answerError(error);
    }
}

template <auto Get>
int property(sd_bus*, const char* path, const char*, const char*, sd_bus_message* reply, void* userdata,
             sd_bus_error* error)
{
    const auto& tree = *static_cast<const ObjectTree*>(userdata);
    try {
        struct Raw : sdbus::PropertyGetReply {
            Raw(sd_bus_message* m, sdbus::internal::ISdBus* sdbus) : sdbus::PropertyGetReply(m, sdbus) {}
        };
        Raw out(reply, tree.bus().sdbus);
        out << Get(tree.service(), tree.idOf(path));
        return 1;
    } catch (...) {
        return answerError(error);
    }
}

// The vtables, in certificate_object.cpp, key_object.cpp and request_object.cpp.
extern const sd_bus_vtable kCertificateVtable[];
extern const sd_bus_vtable kKeyVtable[];
extern const sd_bus_vtable kRequestVtable[];
extern const sd_bus_vtable kAcmeOrderVtable[];   // acme_order_object.cpp
extern const sd_bus_vtable kAcmeAccountVtable[]; // acme_account_object.cpp

} // namespace certd::bus
