#include "event_loop.hpp"

#include "error.hpp"
#include "log.hpp"

#include <sdbus-c++/IConnection.h>

#include <csignal>
#include <cstring>
#include <poll.h>
#include <sys/epoll.h>

namespace certd {

struct EventLoop::Source {
    EventSourcePtr source;
    std::function<void()> handler;
};

namespace {
void check(int r, const char* what)
{
    if (r < 0)
        throw Error(ErrorCode::Internal, std::string(what) + ": " + std::strerror(-r));
}

// No exception may cross sd-event's C frames: a handler that throws is logged, and the loop
// goes on (returning an error would disable the source for good).
int runHandler(void* userdata)
{
    try {
        static_cast<std::function<void()>*>(userdata)->operator()();
    } catch (const std::exception& e) {
        log::error(std::string("an event handler failed: ") + e.what());
    }
    return 0;
}

} // namespace

// The bus pump: before each poll, ask sd-bus (through sdbus-c++) what to wait for.
struct EventLoop::BusPump {
    sdbus::IConnection* connection = nullptr;
    EventSourcePtr io;
    EventSourcePtr timer;

    // One message per turn of the loop, so deferred work (freeing objects a
    // handler removed) runs before the next message; sd-bus reports a zero
    // timeout while messages are queued, so nothing waits.
    void dispatch() { connection->processPendingRequest(); }
    static int onIo(sd_event_source*, int, uint32_t, void* userdata)
    {
        static_cast<BusPump*>(userdata)->dispatch();
        return 0;
    }
    static int onTime(sd_event_source*, uint64_t, void* userdata)
    {
        static_cast<BusPump*>(userdata)->dispatch();
        return 0;
    }
    static int onPrepare(sd_event_source*, void* userdata)
    {
        auto* pump = static_cast<BusPump*>(userdata);
        const auto poll = pump->connection->getEventLoopPollData();
        uint32_t events = 0;
        if (poll.events & POLLIN)
            events |= EPOLLIN;
        if (poll.events & POLLOUT)
            events |= EPOLLOUT;
        sd_event_source_set_io_events(pump->io.get(), events);
        if (poll.timeout_usec == UINT64_MAX) {
            sd_event_source_set_enabled(pump->timer.get(), SD_EVENT_OFF);
        } else {
            sd_event_source_set_time(pump->timer.get(), poll.timeout_usec);
            sd_event_source_set_enabled(pump->timer.get(), SD_EVENT_ONESHOT);
        }
        return 0;
    }
};
EventLoop::EventLoop()
{
    check(sd_event_new(&event_), "cannot create the event loop");
}

EventLoop::~EventLoop()
{
    sources_.clear();
    pump_.reset();
    sd_event_unref(event_);
}

void EventLoop::attachBus(sdbus::IConnection& connection)
{
    pump_ = std::make_unique<BusPump>();
    BusPump& pump = *pump_;
    pump.connection = &connection;
    const auto poll = connection.getEventLoopPollData();
    check(sd_event_add_io(event_, adopt(pump.io), poll.fd, EPOLLIN, BusPump::onIo, &pump),
          "cannot watch the bus");
    check(sd_event_source_set_prepare(pump.io.get(), BusPump::onPrepare), "cannot watch the bus");
    check(
        sd_event_add_time(event_, adopt(pump.timer), CLOCK_MONOTONIC, UINT64_MAX, 0, BusPump::onTime, &pump),
        "cannot watch the bus");
    sd_event_source_set_enabled(pump.timer.get(), SD_EVENT_OFF);
    // Process whatever arrived before the loop started.
    pump.dispatch();
}

void EventLoop::watchReadable(int fd, std::function<void()> handler)
{
    auto source = std::make_unique<Source>();
    source->handler = std::move(handler);
    check(sd_event_add_io(
              event_, adopt(source->source), fd, EPOLLIN,
              [](sd_event_source*, int, uint32_t, void* userdata) { return runHandler(userdata); },
              &source->handler),
          "cannot watch a file descriptor");
    sources_.push_back(std::move(source));
}

void EventLoop::exitOnTerminationSignals()
{
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigprocmask(SIG_BLOCK, &mask, nullptr);
    for (const int sig : {SIGTERM, SIGINT})
        check(sd_event_add_signal(event_, nullptr, sig, nullptr, nullptr), "cannot handle signals");
}

void EventLoop::onSignal(int signal, std::function<void()> handler)
{
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, signal);
    sigprocmask(SIG_BLOCK, &mask, nullptr);
    auto source = std::make_unique<Source>();
    source->handler = std::move(handler);
    check(sd_event_add_signal(
              event_, adopt(source->source), signal,
              [](sd_event_source*, const signalfd_siginfo*, void* userdata) { return runHandler(userdata); },
              &source->handler),
          "cannot handle signals");
    sources_.push_back(std::move(source));
}

