// Helper processes for the service (engine_api/spawn.hpp).
#include "engine_api/spawn.hpp"

#include "engine_api/request.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"

#include <cerrno>
#include <csignal>
#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace gantry::engine_api {

namespace {

// in the child, between fork and exec: async-signal-safe calls only
[[noreturn]] void api_hlp_child(const HelperIo& io, int devnull, char* const* argv) {
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGPIPE, SIG_DFL);
    if (io.ctty) ::setsid();
    int fds[3] = {io.in < 0 ? devnull : io.in, io.out < 0 ? devnull : io.out,
                  io.err < 0 ? devnull : io.err};
    // moved above 2 first, so that dup2 onto 0..2 never overwrites one still needed
    int high[3];
    for (int i = 0; i < 3; ++i) high[i] = ::fcntl(fds[i], F_DUPFD, 10);
    for (int i = 0; i < 3; ++i)
        if (high[i] < 0 || ::dup2(high[i], i) < 0) ::_exit(127);
    if (io.ctty) ::ioctl(0, TIOCSCTTY, 0);
    if (::syscall(SYS_close_range, 3U, ~0U, 0U) != 0)
        for (int fd = 3; fd < 4096; ++fd) ::close(fd);
    ::execve("/proc/self/exe", argv, environ);
    ::_exit(127);
}

} // namespace

pid_t spawn_helper(const std::string& store_root, const std::vector<std::string>& args,
                   const HelperIo& io) {
    std::vector<std::string> words = {"gantry", "--root", store_root};
    words.insert(words.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& w : words) argv.push_back(w.data());
    argv.push_back(nullptr);
    Fd devnull(::open("/dev/null", O_RDWR | O_CLOEXEC));
    if (!devnull) throw_errno("cannot open /dev/null");
    pid_t pid = ::fork();
    if (pid < 0) throw_errno("cannot start a gantry helper process");
    if (pid == 0) api_hlp_child(io, devnull.get(), argv.data());
    return pid;
}

int wait_helper(pid_t pid) {
    int st = 0;
    while (::waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) return 125;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

HelperResult run_helper(const std::string& store_root, const std::vector<std::string>& args,
                        const std::string& input) {
    int in[2], out[2], err[2];
    if (::pipe2(in, O_CLOEXEC) != 0) throw_errno("pipe failed");
    Fd in_r(in[0]), in_w(in[1]);
    if (::pipe2(out, O_CLOEXEC) != 0) throw_errno("pipe failed");
    Fd out_r(out[0]), out_w(out[1]);
    if (::pipe2(err, O_CLOEXEC) != 0) throw_errno("pipe failed");
    Fd err_r(err[0]), err_w(err[1]);
    pid_t pid = spawn_helper(store_root, args, {in_r.get(), out_w.get(), err_w.get(), false});
    in_r = Fd();
    out_w = Fd();
    err_w = Fd();
    // small input (a create request): written whole before reading
    std::size_t done = 0;
    while (done < input.size()) {
        ssize_t n = ::write(in_w.get(), input.data() + done, input.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        done += static_cast<std::size_t>(n);
    }
    in_w = Fd();
    HelperResult r;
    bool out_open = true, err_open = true;
    while (out_open || err_open) {
        pollfd p[2] = {{out_open ? out_r.get() : -1, POLLIN, 0},
                       {err_open ? err_r.get() : -1, POLLIN, 0}};
        if (::poll(p, 2, -1) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        char buf[4096];
        for (int i = 0; i < 2; ++i) {
            if (!p[i].revents) continue;
            ssize_t n = ::read(p[i].fd, buf, sizeof buf);
            if (n > 0)
                (i == 0 ? r.out : r.err).append(buf, static_cast<std::size_t>(n));
            else if (n == 0 || errno != EINTR)
                (i == 0 ? out_open : err_open) = false;
        }
    }
    r.status = wait_helper(pid);
    return r;
}

void throw_helper_failure(const HelperResult& r, const std::string& what) {
    std::string m = r.err;
    while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
    for (const char* p : {"gantry: ", "error: "})
        if (m.rfind(p, 0) == 0) m = m.substr(std::string(p).size());
    // the CLI's "MESSAGE\nhint: HINT" as dispatch words an Error: "MESSAGE (HINT)"
    if (auto h = m.find("\nhint: "); h != std::string::npos)
        m = m.substr(0, h) + " (" + m.substr(h + 7) + ")";
    if (m.empty()) m = what + " failed with exit status " + std::to_string(r.status);
    int status = 500;
    switch (r.status) {
    case 2:
    case 4:
        status = 400;
        break;
    case 3:
        status = 404;
        break;
    case 5:
        status = 409;
        break;
    case 7:
        status = 501;
        break;
    default:
        break;
    }
    throw ApiError(status, m);
}

} // namespace gantry::engine_api
