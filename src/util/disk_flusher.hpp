// DiskFlusher: while a large durable write runs, asks the disk every so often to move what it
// holds in its volatile cache to stable storage, so that the one sync that ends the write waits
// for less.
#pragma once

#include "util/fd.hpp"

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace gantry {

// A thread that calls fsync on `dir` (an open directory of the file system being written, synced
// for nothing else) every `every`, from construction until stop() or destruction. On ext4 (with
// or without a journal) and XFS an fsync ends with the device's cache flush even when the
// directory has nothing to write: the disk (in a VM, the host) then writes out the data the
// writer has already sent it (the unpacking's early writeback), while the writer goes on,
// instead of all of it at the final syncfs. A hint, never the sync that makes anything durable:
// an error is ignored here and met again by that sync. Nothing runs when `dir` is not open.
class DiskFlusher {
  public:
    DiskFlusher(Fd dir, std::chrono::milliseconds every);
    DiskFlusher(const DiskFlusher&) = delete;
    DiskFlusher& operator=(const DiskFlusher&) = delete;
    ~DiskFlusher();
    // Returns at once between flushes, else when the flush under way is done.
    void stop();
    unsigned flushes() const; // the fsyncs that succeeded

  private:
    void run();
    Fd dir_;
    std::chrono::milliseconds every_;
    mutable std::mutex mu_;
    std::condition_variable cv_;
    bool stop_ = false;
    unsigned flushes_ = 0;
    std::thread th_;
};

} // namespace gantry
