#include "container_log/output.hpp"

#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"

#include <algorithm>
#include <cerrno>
#include <poll.h>
#include <string>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace gantry::container_log {

off_t tail_offset(int fd, std::size_t lines) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) throw_errno("cannot stat the container's output");
    off_t end = st.st_size;
    if (lines == 0) return end;
    constexpr off_t kBlock = 64 * 1024;
    std::vector<char> buf(kBlock);
    std::size_t seen = 0;
    bool last_byte = true; // the file's last byte: a newline there ends the last line, no more
    for (off_t hi = end; hi > 0;) {
        off_t lo = std::max<off_t>(0, hi - kBlock);
        auto want = static_cast<std::size_t>(hi - lo);
        ssize_t n = ::pread(fd, buf.data(), want, lo);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw_errno("cannot read the container's output");
        if (static_cast<std::size_t>(n) != want) break; // truncated meanwhile: show it all
        for (off_t i = hi - lo - 1; i >= 0; --i) {
            if (buf[static_cast<std::size_t>(i)] != '\n') {
                last_byte = false;
                continue;
            }
            if (last_byte) { // the newline that ends the last line
                last_byte = false;
                continue;
            }
            if (++seen == lines) return lo + i + 1;
        }
        hi = lo;
    }
    return 0;
}

namespace {

// Copies from `at` to the current end; returns the new offset.
off_t drain(int fd, off_t at, int out) {
    std::vector<char> buf(64 * 1024);
    for (;;) {
        ssize_t n = ::pread(fd, buf.data(), buf.size(), at);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw_errno("cannot read the container's output");
        if (n == 0) return at;
        fs::write_all(out, buf.data(), static_cast<std::size_t>(n), "the container's output");
        at += n;
    }
}

} // namespace

void copy_output(int fd, off_t from, int out, const std::function<bool()>& follow) {
    off_t at = drain(fd, from, out);
    if (!follow) return;
    // Woken when the file is written; the timeout also covers a missing /proc (no watch) and
    // notices when the writers are gone.
    Fd watch(::inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
    if (watch) {
        std::string self = "/proc/self/fd/" + std::to_string(fd);
        if (::inotify_add_watch(watch.get(), self.c_str(), IN_MODIFY) < 0) watch.reset();
    }
    while (follow()) {
        if (watch) {
            pollfd p{watch.get(), POLLIN, 0};
            if (::poll(&p, 1, 100) > 0) {
                char events[4096];
                while (::read(watch.get(), events, sizeof events) > 0) {
                }
            }
        } else {
            ::usleep(100 * 1000);
        }
        at = drain(fd, at, out);
    }
    drain(fd, at, out);
}

} // namespace gantry::container_log
