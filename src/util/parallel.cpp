#include "util/parallel.hpp"

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace gantry {

void parallel_for(std::size_t n, unsigned jobs, const std::function<void(std::size_t)>& fn) {
    std::atomic<std::size_t> next{0};
    std::exception_ptr first;
    std::mutex mu;
    auto worker = [&] {
        for (;;) {
            std::size_t i = next++;
            if (i >= n) return;
            try {
                fn(i);
            } catch (...) {
                std::lock_guard l(mu);
                if (!first) first = std::current_exception();
                next = n; // start nothing new
            }
        }
    };
    if (jobs == 0) jobs = std::max(1u, std::thread::hardware_concurrency());
    jobs = static_cast<unsigned>(std::min<std::size_t>(jobs, std::max<std::size_t>(1, n)));
    std::vector<std::thread> threads;
    for (unsigned i = 1; i < jobs; ++i) threads.emplace_back(worker);
    worker();
    for (auto& t : threads) t.join();
    if (first) std::rethrow_exception(first);
}

BackgroundQueue::BackgroundQueue() : thread_([this] { run(); }) {}

BackgroundQueue::~BackgroundQueue() {
    try {
        finish();
    } catch (...) { // finish() not called: the caller is already failing for another reason
    }
}

void BackgroundQueue::post(std::function<void()> step) {
    {
        std::lock_guard l(mu_);
        steps_.push_back(std::move(step));
    }
    ready_.notify_one();
}

void BackgroundQueue::finish() {
    {
        std::lock_guard l(mu_);
        closing_ = true;
    }
    ready_.notify_one();
    if (thread_.joinable()) thread_.join();
    std::lock_guard l(mu_);
    if (auto f = std::exchange(failure_, nullptr)) std::rethrow_exception(f);
}

void BackgroundQueue::run() {
    for (;;) {
        std::function<void()> step;
        {
            std::unique_lock l(mu_);
            ready_.wait(l, [&] { return closing_ || !steps_.empty(); });
            if (steps_.empty()) return;
            step = std::move(steps_.front());
            steps_.pop_front();
            if (failure_) continue; // dropped: destroyed unrun, once the lock is released
        }
        try {
            step();
        } catch (...) {
            std::lock_guard l(mu_);
            failure_ = std::current_exception();
        }
    }
}

} // namespace gantry
