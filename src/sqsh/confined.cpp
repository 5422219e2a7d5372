#include "sqsh/confined.hpp"

#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/inherited_fds.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

namespace gantry::sqsh {

namespace {

constexpr rlim_t kReaderMemory = rlim_t{1} << 30;
constexpr int kReaderSeconds = 60;

void write_answer(int fd, const std::string& answer) {
    std::size_t done = 0;
    while (done < answer.size()) {
        ssize_t n = ::write(fd, answer.data() + done, answer.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) ::_exit(126);
        done += static_cast<std::size_t>(n);
    }
}

// The reading process: confined, then everything libsquashfs parses. Its answer: "ok" and
// WORK's result, or "error", the Errc number, the message, the hint.
[[noreturn]] void reader(Image& image, int out, const std::function<void()>& confine,
                         const std::function<std::string(Image&)>& work) {
    std::string answer;
    try {
#ifndef GANTRY_SANITIZE // ASan's shadow alone is terabytes of address space: no cap can hold
        rlimit mem{kReaderMemory, kReaderMemory};
        ::setrlimit(RLIMIT_AS, &mem);
#endif
        confine();
        std::string result = work(image);
        put_field(answer, "ok");
        put_field(answer, result);
    } catch (const Error& e) {
        answer.clear();
        put_field(answer, "error");
        put_field(answer, std::to_string(static_cast<int>(e.code())));
        put_field(answer, e.message());
        put_field(answer, e.hint());
    } catch (const std::exception& e) {
        answer.clear();
        put_field(answer, "error");
        put_field(answer, std::to_string(static_cast<int>(Errc::invalid)));
        put_field(answer, image.path() + ": cannot read it: " + e.what());
        put_field(answer, "");
    }
    write_answer(out, answer);
    ::_exit(0);
}

// Reads the reader's answer (at most MAX bytes, within the deadline); false on timeout.
bool read_answer(int fd, std::string& answer, std::size_t max, const std::string& path) {
    timespec start{};
    ::clock_gettime(CLOCK_MONOTONIC, &start);
    char buf[65536];
    for (;;) {
        timespec now{};
        ::clock_gettime(CLOCK_MONOTONIC, &now);
        long left = kReaderSeconds * 1000L - ((now.tv_sec - start.tv_sec) * 1000L +
                                              (now.tv_nsec - start.tv_nsec) / 1000000L);
        if (left <= 0) return false;
        pollfd p{fd, POLLIN, 0};
        int r = ::poll(&p, 1, static_cast<int>(left));
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) throw_errno("cannot read what the squashfs reader found in " + path);
        if (r == 0) return false;
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw_errno("cannot read what the squashfs reader found in " + path);
        if (n == 0) return true;
        if (answer.size() + static_cast<std::size_t>(n) > max)
            throw Error(Errc::invalid, path + ": the squashfs reader sent more than it may",
                        "check the file with `rdsquashfs -l / " + path + "`");
        answer.append(buf, static_cast<std::size_t>(n));
    }
}

} // namespace

void damaged(const std::string& path, const std::string& why) {
    throw Error(Errc::invalid, path + ": " + why + " (a damaged or hostile squashfs image)",
                "check the file with `rdsquashfs -l / " + path + "`, or write it again");
}

void put_field(std::string& out, std::string_view field) {
    auto n = static_cast<std::uint32_t>(field.size());
    out.append(reinterpret_cast<const char*>(&n), sizeof n);
    out.append(field);
}

bool take_field(std::string_view& in, std::string& field) {
    std::uint32_t n = 0;
    if (in.size() < sizeof n) return false;
    std::memcpy(&n, in.data(), sizeof n);
    in.remove_prefix(sizeof n);
    if (n > in.size()) return false;
    field.assign(in.substr(0, n));
    in.remove_prefix(n);
    return true;
}

namespace {

// The reader process started: WORK(IMAGE) confined, its answer on ANSWER (KEEP_FD kept open).
struct Reader {
    pid_t pid = -1;
    Fd answer;
};

Reader start_reader(Image& image, const std::function<void()>& confine,
                    const std::function<std::string(Image&)>& work, int keep_fd) {
    int pipe_fds[2];
    if (::pipe2(pipe_fds, O_CLOEXEC) != 0) throw_errno("cannot start the squashfs reader");
    Fd in(pipe_fds[0]), out(pipe_fds[1]);
    pid_t parent = ::getpid();
    pid_t pid = ::fork();
    if (pid < 0) throw_errno("cannot start the squashfs reader");
    if (pid == 0) {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != parent) ::_exit(0);
        // only the image, the answer's pipe, KEEP_FD and stderr (for a failed confinement)
        int keep[] = {2, image.fd(), out.get(), keep_fd < 0 ? 2 : keep_fd};
        close_fds_except(keep);
        reader(image, out.get(), confine, work);
    }
    return Reader{pid, std::move(in)};
}

int reap(pid_t pid, bool kill) {
    if (kill) ::kill(pid, SIGKILL);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return status;
}

