#include "util/disk_flusher.hpp"

#include <unistd.h>

namespace gantry {

DiskFlusher::DiskFlusher(Fd dir, std::chrono::milliseconds every)
    : dir_(std::move(dir)), every_(every) {
    if (dir_) th_ = std::thread([this] { run(); });
}

DiskFlusher::~DiskFlusher() {
    stop();
}

void DiskFlusher::stop() {
    {
        std::lock_guard l(mu_);
        stop_ = true;
    }
    cv_.notify_all();
    if (th_.joinable()) th_.join();
}

unsigned DiskFlusher::flushes() const {
    std::lock_guard l(mu_);
    return flushes_;
}

void DiskFlusher::run() {
    std::unique_lock l(mu_);
    while (!cv_.wait_for(l, every_, [this] { return stop_; })) {
        l.unlock();
        bool flushed = ::fsync(dir_.get()) == 0; // a hint: the final sync meets any error again
        l.lock();
        if (flushed) ++flushes_;
    }
}

} // namespace gantry
