// The worker pool behind certd's slow calls: per-caller queues taken round-robin, the caps
// that answer Busy, exceptions carried back, and every `done` on the loop's thread.
// Ordering is forced with gates (a job waits until the test opens it), never with time.
#include "error.hpp"
#include "error_code_of.hpp"
#include "event_loop.hpp"
#include "work_pool.hpp"

#include <doctest/doctest.h>

#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace certd;
using certd::test::errorCodeOf;

namespace {

// A door a worker waits at until the test opens it.
class Gate {
public:
    void open()
    {
        {
            const std::lock_guard lock(mutex_);
            open_ = true;
        }
        changed_.notify_all();
    }
    void wait()
    {
        std::unique_lock lock(mutex_);
        changed_.wait(lock, [this] { return open_; });
    }

private:
    std::mutex mutex_;
    std::condition_variable changed_;
    bool open_ = false;
};

// Runs the loop until `done` holds.
void runUntil(EventLoop& loop, const std::function<bool()>& done)
{
    while (!done())
        REQUIRE(sd_event_run(loop.get(), UINT64_MAX) >= 0);
}

} // namespace

TEST_CASE("work pool: callers take turns; one caller's flood does not delay another's first job")
{
    EventLoop loop;
    WorkPool pool(loop.get(), WorkPoolOptions{"test", 1, 16, 256});
    Gate blocker;
    std::vector<std::string> order; // the loop thread's record of finished jobs
    const auto loopThread = std::this_thread::get_id();
    bool doneOnLoopThread = true;
    auto job = [&](const std::string& name, Gate* gate = nullptr) {
        return WorkPool::Job{[gate] {
                                 if (gate)
                                     gate->wait();
                             },
                             [&, name](std::exception_ptr error) {
                                 CHECK_FALSE(error);
                                 doneOnLoopThread =
                                     doneOnLoopThread && std::this_thread::get_id() == loopThread;
                                 order.push_back(name);
                             }};
    };
    // The one worker is held by a's first job while the queues fill.
    pool.submit("a", job("a0", &blocker));
    for (int i = 1; i <= 4; ++i)
        pool.submit("a", job("a" + std::to_string(i)));
    pool.submit("b", job("b0"));
    pool.submit("b", job("b1"));
    CHECK(pool.pending("a") == 5);
    CHECK(pool.pending("b") == 2);
    blocker.open();
    runUntil(loop, [&] { return order.size() == 7; });
    CHECK(order == std::vector<std::string>{"a0", "b0", "a1", "b1", "a2", "a3", "a4"});
    CHECK(doneOnLoopThread);
    CHECK(pool.pending() == 0);
}

TEST_CASE("work pool: beyond the caller's cap, Busy; other callers and later calls still get in")
{
    EventLoop loop;
    WorkPool pool(loop.get(), WorkPoolOptions{"test", 1, 3, 5});
    Gate blocker;
    int finished = 0;
    auto job = [&](Gate* gate = nullptr) {
        return WorkPool::Job{[gate] {
                                 if (gate)
                                     gate->wait();
                             },
                             [&](const std::exception_ptr&) { ++finished; }};
    };
    pool.submit("a", job(&blocker));
    pool.submit("a", job());
    pool.submit("a", job());
    CHECK(errorCodeOf([&] { pool.submit("a", job()); }) == ErrorCode::Busy);
    CHECK(pool.pending("a") == 3);
    pool.submit("b", job());
    pool.submit("c", job());
    // The pool's own cap (5) holds whoever asks.
    CHECK(errorCodeOf([&] { pool.submit("d", job()); }) == ErrorCode::Busy);
    CHECK(pool.pending("d") == 0);
    blocker.open();
    runUntil(loop, [&] { return finished == 5; });
    CHECK(pool.pending() == 0);
    pool.submit("a", job()); // the cap counts what is in progress, not what ever was
    runUntil(loop, [&] { return finished == 6; });
}

TEST_CASE("work pool: what the work throws reaches done on the loop's thread")
{
    EventLoop loop;
    WorkPool pool(loop.get(), WorkPoolOptions{"test", 2, 4, 8});
    std::string message;
    ErrorCode code = ErrorCode::Internal;
    bool done = false;
    pool.submit("a", WorkPool::Job{[] { throw Error(ErrorCode::BadPassphrase, "wrong"); },
                                   [&](std::exception_ptr error) {
                                       REQUIRE(error);
                                       try {
                                           std::rethrow_exception(error);
                                       } catch (const Error& e) {
                                           code = e.code();
                                           message = e.what();
                                       }
                                       done = true;
                                   }});
    runUntil(loop, [&] { return done; });
    CHECK(code == ErrorCode::BadPassphrase);
    CHECK(message == "wrong");
}

TEST_CASE("work pool: jobs run at once up to the thread count")
{
    EventLoop loop;
    WorkPool pool(loop.get(), WorkPoolOptions{"test", 2, 8, 8});
    // Two jobs that each wait for the other to have started: they finish only if both run at once.
    std::mutex mutex;
    std::condition_variable changed;
    int started = 0;
    int finished = 0;
    auto job = WorkPool::Job{[&] {
                                 std::unique_lock lock(mutex);
                                 ++started;
                                 changed.notify_all();
                                 changed.wait(lock, [&] { return started == 2; });
                             },
                             [&](std::exception_ptr error) {
                                 CHECK_FALSE(error);
                                 ++finished;
                             }};
    pool.submit("a", job);
    pool.submit("a", job);
    runUntil(loop, [&] { return finished == 2; });
}

TEST_CASE("Busy has its D-Bus name, both ways (the client maps it back)")
{
    CHECK(errorName(ErrorCode::Busy) == "org.certd1.Error.Busy");
    CHECK(errorCodeFromName("org.certd1.Error.Busy") == ErrorCode::Busy);
}
