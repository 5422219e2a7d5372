#include "image_build/output_tail.hpp"

#include "util/error.hpp"
#include "util/fs.hpp"

#include <cerrno>
#include <cstdio>
#include <deque>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace gantry::image_build {
namespace {

// The helper: copies IN to OUT (unless quiet) until every writer is gone, then writes the last
// KEEP lines to RESULT.
[[noreturn]] void copy(int in, int out, int result, bool quiet, std::size_t keep) {
    std::deque<std::string> lines;
    std::string partial;
    char buf[8192];
    for (;;) {
        ssize_t n = ::read(in, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        if (!quiet) try {
                fs::write_all(out, buf, static_cast<std::size_t>(n), "the step's output");
            } catch (const Error&) {
                quiet = true; // stderr is gone: keep the lines for the error message only
            }
        for (ssize_t i = 0; i < n; ++i) {
            if (buf[i] == '\n') {
                lines.push_back(std::move(partial));
                partial.clear();
                if (lines.size() > keep) lines.pop_front();
            } else if (partial.size() < 4096) {
                partial += buf[i];
            }
        }
    }
    if (!partial.empty()) lines.push_back(std::move(partial));
    if (lines.size() > keep) lines.pop_front();
    std::string text;
    for (const auto& l : lines) text += "  " + l + "\n";
    try {
        fs::write_all(result, text.data(), text.size(), "the step's last lines");
    } catch (const Error&) {
    }
    ::_exit(0);
}

} // namespace

OutputTail::OutputTail(bool quiet, std::size_t keep) {
    int p[2], r[2];
    if (::pipe2(p, O_CLOEXEC) != 0) throw_errno("pipe failed");
    if (::pipe2(r, O_CLOEXEC) != 0) {
        ::close(p[0]);
        ::close(p[1]);
        throw_errno("pipe failed");
    }
    std::fflush(stdout);
    std::fflush(stderr);
    helper_ = ::fork();
    if (helper_ < 0) throw_errno("fork failed");
    if (helper_ == 0) {
        ::close(p[1]);
        ::close(r[0]);
        copy(p[0], 2, r[1], quiet, keep);
    }
    ::close(p[0]);
    ::close(r[1]);
    result_.reset(r[0]);
    saved_out_.reset(::fcntl(1, F_DUPFD_CLOEXEC, 3));
    saved_err_.reset(::fcntl(2, F_DUPFD_CLOEXEC, 3));
    ::dup2(p[1], 1); // dup2 clears FD_CLOEXEC: the container inherits these
    ::dup2(p[1], 2);
    ::close(p[1]);
}

OutputTail::~OutputTail() {
    stop();
}

void OutputTail::stop() {
    if (stopped_) return;
    stopped_ = true;
    std::fflush(stdout);
    std::fflush(stderr);
    ::dup2(saved_out_.get(), 1); // this process's last writers of the pipe go
    ::dup2(saved_err_.get(), 2);
    try { // EOF once the helper is done (after every writer, the container too, is gone)
        lines_ = fs::read_stream(result_.get(), 1 << 20, "the step's last lines");
    } catch (const Error&) {
    }
    while (::waitpid(helper_, nullptr, 0) < 0 && errno == EINTR) {
    }
}

} // namespace gantry::image_build
