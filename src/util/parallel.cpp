#include "util/parallel.hpp"

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <thread>
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

} // namespace gantry
