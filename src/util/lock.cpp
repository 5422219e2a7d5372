#include "util/lock.hpp"

#include "util/error.hpp"

#include <cerrno>
#include <fcntl.h>
#include <sys/file.h>

namespace gantry {

namespace {
Fd open_lock_file(const std::filesystem::path& path) {
    Fd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
    if (!fd) fd.reset(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) throw_errno("cannot open lock file " + path.string());
    return fd;
}
int op_for(FileLock::Mode mode) {
    return mode == FileLock::Mode::shared ? LOCK_SH : LOCK_EX;
}
} // namespace

FileLock::FileLock(const std::filesystem::path& path, Mode mode) : fd_(open_lock_file(path)) {
    while (::flock(fd_.get(), op_for(mode)) != 0) {
        if (errno != EINTR) throw_errno("cannot lock " + path.string());
    }
}

FileLock FileLock::try_lock(const std::filesystem::path& path, Mode mode) {
    FileLock l;
    l.fd_ = open_lock_file(path);
    if (::flock(l.fd_.get(), op_for(mode) | LOCK_NB) != 0) {
        if (errno != EWOULDBLOCK) throw_errno("cannot lock " + path.string());
        l.fd_.reset();
    }
    return l;
}

} // namespace gantry