// The reader's result: WORK's answer, or the Error it sent, or what its end says.
std::string result_of(const std::string& path, int status, const std::string& answer,
                      std::size_t max_answer) {
    if (WIFSIGNALED(status))
        damaged(path, std::string("reading it stopped the confined reader (") +
                          ::strsignal(WTERMSIG(status)) + ")");
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        throw Error(Errc::run_failed,
                    "the squashfs reader for " + path + " could not start (exit " +
                        std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1) + ")");
    std::string_view rest(answer);
    std::string kind;
    if (!take_field(rest, kind)) damaged(path, "the confined reader's answer is cut short");
    if (kind == "error") {
        std::string code, message, hint;
        if (!take_field(rest, code) || !take_field(rest, message) || !take_field(rest, hint))
            damaged(path, "the confined reader's answer is cut short");
        int c = std::atoi(code.c_str());
        bool known = c == static_cast<int>(Errc::not_found) ||
                     c == static_cast<int>(Errc::invalid) ||
                     c == static_cast<int>(Errc::unsupported) || c == static_cast<int>(Errc::io);
        throw Error(known ? static_cast<Errc>(c) : Errc::run_failed, message, hint);
    }
    std::string result;
    if (kind != "ok" || !take_field(rest, result) || !rest.empty() || result.size() > max_answer)
        damaged(path, "the confined reader's answer is malformed");
    return result;
}

} // namespace

std::string run_confined(Image& image, const std::function<void()>& confine,
                         const std::function<std::string(Image&)>& work, std::size_t max_answer,
                         int keep_fd) {
    const std::string& path = image.path();
    const std::size_t max = max_answer + 4096; // the framing and an error's message
    Reader r = start_reader(image, confine, work, keep_fd);
    std::string answer;
    bool finished = false;
    try {
        finished = read_answer(r.answer.get(), answer, max, path);
    } catch (...) {
        reap(r.pid, true);
        throw;
    }
    int status = reap(r.pid, !finished);
    if (!finished)
        damaged(path, "reading it took longer than " + std::to_string(kReaderSeconds) + " s");
    return result_of(path, status, answer, max_answer);
}

ConfinedStream::ConfinedStream(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}

std::size_t ConfinedStream::read(void* buf, std::size_t n) {
    for (;;) {
        pollfd p{fd_, POLLIN, 0};
        int r = ::poll(&p, 1, kReaderSeconds * 1000);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) throw_errno("cannot read what the squashfs reader sends of " + path_);
        if (r == 0)
            damaged(path_, "its confined reader sent nothing for " +
                               std::to_string(kReaderSeconds) + " s");
        ssize_t got = ::read(fd_, buf, n);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) throw_errno("cannot read what the squashfs reader sends of " + path_);
        return static_cast<std::size_t>(got);
    }
}

void stream_confined(Image& image, const std::function<void()>& confine,
                     const std::function<void(Image&, int)>& produce,
                     const std::function<void(ConfinedStream&)>& consume) {
    const std::string& path = image.path();
    int pipe_fds[2];
    if (::pipe2(pipe_fds, O_CLOEXEC) != 0) throw_errno("cannot start the squashfs reader");
    Fd data(pipe_fds[0]), data_out(pipe_fds[1]);
    const int out = data_out.get();
    Reader r = start_reader(
        image, confine,
        [&produce, out](Image& im) {
            produce(im, out);
            return std::string();
        },
        out);
    data_out.reset();
    ConfinedStream stream(data.get(), path);
    bool too_much = false;
    try {
        consume(stream);
        // what follows the stream's own end, up to the reader's exit (its last writes)
        char buf[65536];
        std::size_t extra = 0;
        while (std::size_t n = stream.read(buf, sizeof buf))
            if ((extra += n) > (1u << 20)) {
                too_much = true;
                break;
            }
    } catch (...) {
        // the reader ended first (a damaged image: its Error says why, and the stream was cut
        // short: its answer or its death is on the answer pipe already), or gantry stopped
        // reading for its own reason: then the reader is killed before its stream is closed, so
        // that its failure to write on (EPIPE) never passes for the reason
        pollfd answered{r.answer.get(), POLLIN, 0};
        const bool ended = ::poll(&answered, 1, 0) > 0;
        if (!ended) ::kill(r.pid, SIGKILL);
        data.reset();
        int status = reap(r.pid, true);
        std::string answer;
        char buf[4096];
        for (ssize_t n; (n = ::read(r.answer.get(), buf, sizeof buf)) > 0;)
            answer.append(buf, static_cast<std::size_t>(n));
        std::string_view rest(answer);
        std::string kind;
        bool died = WIFSIGNALED(status) && WTERMSIG(status) != SIGKILL &&
                    WTERMSIG(status) != SIGPIPE; // not by gantry's doing
        if (died || (WIFEXITED(status) && take_field(rest, kind) && kind == "error"))
            result_of(path, status, answer, 0); // throws the reader's Error, or its death
        throw;
    }
    if (too_much) { // the reader is stopped: its failure to write on (EPIPE) is not the news
        data.reset();
        reap(r.pid, true);
        damaged(path, "its confined reader sent more than the stream it wrote");
    }
    std::string answer;
    bool finished = false;
    try {
        finished = read_answer(r.answer.get(), answer, 4096, path);
    } catch (...) {
        reap(r.pid, true);
        throw;
    }
    int status = reap(r.pid, !finished);
    if (!finished)
        damaged(path, "its reader did not end within " + std::to_string(kReaderSeconds) + " s");
    result_of(path, status, answer, 0);
}

} // namespace gantry::sqsh