void EventLoop::defer(std::function<void()> handler)
{
    // Once run() has returned (certd is stopping), deferred work would never run, and sd-event
    // refuses new sources (ESTALE): e.g. a terminator that goes away during the last settle.
    if (sd_event_get_state(event_) == SD_EVENT_FINISHED)
        return;
    // Finished one-shot sources are dropped here, so deferring often does not grow the list.
    std::erase_if(sources_, [](const auto& s) {
        int enabled = 0;
        return sd_event_source_get_enabled(s->source.get(), &enabled) >= 0 && enabled == SD_EVENT_OFF;
    });
    auto source = std::make_unique<Source>();
    source->handler = std::move(handler);
    check(sd_event_add_defer(
              event_, adopt(source->source),
              [](sd_event_source*, void* userdata) { return runHandler(userdata); }, &source->handler),
          "cannot defer work");
    sd_event_source_set_priority(source->source.get(), SD_EVENT_PRIORITY_IMPORTANT);
    sd_event_source_set_enabled(source->source.get(), SD_EVENT_ONESHOT);
    sources_.push_back(std::move(source));
}

void EventLoop::afterEveryEvent(std::function<void()> handler)
{
    auto source = std::make_unique<Source>();
    source->handler = std::move(handler);
    check(sd_event_add_post(
              event_, adopt(source->source),
              [](sd_event_source*, void* userdata) { return runHandler(userdata); }, &source->handler),
          "cannot watch for events");
    sources_.push_back(std::move(source));
}

EventLoop::Timer::Timer(EventLoop& loop, std::function<void()> handler) : handler_(std::move(handler))
{
    check(sd_event_add_time(
              loop.get(), adopt(source_), CLOCK_REALTIME, UINT64_MAX, 1000,
              [](sd_event_source*, uint64_t, void* userdata) { return runHandler(userdata); }, &handler_),
          "cannot create a timer");
    sd_event_source_set_enabled(source_.get(), SD_EVENT_OFF);
}

EventLoop::Timer::~Timer() = default;

void EventLoop::Timer::arm(std::uint64_t realtimeUSec)
{
    sd_event_source_set_time(source_.get(), realtimeUSec);
    sd_event_source_set_enabled(source_.get(), SD_EVENT_ONESHOT);
}

void EventLoop::Timer::disarm()
{
    sd_event_source_set_enabled(source_.get(), SD_EVENT_OFF);
}

EventLoop::Idle::Idle(EventLoop& loop, std::function<void()> handler) : handler_(std::move(handler))
{
    check(sd_event_add_defer(
              loop.get(), adopt(source_),
              [](sd_event_source*, void* userdata) { return runHandler(userdata); }, &handler_),
          "cannot defer work");
    sd_event_source_set_priority(source_.get(), SD_EVENT_PRIORITY_IDLE);
    sd_event_source_set_enabled(source_.get(), SD_EVENT_OFF);
}

EventLoop::Idle::~Idle() = default;

void EventLoop::Idle::schedule()
{
    sd_event_source_set_enabled(source_.get(), SD_EVENT_ONESHOT);
}

void EventLoop::enableWatchdog()
{
    sd_event_set_watchdog(event_, 1);
}

int EventLoop::run()
{
    return sd_event_loop(event_);
}

void EventLoop::exit(int code)
{
    sd_event_exit(event_, code);
}

} // namespace certd
