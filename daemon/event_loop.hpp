#pragma once

// certd's main loop: sd-event, with the sdbus-c++ connection pumped from it
// (sdbus-c++ 1.2 cannot attach to sd-event itself), signals, timers and fds.

#include "event_source.hpp"

#include <systemd/sd-event.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

namespace sdbus {
class IConnection;
}

namespace certd {

class EventLoop {
public:
    EventLoop();
    ~EventLoop();
    EventLoop(const EventLoop&) = delete;
    EventLoop& operator=(const EventLoop&) = delete;

    sd_event* get() const { return event_; }
    // Dispatches the bus connection from this loop.
    void attachBus(sdbus::IConnection& connection);
    // Calls `handler` whenever `fd` is readable.
    void watchReadable(int fd, std::function<void()> handler);
    // SIGTERM and SIGINT end run().
    void exitOnTerminationSignals();
    // Calls `handler` on the loop thread whenever `signal` arrives (blocked for the process).
    void onSignal(int signal, std::function<void()> handler);
    // Calls `handler` once, before any other pending event (after the current one).
    void defer(std::function<void()> handler);
    // Calls `handler` after every event the loop dispatched (sd-event's post sources): where
    // what an event changed is handed on, whichever event it was.
    void afterEveryEvent(std::function<void()> handler);
    // A timer on the wall clock (CLOCK_REALTIME), re-armed with arm(); one per owner.
    class Timer {
    public:
        Timer(EventLoop& loop, std::function<void()> handler);
        ~Timer();
        Timer(const Timer&) = delete;
        Timer& operator=(const Timer&) = delete;
        void arm(std::uint64_t realtimeUSec);
        void disarm();

    private:
        EventSourcePtr source_;
        std::function<void()> handler_;
    };

    // Calls `handler` once per schedule(), when no event of a higher priority is pending (sd-event's
    // idle priority): after the bus messages that are already waiting. One per owner.
    class Idle {
    public:
        Idle(EventLoop& loop, std::function<void()> handler);
        ~Idle();
        Idle(const Idle&) = delete;
        Idle& operator=(const Idle&) = delete;
        void schedule();

    private:
        EventSourcePtr source_;
        std::function<void()> handler_;
    };

    // Pets the systemd watchdog when WATCHDOG_USEC is set.
    void enableWatchdog();
    int run();
    void exit(int code);

private:
    struct Source;
    struct BusPump;
    sd_event* event_ = nullptr;
    std::vector<std::unique_ptr<Source>> sources_;
    std::unique_ptr<BusPump> pump_;
};

} // namespace certd
