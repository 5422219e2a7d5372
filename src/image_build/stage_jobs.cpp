#include "image_build/stage_jobs.hpp"

#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <map>
#include <optional>
#include <poll.h>
#include <set>
#include <sys/wait.h>
#include <unistd.h>

namespace gantry::image_build {
namespace {

struct Child {
    pid_t pid;
    Fd out;
    std::string text; // what it wrote so far
};

// The child's report: "R" + result, or "E" + code + "\n" + the message, the hint and the detail,
// each as its length in decimal, '\n' and its bytes (any of them may hold a newline).
[[noreturn]] void child(const StageJobs& j, int stage, int fd) {
    std::string msg;
    try {
        msg = "R" + j.build(stage);
    } catch (const Error& e) {
        msg = "E" + std::to_string(static_cast<int>(e.code())) + "\n";
        for (const std::string* f : {&e.message(), &e.hint(), &e.detail()})
            msg += std::to_string(f->size()) + "\n" + *f;
    } catch (const std::exception& e) {
        std::string what = e.what();
        msg = "E1\n" + std::to_string(what.size()) + "\n" + what + "0\n0\n";
    }
    try {
        fs::write_all(fd, msg.data(), msg.size(), "a stage's result");
    } catch (const Error&) {
    }
    std::fflush(stdout);
    std::fflush(stderr);
    ::_exit(0);
}

Error decode_error(const std::string& text) {
    int code = std::atoi(text.c_str());
    std::size_t at = std::min(text.find('\n'), text.size());
    std::string fields[3];
    for (auto& f : fields) { // each: its length, '\n', its bytes; a short report leaves the rest
        std::size_t nl = text.find('\n', at + 1);
        if (nl == std::string::npos) break;
        std::size_t n = std::strtoull(text.c_str() + at + 1, nullptr, 10);
        f = text.substr(nl + 1, n);
        at = std::min(nl + n, text.size());
    }
    return Error(code > 0 && code < 256 ? static_cast<Errc>(code) : Errc::internal, fields[0],
                 fields[1])
        .with_detail(fields[2]);
}

} // namespace

void run_stage_jobs(const StageJobs& j) {
    std::set<int> finished;
    std::vector<int> pending = j.order;
    std::map<int, Child> running; // stage -> child
    std::optional<Error> failed;
    auto ready = [&](int s) {
        auto d = j.deps(s);
        return std::all_of(d.begin(), d.end(), [&](int x) { return finished.count(x) > 0; });
    };
    while (!pending.empty() || !running.empty()) {
        std::vector<int> now;
        if (!failed)
            for (int s : pending)
                if (ready(s) && running.size() + now.size() < std::max(1u, j.jobs))
                    now.push_back(s);
        if (now.size() == 1 && running.empty()) { // alone: in this process
            pending.erase(std::find(pending.begin(), pending.end(), now[0]));
            j.done(now[0], j.build(now[0]));
            finished.insert(now[0]);
            continue;
        }
        for (int s : now) {
            int p[2];
            if (::pipe2(p, O_CLOEXEC) != 0) throw_errno("pipe failed");
            std::fflush(stdout);
            std::fflush(stderr);
            pid_t pid = ::fork();
            if (pid < 0) throw_errno("fork failed");
            if (pid == 0) {
                ::close(p[0]);
                child(j, s, p[1]);
            }
            ::close(p[1]);
            running.emplace(s, Child{pid, Fd(p[0])});
            pending.erase(std::find(pending.begin(), pending.end(), s));
        }
        if (running.empty()) {
            if (failed) break;
            throw Error(Errc::internal, "build stages wait on each other");
        }
        // read every child's pipe as it writes (a result can be larger than a pipe holds); a
        // child has finished when its pipe reaches EOF
        std::vector<pollfd> fds;
        for (auto& [st, c] : running) fds.push_back({c.out.get(), POLLIN, 0});
        while (::poll(fds.data(), fds.size(), -1) < 0)
            if (errno != EINTR) throw_errno("waiting for a build stage failed");
        std::optional<int> ended;
        for (auto& [st, c] : running) {
            const int fd = c.out.get();
            auto f =
                std::find_if(fds.begin(), fds.end(), [fd](const pollfd& x) { return x.fd == fd; });
            if (!f->revents) continue;
            char buf[65536];
            ssize_t n = ::read(c.out.get(), buf, sizeof buf);
            if (n < 0 && errno == EINTR) continue;
            if (n > 0) {
                c.text.append(buf, static_cast<std::size_t>(n));
                continue;
            }
            ended = st;
            break;
        }
        if (!ended) continue;
        auto it = running.find(*ended);
        int status = 0;
        while (::waitpid(it->second.pid, &status, 0) < 0 && errno == EINTR) {
        }
        int stage = it->first;
        std::string text = std::move(it->second.text);
        running.erase(it);
        if (text.starts_with("R")) {
            j.done(stage, text.substr(1));
            finished.insert(stage);
        } else if (!failed) {
            failed = text.starts_with("E")
                         ? decode_error(text.substr(1))
                         : Error(Errc::internal, "a build stage's process died "
                                                 "(status " +
                                                     std::to_string(status) + ")");
        }
    }
    if (failed) throw *failed;
}

} // namespace gantry::image_build
