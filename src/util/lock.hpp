// FileLock: an flock(2) on a lock file, released on destruction (and by the kernel if the
// process dies, so a kill -9 never leaves a stale lock).
#pragma once

#include "util/fd.hpp"

#include <filesystem>

namespace gantry {

class FileLock {
  public:
    enum class Mode { shared, exclusive };
    FileLock() = default;
    // Blocks until the lock is held.
    FileLock(const std::filesystem::path& path, Mode mode);
    // Returns an unheld lock (held() == false) instead of blocking when another process has it.
    static FileLock try_lock(const std::filesystem::path& path, Mode mode);
    bool held() const { return static_cast<bool>(fd_); }
    void unlock() { fd_.reset(); }
    // The lock file's descriptor (-1 when unheld): a process forked to hold the lock keeps it.
    int descriptor() const { return fd_.get(); }

  private:
    Fd fd_;
};

} // namespace gantry
