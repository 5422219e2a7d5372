#include "engine_api/helper.hpp"

#include "util/error.hpp"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace gantry::engine_api {

HelperProcess spawn_helper(const std::vector<std::string>& args, int in, HelperOut out) {
    const bool pipe_out = out != HelperOut::none;
    HelperProcess h;
    h.err = Fd(::memfd_create("gantry-helper-stderr", MFD_CLOEXEC));
    if (!h.err) throw_errno("cannot make the helper's error file");
    int p[2] = {-1, -1};
    if (pipe_out && ::pipe2(p, O_CLOEXEC) != 0) throw_errno("cannot make a pipe");
    Fd rd(p[0]), wr(p[1]);
    Fd null(::open("/dev/null", O_RDWR | O_CLOEXEC));
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in >= 0 ? in : null.get(), 0);
    posix_spawn_file_actions_adddup2(&fa, pipe_out ? wr.get() : null.get(), 1);
    posix_spawn_file_actions_adddup2(&fa, out == HelperOut::pipe_both ? wr.get() : h.err.get(), 2);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none, all_default;
    sigemptyset(&none);
    sigemptyset(&all_default);
    sigaddset(&all_default, SIGPIPE);
    posix_spawnattr_setsigmask(&attr, &none); // the service blocks SIGTERM and SIGINT
    posix_spawnattr_setsigdefault(&attr, &all_default);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    int rc = ::posix_spawn(&h.pid, argv[0], &fa, &attr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) {
        errno = rc;
        throw_errno("cannot start the helper " + args[0]);
    }
    h.out = std::move(rd);
    return h;
}

void wait_helper(HelperProcess& h) {
    if (h.pid <= 0) return;
    int status = 0;
    while (::waitpid(h.pid, &status, 0) < 0 && errno == EINTR) {
    }
    h.pid = -1;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return;
    std::string msg;
    char buf[4096];
    ssize_t n = ::pread(h.err.get(), buf, sizeof buf, 0);
    if (n > 0) msg.assign(buf, static_cast<std::size_t>(n));
    for (const char* prefix : {"gantry: ", "error: "})
        if (msg.starts_with(prefix)) msg.erase(0, std::strlen(prefix));
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
    for (auto& c : msg)
        if (c == '\n') c = ' ';
    if (msg.empty()) msg = "the helper ended with status " + std::to_string(status);
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 1;
    throw Error(code >= 1 && code <= 11 ? static_cast<Errc>(code) : Errc::internal, msg);
}

void kill_helper(HelperProcess& h) {
    if (h.pid <= 0) return;
    ::kill(h.pid, SIGKILL);
    while (::waitpid(h.pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    h.pid = -1;
}

HelperProcess::~HelperProcess() {
    kill_helper(*this);
}

} // namespace gantry::engine_api
