#include "runtime/hook_runner.hpp"

#include "runtime/launcher.hpp"
#include "runtime/process.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <fcntl.h>
#include <nlohmann/json.hpp>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace gantry::runtime::detail {

void run_hook(const std::string& stage, const oci::Hook& hook, const std::string& state_json,
              const std::vector<std::string>* restrict_caps) {
    std::string what = stage + " hook " + hook.path;
    if (hook.path.empty() || hook.path[0] != '/')
        throw Error(Errc::run_failed, what + ": the hook path must be absolute");
    int in[2];
    if (::pipe2(in, O_CLOEXEC) != 0) throw_errno("pipe failed");
    Fd rd(in[0]), wr(in[1]);
    std::vector<std::string> args =
        hook.args.empty() ? std::vector<std::string>{hook.path} : hook.args;
    std::vector<char*> argv, envp;
    for (auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    for (auto& e : hook.env) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
    pid_t c = ::fork();
    if (c < 0) throw_errno("fork failed");
    if (c == 0) {
        ::dup2(rd.get(), 0);
        close_on_exec_from_3();
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        if (::chdir("/") != 0) ::_exit(126);
        if (restrict_caps) restrict_helper(*restrict_caps);
        ::execve(hook.path.c_str(), argv.data(), envp.data());
        ::_exit(127);
    }
    rd.reset();
    // The state is fed as the hook reads it, within its timeout: a hook that reads none of it
    // (or stops) must neither block gantry past the timeout nor fail for that (EPIPE), as runc.
    ::signal(SIGPIPE, SIG_IGN);
    ::fcntl(wr.get(), F_SETFL, O_NONBLOCK);
    std::size_t fed = 0;
    auto feed = [&] {
        while (wr && fed < state_json.size()) {
            ssize_t n = ::write(wr.get(), state_json.data() + fed, state_json.size() - fed);
            if (n > 0) {
                fed += static_cast<std::size_t>(n);
            } else if (n < 0 && errno == EINTR) {
                continue;
            } else if (n < 0 && errno == EAGAIN) {
                return; // the pipe is full: more once the hook has read
            } else {
                break; // EPIPE: the hook closed its stdin or exited
            }
        }
        wr.reset(); // all of it written (the hook sees EOF), or the hook will not read it
    };
    feed();
    int timeout_s = hook.timeout && *hook.timeout > 0 ? *hook.timeout : 30;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
    // asleep until the hook exits or can take more of its state (every 5 ms without a pidfd)
    Fd exited(static_cast<int>(::syscall(SYS_pidfd_open, c, 0)));
    int st = 0;
    for (;;) {
        feed();
        pid_t r = ::waitpid(c, &st, WNOHANG);
        if (r == c) break;
        if (r < 0 && errno != EINTR) throw_errno("cannot wait for " + what);
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                        deadline - std::chrono::steady_clock::now())
                        .count();
        if (left <= 0) {
            ::kill(c, SIGKILL);
            ::waitpid(c, &st, 0);
            throw Error(Errc::run_failed,
                        what + " timed out after " + std::to_string(timeout_s) + " s",
                        "fix the hook or raise its timeout in the CDI spec");
        }
        if (exited) {
            pollfd p[2] = {{exited.get(), POLLIN, 0}, {wr ? wr.get() : -1, POLLOUT, 0}};
            ::poll(p, 2, static_cast<int>(std::min<long long>(left, 60'000)));
        } else {
            ::usleep(static_cast<useconds_t>(std::min<long long>(left, 5)) * 1000);
        }
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        throw Error(Errc::run_failed,
                    what + (WIFEXITED(st)
                                ? " exited with status " + std::to_string(WEXITSTATUS(st))
                                : " was killed by signal " + std::to_string(WTERMSIG(st))),
                    "see the hook's output above; the device's CDI spec names it");
}

std::string hook_state(const Launch& l, pid_t pid, const char* status) {
    nlohmann::json st{{"ociVersion", "1.0.2"}, {"id", l.id},
                      {"status", status},      {"pid", pid},
                      {"bundle", l.bundle},    {"annotations", l.spec.annotations}};
    return st.dump();
}

} // namespace gantry::runtime::detail
