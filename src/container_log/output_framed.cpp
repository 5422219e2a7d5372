// A detached container's framed output (container_log/output.hpp): the copier that writes it, and
// its reader for `gantry logs` and the Engine API's logs.
#include "container_log/output.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <deque>
#include <fcntl.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

namespace gantry::container_log {

namespace {

constexpr std::size_t kOutFrameMax = 64 * 1024;     // what the copier puts in one frame
constexpr std::size_t kOutReadBlock = 256 * 1024;   // what the reader reads at once
constexpr std::uint32_t kOutFrameLimit = 16u << 20; // a longer frame is no frame of ours

void out_put_header(char* h, int stream, std::size_t n, unsigned char flags = 0) {
    h[0] = static_cast<char>(stream);
    h[1] = static_cast<char>(flags);
    h[2] = h[3] = 0;
    auto len = static_cast<std::uint32_t>(n);
    h[4] = static_cast<char>(len >> 24);
    h[5] = static_cast<char>(len >> 16);
    h[6] = static_cast<char>(len >> 8);
    h[7] = static_cast<char>(len);
}

std::uint32_t out_length(const char* h) {
    auto b = [h](int i) { return static_cast<std::uint32_t>(static_cast<unsigned char>(h[i])); };
    return b(4) << 24 | b(5) << 16 | b(6) << 8 | b(7);
}

void out_put_time(char* p, std::int64_t t) {
    auto u = static_cast<std::uint64_t>(t);
    for (int i = 7; i >= 0; --i, u >>= 8) p[i] = static_cast<char>(u & 0xff);
}

std::int64_t out_time(const char* p) {
    std::uint64_t u = 0;
    for (int i = 0; i < 8; ++i) u = u << 8 | static_cast<unsigned char>(p[i]);
    return static_cast<std::int64_t>(u);
}

std::int64_t out_now() {
    timespec ts{};
    ::clock_gettime(CLOCK_REALTIME, &ts);
    return std::int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

} // namespace

void append_frame(std::string& out, int stream, const char* data, std::size_t n) {
    char h[8];
    out_put_header(h, stream, n);
    out.append(h, 8);
    out.append(data, n);
}

void append_line_frames(std::string& out, int stream, const char* data, std::size_t n) {
    std::size_t start = 0;
    while (start < n) {
        const void* nl = std::memchr(data + start, '\n', n - start);
        std::size_t end =
            nl ? static_cast<std::size_t>(static_cast<const char*>(nl) - data) + 1 : n;
        append_frame(out, stream, data + start, end - start);
        start = end;
    }
}

void copy_streams_framed(int out, int err, int file) {
    std::vector<char> buf(16 + kOutFrameMax);
    pollfd p[2] = {{out, POLLIN, 0}, {err, POLLIN, 0}};
    while (p[0].fd >= 0 || p[1].fd >= 0) {
        int n = ::poll(p, 2, -1);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return;
        for (int i = 0; i < 2; ++i) {
            if (p[i].fd < 0 || p[i].revents == 0) continue;
            ssize_t got = ::read(p[i].fd, buf.data() + 16, kOutFrameMax);
            if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
            if (got <= 0) { // the end of the stream (every writer gone), or an error
                p[i].fd = -1;
                continue;
            }
            out_put_header(buf.data(), i + 1, static_cast<std::size_t>(got), kTimed);
            out_put_time(buf.data() + 8, out_now());
            try {
                fs::write_all(file, buf.data(), 16 + static_cast<std::size_t>(got),
                              "the container's output");
            } catch (const Error&) {
                // the disk is full: the stream is read on, so the workload never blocks
            }
        }
    }
}

std::optional<OutputReader> OutputReader::open(const std::string& dir) {
    for (const char* name : {kOutputFile, kLegacyLogFile}) {
        std::string path = dir + "/" + name;
        Fd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
        if (fd) return OutputReader(std::move(fd), name == kOutputFile, path);
        if (errno != ENOENT) return std::nullopt;
    }
    return std::nullopt;
}

bool OutputReader::fill(off_t off, std::size_t need) {
    if (off >= buf_off_ && static_cast<std::size_t>(off - buf_off_) + need <= buf_len_) return true;
    std::size_t cap = std::max(kOutReadBlock, need);
    if (buf_.size() < cap) buf_.resize(cap);
    buf_off_ = off;
    buf_len_ = 0;
    while (buf_len_ < cap) {
        ssize_t n = ::pread(fd_.get(), buf_.data() + buf_len_, cap - buf_len_,
                            off + static_cast<off_t>(buf_len_));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw_errno("cannot read the container's output (" + path_ + ")");
        if (n == 0) break;
        buf_len_ += static_cast<std::size_t>(n);
    }
    return buf_len_ >= need;
}

bool OutputReader::read(unsigned streams,
                        const std::function<void(int, const char*, std::size_t)>& sink) {
    return read(streams, [&sink](int stream, std::int64_t, const char* data, std::size_t n) {
        sink(stream, data, n);
    });
}

bool OutputReader::read(unsigned streams, const TimedSink& sink) {
    bool any = false;
    for (;;) {
        if (!framed_) {
            if (!fill(at_, 1)) return any;
            std::size_t from = static_cast<std::size_t>(at_ - buf_off_);
            if (streams & kStdout) sink(1, 0, buf_.data() + from, buf_len_ - from);
            at_ += static_cast<off_t>(buf_len_ - from);
            any = true;
            continue;
        }
        if (!fill(at_, 8)) return any; // a header being written
        const char* h = buf_.data() + (at_ - buf_off_);
        int stream = h[0];
        bool timed = h[1] == static_cast<char>(kTimed);
        std::uint32_t len = out_length(h);
        if ((stream != 1 && stream != 2) || (h[1] && !timed) || h[2] || h[3] ||
            len > kOutFrameLimit)
            throw Error(Errc::io, "the container's output " + path_ + " is damaged at byte " +
                                      std::to_string(at_) + " (not a frame)");
        std::size_t head = timed ? 16 : 8;
        if (!fill(at_, head + std::size_t{len})) return any; // its payload being written
        const char* start = buf_.data() + (at_ - buf_off_);
        std::int64_t time = timed ? out_time(start + 8) : 0;
        const char* data = start + head;
        if ((streams & static_cast<unsigned>(stream)) && len > skip_)
            sink(stream, time, data + skip_, len - skip_);
        at_ += static_cast<off_t>(head + len);
        skip_ = 0;
        any = true;
    }
}

void OutputReader::tail(std::size_t lines, unsigned streams) {
    if (!framed_) {
        at_ = tail_offset(fd_.get(), lines);
        return;
    }
    // Forward over the frames: the starts of the last LINES lines seen (a line starts at the
    // first selected byte, and at the byte after each newline of the selected streams)
    struct Start {
        off_t frame;
        std::uint32_t skip;
    };
    std::deque<Start> starts;
    bool at_line_start = true;
    read(streams, [&](int, const char* data, std::size_t n) {
        // handed before the position moves past the frame: at_ is its start, skip_ its offset
        for (std::size_t i = 0; i < n; ++i) {
            if (at_line_start) {
                starts.push_back({at_, skip_ + static_cast<std::uint32_t>(i)});
                if (starts.size() > lines) starts.pop_front();
            }
            at_line_start = data[i] == '\n';
        }
    });
    if (lines == 0 || starts.empty()) return; // at_: the end
    at_ = starts.front().frame;
    skip_ = starts.front().skip;
}

void print_output(OutputReader& r, unsigned streams, int out, int err,
                  const std::function<bool()>& follow, const LogView& view) {
    std::string pending;
    int pending_stream = 0;
    auto flush = [&] {
        if (!pending.empty())
            fs::write_all(pending_stream == 2 ? err : out, pending.data(), pending.size(),
                          "the container's output");
        pending.clear();
    };
    ViewSink sink(view, [&](int stream, const char* data, std::size_t n) {
        if (stream != pending_stream || pending.size() + n > kOutReadBlock) flush();
        pending_stream = stream;
        pending.append(data, n);
    });
    auto timed = std::ref(sink);
    r.read(streams, TimedSink(timed));
    flush();
    if (!follow) return;
    OutputWatch watch(r.fd());
    while (follow()) {
        watch.wait(100);
        r.read(streams, TimedSink(timed));
        flush();
    }
    r.read(streams, TimedSink(timed));
    flush();
}

void ViewSink::operator()(int stream, std::int64_t time, const char* data, std::size_t n) {
    if (view_.selects() &&
        (time == 0 || (view_.since && time < view_.since) || (view_.until && time > view_.until)))
        return;
    if (!view_.timestamps) {
        sink_(stream, data, n);
        return;
    }
    bool& at_start = line_start_[stream == 2 ? 2 : 1];
    std::string stamp = log_time(time) + " ";
    stamped_.clear();
    for (std::size_t i = 0; i < n; ++i) {
        if (at_start) stamped_ += stamp;
        stamped_ += data[i];
        at_start = data[i] == '\n';
    }
    sink_(stream, stamped_.data(), stamped_.size());
}

std::string log_time(std::int64_t time) {
    if (time <= 0) return "0001-01-01T00:00:00.000000000Z";
    time_t secs = static_cast<time_t>(time / 1000000000);
    tm t{};
    ::gmtime_r(&secs, &t);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%09lldZ", t.tm_year + 1900,
                  t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec,
                  static_cast<long long>(time % 1000000000));
    return buf;
}

OutputWatch::OutputWatch(int fd) : watch_(::inotify_init1(IN_CLOEXEC | IN_NONBLOCK)) {
    if (!watch_) return;
    std::string self = "/proc/self/fd/" + std::to_string(fd);
    if (::inotify_add_watch(watch_.get(), self.c_str(), IN_MODIFY) < 0) watch_.reset();
}

void OutputWatch::wait(int ms, int also) {
    pollfd p[2] = {{watch_ ? watch_.get() : -1, POLLIN, 0}, {also, POLLIN, 0}};
    if (!watch_ && also < 0) {
        ::usleep(static_cast<useconds_t>(ms) * 1000);
        return;
    }
    if (::poll(p, 2, ms) > 0 && (p[0].revents & POLLIN)) {
        char events[4096];
        while (::read(watch_.get(), events, sizeof events) > 0) {
        }
    }
}

namespace {

// in the copier, right after the fork: its three descriptors moved to 3, 4, 5, the rest closed
[[noreturn]] void out_copier_main(int out_r, int err_r, int file) {
    int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    int high[3] = {::fcntl(out_r, F_DUPFD_CLOEXEC, 10), ::fcntl(err_r, F_DUPFD_CLOEXEC, 10),
                   ::fcntl(file, F_DUPFD_CLOEXEC, 10)};
    if (null < 0 || high[0] < 0 || high[1] < 0 || high[2] < 0) ::_exit(1);
    for (int i = 0; i < 3; ++i) ::dup2(null, i);
    for (int i = 0; i < 3; ++i)
        if (::dup2(high[i], 3 + i) < 0) ::_exit(1);
    if (::syscall(SYS_close_range, 6U, ~0U, 0U) != 0)
        for (int fd = 6; fd < 4096; ++fd) ::close(fd);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    for (int sig : {SIGHUP, SIGINT, SIGTERM, SIGPIPE}) ::signal(sig, SIG_IGN);
    copy_streams_framed(3, 4, 5);
    ::_exit(0);
}

} // namespace

pid_t start_output_copier(const std::string& path, Fd& out_w, Fd& err_w) {
    Fd file(::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!file) throw_errno("cannot create the container's output file " + path);
    int out[2], err[2];
    if (::pipe2(out, O_CLOEXEC) != 0) throw_errno("pipe failed");
    Fd out_r(out[0]), ow(out[1]);
    if (::pipe2(err, O_CLOEXEC) != 0) throw_errno("pipe failed");
    Fd err_r(err[0]), ew(err[1]);
    pid_t pid = ::fork();
    if (pid < 0) throw_errno("cannot start the container's output copier");
    if (pid == 0) out_copier_main(out_r.get(), err_r.get(), file.get());
    out_w = std::move(ow);
    err_w = std::move(ew);
    return pid;
}

bool await_output_copier(pid_t pid, int ms) {
    for (int waited = 0;; waited += 5) {
        int st = 0;
        pid_t r = ::waitpid(pid, &st, WNOHANG);
        if (r == pid || (r < 0 && errno != EINTR)) return r == pid;
        if (waited >= ms) return false;
        ::usleep(5 * 1000);
    }
}

} // namespace gantry::container_log
