#include "tree.hpp"

#include "bus_error.hpp"

#include <cstdlib>
#include <cstring>

namespace certd::bus {

namespace {

struct RawMessage : sdbus::Message {
    static sd_bus_message* of(const sdbus::Message& message)
    {
        return static_cast<sd_bus_message*>(message.*(&RawMessage::msg_));
    }
    static sdbus::internal::ISdBus* busOf(const sdbus::Message& message)
    {
        return message.*(&RawMessage::sdbus_);
    }
};

void check(int r, const std::string& what)
{
    if (r < 0)
        throw Error(ErrorCode::Internal, what + ": " + std::strerror(-r));
}

} // namespace

sd_bus_message* rawMessageOf(const sdbus::Message& message)
{
    return RawMessage::of(message);
}

RawBus rawBusOf(sdbus::IConnection& connection)
{
    const auto probe = sdbus::createObject(connection, std::string(kRootPath) + "/probe")
                           ->createSignal("org.certd1.Manager", "Probe"); // never sent
    return RawBus{sd_bus_message_get_bus(RawMessage::of(probe)), RawMessage::busOf(probe)};
}

int answerError(sd_bus_error* error)
{
    try {
        const sdbus::Error e = currentBusError();
        return sd_bus_error_set(error, e.getName().c_str(), e.getMessage().c_str());
    } catch (...) {
        return -ENOMEM;
    }
}

std::weak_ptr<const void> Call::forever()
{
    static const auto token = std::make_shared<const char>(0);
    return token;
}

ObjectTree::ObjectTree(RawBus bus, Service& service, std::string prefix, const char* interface,
                       const sd_bus_vtable* vtable, std::vector<std::string> changed)
    : bus_(bus), service_(service), prefix_(std::move(prefix)), interface_(interface),
      changed_(std::move(changed))
{
    sd_bus_slot* slot = nullptr;
    check(sd_bus_add_fallback_vtable(bus_.bus, &slot, prefix_.c_str(), interface_, vtable, &ObjectTree::find,
                                     this),
          "cannot register " + prefix_);
    vtableSlot_.reset(slot);
    check(sd_bus_add_node_enumerator(bus_.bus, &slot, prefix_.c_str(), &ObjectTree::enumerate, this),
          "cannot enumerate " + prefix_);
    enumeratorSlot_.reset(slot);
}

int ObjectTree::find(sd_bus*, const char* path, const char*, void* userdata, void** found, sd_bus_error*)
{
    auto* tree = static_cast<ObjectTree*>(userdata);
    const std::string_view p(path);
    if (p.size() <= tree->prefix_.size() + 1 || p[tree->prefix_.size()] != '/' ||
        p.substr(0, tree->prefix_.size()) != tree->prefix_)
        return 0;
    try {
        if (!tree->contains(std::string(p.substr(tree->prefix_.size() + 1))))
            return 0;
    } catch (...) {
        return -ENOMEM;
    }
    *found = tree;
    return 1;
}

int ObjectTree::enumerate(sd_bus*, const char*, void* userdata, char*** nodes, sd_bus_error*)
{
    const auto* tree = static_cast<const ObjectTree*>(userdata);
    auto** out = static_cast<char**>(calloc(tree->ids_.size() + 1, sizeof(char*)));
    if (!out)
        return -ENOMEM;
    std::size_t n = 0;
    for (const auto& id : tree->ids_) {
        const std::string path = tree->pathOf(id);
        out[n] = strdup(path.c_str());
        if (!out[n]) {
            for (std::size_t i = 0; i < n; ++i)
                free(out[i]);
            free(out);
            return -ENOMEM;
        }
        ++n;
    }
    *nodes = out;
    return 0;
}

void ObjectTree::add(const std::string& id, bool announce)
{
    ids_.insert(id);
    if (announce)
        check(sd_bus_emit_interfaces_added(bus_.bus, pathOf(id).c_str(), interface_, nullptr),
              "cannot announce " + pathOf(id));
}

void ObjectTree::remove(const std::string& id)
{
    if (!ids_.erase(id))
        return;
    check(sd_bus_emit_interfaces_removed(bus_.bus, pathOf(id).c_str(), interface_, nullptr),
          "cannot retract " + pathOf(id));
}

void ObjectTree::emitChanged(const std::string& id)
{
    if (!contains(id))
        return;
    std::vector<char*> names;
    for (const auto& name : changed_)
        names.push_back(const_cast<char*>(name.c_str()));
    names.push_back(nullptr);
    check(sd_bus_emit_properties_changed_strv(bus_.bus, pathOf(id).c_str(), interface_, names.data()),
          "cannot announce changes of " + pathOf(id));
}

} // namespace certd::bus
