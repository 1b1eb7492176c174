#include "work_pool.hpp"

#include "error.hpp"
#include "log.hpp"

#include <pthread.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <utility>

namespace certd {

WorkPool::WorkPool(sd_event* event, WorkPoolOptions options) : options_(std::move(options))
{
    if (options_.threads == 0)
        options_.threads = 1;
    wake_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!wake_)
        throw Error(ErrorCode::Internal, std::string("cannot create an eventfd: ") + std::strerror(errno));
    const int r = sd_event_add_io(
        event, adopt(source_), wake_.get(), EPOLLIN,
        [](sd_event_source*, int, uint32_t, void* userdata) {
            static_cast<WorkPool*>(userdata)->drainFinished();
            return 0;
        },
        this);
    if (r < 0)
        throw Error(ErrorCode::Internal, std::string("cannot watch the work pool: ") + std::strerror(-r));
    // Workers take no signals (SIGTERM belongs to the loop's signalfd): they start with every
    // signal blocked, whatever this thread's mask is now or becomes.
    sigset_t all;
    sigset_t previous;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &previous);
    threads_.reserve(options_.threads);
    for (unsigned i = 0; i < options_.threads; ++i)
        threads_.emplace_back([this] { runWorker(); });
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);
}

WorkPool::~WorkPool()
{
    cancelled_ = true;
    {
        const std::lock_guard lock(mutex_);
        stopping_ = true;
        queues_.clear();
        turns_.clear();
    }
    ready_.notify_all();
    for (auto& thread : threads_)
        thread.join();
}

void WorkPool::submit(const std::string& caller, Job job)
{
    {
        const std::lock_guard lock(mutex_);
        std::size_t& mine = perCaller_[caller];
        if (mine >= options_.perCaller) {
            const std::size_t cap = options_.perCaller;
            if (mine == 0)
                perCaller_.erase(caller);
            throw Error(ErrorCode::Busy, "too many " + options_.name + " calls of this caller in progress (" +
                                             std::to_string(cap) +
                                             "); wait for one to return, then try again");
        }
        if (total_ >= options_.total) {
            if (mine == 0)
                perCaller_.erase(caller);
            throw Error(ErrorCode::Busy, "certd is busy with " + std::to_string(total_) + " " +
                                             options_.name + " calls; try again when one has returned");
        }
        ++mine;
        ++total_;
        auto& queue = queues_[caller];
        if (queue.empty())
            turns_.push_back(caller);
        queue.push_back(std::move(job));
    }
    ready_.notify_one();
}

std::size_t WorkPool::pending() const
{
    const std::lock_guard lock(mutex_);
    return total_;
}

std::size_t WorkPool::pending(const std::string& caller) const
{
    const std::lock_guard lock(mutex_);
    const auto it = perCaller_.find(caller);
    return it == perCaller_.end() ? 0 : it->second;
}

void WorkPool::runWorker()
{
    // The bus thread goes first: SCHED_BATCH marks workers as CPU-bound (no wake-up
    // preemption) and nice 5 gives them a third of a normal thread's share when the CPU is
    // contended, so a woken bus thread (and dbus-daemon, and the caller) runs at once. Not
    // lower: on a saturated machine key generation must still finish within its callers'
    // D-Bus timeouts. Lowering one's own priority needs no privilege; where a sandbox
    // refuses the calls (EPERM) the workers keep the normal priority.
    const sched_param batch{};
    pthread_setschedparam(pthread_self(), SCHED_BATCH, &batch);
    setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), 5);
    for (;;) {
        std::string caller;
        Job job;
        {
            std::unique_lock lock(mutex_);
            ready_.wait(lock, [this] { return stopping_ || !turns_.empty(); });
            if (stopping_)
                return;
            // Round-robin: the caller at the front runs one job and goes to the back.
            caller = std::move(turns_.front());
            turns_.pop_front();
            auto queue = queues_.find(caller);
            job = std::move(queue->second.front());
            queue->second.pop_front();
            if (queue->second.empty())
                queues_.erase(queue);
            else
                turns_.push_back(caller);
        }
        std::exception_ptr error;
        try {
            job.work();
        } catch (...) {
            error = std::current_exception();
        }
        job.work = nullptr; // what the work captured goes now, on this thread
        {
            const std::lock_guard lock(mutex_);
            finished_.push_back(Finished{std::move(caller), std::move(job.done), error});
        }
        const std::uint64_t one = 1;
        [[maybe_unused]] const auto written = ::write(wake_.get(), &one, sizeof(one));
    }
}

void WorkPool::drainFinished()
{
    std::uint64_t count = 0;
    [[maybe_unused]] const auto read = ::read(wake_.get(), &count, sizeof(count));
    std::list<Finished> finished;
    {
        const std::lock_guard lock(mutex_);
        finished.swap(finished_);
        for (const auto& f : finished) {
            --total_;
            const auto it = perCaller_.find(f.caller);
            if (it != perCaller_.end() && --it->second == 0)
                perCaller_.erase(it);
        }
    }
    for (auto& f : finished) {
        try {
            f.done(f.error);
        } catch (const std::exception& e) {
            log::error(std::string("unexpected error after slow work: ") + e.what());
        }
    }
}

} // namespace certd
