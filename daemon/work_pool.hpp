#pragma once

// Slow work off the bus thread: a fixed set of worker threads fed from one queue per caller,
// taken round-robin, so a caller with fifty jobs waiting does not delay another caller's
// first one. Each job's `work` runs on a worker and must not touch the Manager; its `done`
// runs afterwards on the event loop's thread (posted through an eventfd), in the order the
// jobs finished, with the exception `work` threw if any. Nothing else crosses threads.

#include "event_source.hpp"
#include "unique_fd.hpp"

#include <systemd/sd-event.h>

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <list>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace certd {

struct WorkPoolOptions {
    std::string name;           // for messages: "key generation", "issuer download"
    unsigned threads = 2;       // jobs running at once
    std::size_t perCaller = 16; // a caller's jobs queued or running; beyond: Busy
    std::size_t total = 256;    // every caller's jobs queued or running; beyond: Busy
};

class WorkPool {
public:
    struct Job {
        std::function<void()> work;                   // on a worker thread
        std::function<void(std::exception_ptr)> done; // on the loop's thread, after work
    };

    WorkPool(sd_event* event, WorkPoolOptions options);
    // Lets running jobs finish (their `done` is not called), drops queued ones, joins.
    ~WorkPool();
    WorkPool(const WorkPool&) = delete;
    WorkPool& operator=(const WorkPool&) = delete;

    // Queues `job` behind `caller`'s earlier jobs. Throws Error(Busy) when the caller or the
    // pool is at its cap; nothing is queued then.
    void submit(const std::string& caller, Job job);

    // Jobs queued or running (for tests and the status).
    std::size_t pending() const;
    std::size_t pending(const std::string& caller) const;
    const WorkPoolOptions& options() const { return options_; }
    // Turns true when the pool is being destroyed: a long job (a download) may stop early.
    const std::atomic<bool>& cancelled() const { return cancelled_; }

private:
    struct Finished {
        std::string caller;
        std::function<void(std::exception_ptr)> done;
        std::exception_ptr error;
    };
    void runWorker();
    // On the loop's thread: hands every finished job to its `done`.
    void drainFinished();

    WorkPoolOptions options_;
    UniqueFd wake_; // eventfd: a worker finished a job
    EventSourcePtr source_;
    mutable std::mutex mutex_;
    std::condition_variable ready_;
    std::map<std::string, std::deque<Job>> queues_; // per caller, oldest first
    std::deque<std::string> turns_;                 // callers with queued jobs, next first
    std::map<std::string, std::size_t> perCaller_;  // queued + running, per caller
    std::size_t total_ = 0;
    std::list<Finished> finished_;
    bool stopping_ = false;
    std::atomic<bool> cancelled_{false};
    std::vector<std::thread> threads_;
};

} // namespace certd
