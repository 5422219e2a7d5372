#include "runtime/hook_runner.hpp"

#include "runtime/launcher.hpp"
#include "runtime/process.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <nlohmann/json.hpp>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace gantry::runtime::detail {

namespace {
// ": OUTPUT" (a failed hook's stdout and stderr, trimmed), or "" when it wrote nothing.
std::string said(std::string output) {
    while (!output.empty() && std::isspace(static_cast<unsigned char>(output.back())))
        output.pop_back();
    return output.empty() ? "" : ": " + output;
}
} // namespace

void run_hook(const std::string& stage, const oci::Hook& hook, const std::string& state_json,
              const std::vector<std::string>* restrict_caps, const std::string& cwd) {
    std::string what = stage + " hook " + hook.path;
    if (hook.path.empty() || hook.path[0] != '/')
        throw Error(Errc::run_failed, what + ": the hook path must be absolute");
    int in[2];
    if (::pipe2(in, O_CLOEXEC) != 0) throw_errno("pipe failed");
    Fd rd(in[0]), wr(in[1]);
    int out[2];
    if (::pipe2(out, O_CLOEXEC) != 0) throw_errno("pipe failed");
    Fd out_r(out[0]), out_w(out[1]);
    std::vector<std::string> args =
        hook.args.empty() ? std::vector<std::string>{hook.path} : hook.args;
    std::vector<char*> argv, envp;
    for (auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    // a hook without "env" that the runtime itself runs inherits the runtime's environment,
    // as runc's; createContainer and startContainer (in the container) get exactly their env
    bool inherit = hook.inherit_env && stage != "createContainer" && stage != "startContainer";
    if (inherit)
        for (char** e = environ; *e; ++e) envp.push_back(*e);
    for (auto& e : hook.env) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
    pid_t c = ::fork();
    if (c < 0) throw_errno("fork failed");
    if (c == 0) {
        ::dup2(rd.get(), 0);
        ::dup2(out_w.get(), 1);
        ::dup2(out_w.get(), 2);
        close_on_exec_from_3();
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) {
            // before exec: the report is the hook's output, in the error below
            std::string m = "cannot enter the hook's working directory " + cwd + ": " +
                            std::strerror(errno) + "\n";
            [[maybe_unused]] const ssize_t n = ::write(2, m.data(), m.size());
            ::_exit(126);
        }
        if (restrict_caps) restrict_helper(*restrict_caps);
        ::execve(hook.path.c_str(), argv.data(), envp.data());
        ::_exit(127);
    }
    rd.reset();
    out_w.reset();
    // Its stdout and stderr are kept, as runc keeps them: they go into the error when it fails,
    // never into the container's output (a hook at create shares the container's stdio).
    ::fcntl(out_r.get(), F_SETFL, O_NONBLOCK);
    std::string output;
    auto drain = [&] {
        char buf[4096];
        while (out_r) {
            ssize_t n = ::read(out_r.get(), buf, sizeof buf);
            if (n > 0) {
                if (output.size() < 16384) output.append(buf, static_cast<std::size_t>(n));
            } else if (n == 0) {
                out_r.reset(); // EOF: the hook (and whatever it started) closed it
            } else if (errno != EINTR) {
                return; // EAGAIN: nothing more for now
            }
        }
    }; // The state is fed as the hook reads it, within its timeout: a hook that reads none of it
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
        drain();
        pid_t r = ::waitpid(c, &st, WNOHANG);
        if (r == c) break;
        if (r < 0 && errno != EINTR) throw_errno("cannot wait for " + what);
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                        deadline - std::chrono::steady_clock::now())
                        .count();
        if (left <= 0) {
            ::kill(c, SIGKILL);
            ::waitpid(c, &st, 0);
            drain();
            throw Error(Errc::run_failed,
                        what + " timed out after " + std::to_string(timeout_s) + " s" +
                            said(output),
                        "fix the hook or raise its timeout in the CDI spec");
        }
        if (exited) {
            pollfd p[3] = {{exited.get(), POLLIN, 0},
                           {wr ? wr.get() : -1, POLLOUT, 0},
                           {out_r ? out_r.get() : -1, POLLIN, 0}};
            ::poll(p, 3, static_cast<int>(std::min<long long>(left, 60'000)));
        } else {
            ::usleep(static_cast<useconds_t>(std::min<long long>(left, 5)) * 1000);
        }
    }
    drain(); // what is left of it (a process it left behind may hold the pipe: not awaited)
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        throw Error(Errc::run_failed,
                    what +
                        (WIFEXITED(st) ? " exited with status " + std::to_string(WEXITSTATUS(st))
                                       : " was killed by signal " + std::to_string(WTERMSIG(st))) +
                        said(output),
                    "see the hook's output above; the device's CDI spec names it");
}

bool has_runtime_hooks(const oci::RuntimeSpec& spec) {
    for (const char* stage : {"prestart", "createRuntime"})
        if (auto it = spec.hooks.find(stage); it != spec.hooks.end() && !it->second.empty())
            return true;
    return false;
}

void run_runtime_hooks(const Launch& l, pid_t pid, int sock) {
    char b = 0;
    ssize_t n;
    while ((n = ::read(sock, &b, 1)) < 0 && errno == EINTR) {
    }
    if (n != 1 || b != 'h') return; // the process failed before: its report says why
    const std::string state = hook_state(l, pid, "creating");
    for (const char* stage : {"prestart", "createRuntime"})
        if (auto it = l.spec.hooks.find(stage); it != l.spec.hooks.end())
            for (auto& h : it->second) run_hook(stage, h, state, nullptr, hook_cwd(l, stage));
    b = 'r';
    if (::write(sock, &b, 1) != 1) throw_errno("cannot resume the container process");
}

std::string hook_cwd(const Launch& l, const std::string& stage) {
    if (l.hook_dir.empty()) return "/";
    if (stage == "createContainer") return l.rootfs.empty() ? "/" : l.rootfs;
    if (stage == "startContainer") return l.spec.cwd.empty() ? "/" : l.spec.cwd;
    return l.hook_dir;
}

std::string hook_state(const Launch& l, pid_t pid, const char* status) {
    nlohmann::json st{{"ociVersion", "1.0.2"}, {"id", l.id},
                      {"status", status},      {"pid", pid},
                      {"bundle", l.bundle},    {"annotations", l.spec.annotations}};
    return st.dump();
}

} // namespace gantry::runtime::detail
