#include "util/spawn.hpp"

#include "util/error.hpp"

#include <cerrno>
#include <csignal>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace gantry {

Spawned::Spawned(const std::vector<std::string>& args, const std::vector<std::pair<int, int>>& dups,
                 const std::vector<int>& message_targets) {
    err_.reset(::memfd_create("spawned-messages", MFD_CLOEXEC));
    if (!err_) throw_errno("memfd_create failed");
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    for (auto [fd, target] : dups) posix_spawn_file_actions_adddup2(&fa, fd, target);
    for (int target : message_targets) posix_spawn_file_actions_adddup2(&fa, err_.get(), target);
    std::vector<std::string> copy = args;
    std::vector<char*> argv;
    for (auto& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    int rc = ::posix_spawn(&pid_, copy[0].c_str(), &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        pid_ = -1;
        throw sys_error(rc, "cannot start " + args[0]);
    }
}

Spawned::~Spawned() {
    if (pid_ > 0) {
        ::kill(pid_, SIGKILL);
        wait();
    }
}

int Spawned::wait() {
    int st = 0;
    while (::waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    return st;
}

std::string Spawned::messages() {
    std::string s(4096, '\0');
    ssize_t n = ::pread(err_.get(), s.data(), s.size(), 0);
    s.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
}

bool Spawned::ok(int status) {
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

} // namespace gantry
