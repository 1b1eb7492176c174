#pragma once

// sd-event sources owned like any other handle: disabled and unreferenced once, on reset or
// destruction (sd_event_source_disable_unref), so a callback never runs after its owner is gone.

#include <systemd/sd-event.h>

#include <memory>

namespace certd {

struct EventSourceDeleter {
    void operator()(sd_event_source* source) const noexcept { sd_event_source_disable_unref(source); }
};
using EventSourcePtr = std::unique_ptr<sd_event_source, EventSourceDeleter>;

// Adopts the source an sd_event_add_*() call wrote to `out` (when it succeeded).
class EventSourceSlot {
public:
    explicit EventSourceSlot(EventSourcePtr& owner) : owner_(owner) {}
    ~EventSourceSlot() { owner_.reset(raw_); }
    EventSourceSlot(const EventSourceSlot&) = delete;
    EventSourceSlot& operator=(const EventSourceSlot&) = delete;
    operator sd_event_source**() { return &raw_; }

private:
    EventSourcePtr& owner_;
    sd_event_source* raw_ = nullptr;
};

// For sd_event_add_*(event, adopt(source), ...): `source` owns what the call created.
inline EventSourceSlot adopt(EventSourcePtr& source)
{
    source.reset();
    return EventSourceSlot(source);
}

} // namespace certd
