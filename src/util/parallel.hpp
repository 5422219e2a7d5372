// A small fork-join loop: the layer pipelines (load, pull, analyze) process several layers at once.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>

namespace gantry {

// Runs fn(i) for every i in [0, n) on up to `jobs` threads (0: one per CPU), the caller being
// one of them. After the first exception no new index starts; once every thread has stopped,
// that first exception is rethrown.
void parallel_for(std::size_t n, unsigned jobs, const std::function<void(std::size_t)>& fn);

// Runs the steps posted to it one after another, in order, on a thread of its own: what a
// pipeline's workers hand off so as not to wait for it themselves (the importer's layer
// publishes, whose syncfs waits for the disk). After the first failure the remaining steps are
// dropped (destroyed unrun); finish() waits for the rest and rethrows that failure. Destroyed
// without finish(), it still runs what was posted, and drops any failure.
class BackgroundQueue {
  public:
    BackgroundQueue();
    BackgroundQueue(const BackgroundQueue&) = delete;
    BackgroundQueue& operator=(const BackgroundQueue&) = delete;
    ~BackgroundQueue();
    void post(std::function<void()> step);
    void finish();

  private:
    void run();
    std::mutex mu_;
    std::condition_variable ready_;
    std::deque<std::function<void()>> steps_;
    bool closing_ = false;
    std::exception_ptr failure_;
    std::thread thread_; // last: started once the rest is constructed
};

} // namespace gantry
