#include "runtime/clone.hpp"

#include "runtime/child.hpp"
#include "runtime/child_failure.hpp"
#include "runtime/hook_runner.hpp"
#include "runtime/launcher.hpp"
#include "runtime/sanitizer_stack.hpp"
#include "userns/idmap.hpp"

#include <cerrno>
#include <cstring>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace gantry::runtime::detail {

namespace {

// What the shared-memory child gets: pointers into the parent's memory, read only.
struct SharedChild {
    const Launch* l;
    int err_fd, fd_sock;
    bool single_id;
    uid_t uid;
    gid_t gid;
    SanitizerStack asan{};
};

int shared_child_main(void* arg) {
    auto* a = static_cast<SharedChild*>(arg);
    sanitizer_stack_entered(a->asan);
    try {
        userns::write_own_id_maps(a->uid, a->gid);
    } catch (const Error& e) {
        write_failure(a->err_fd, static_cast<int>(Errc::run_failed), e.message(), e.hint());
        ::_exit(static_cast<int>(Errc::run_failed));
    }
    child_main(*a->l, -1, a->err_fd, a->single_id, a->fd_sock);
}

// A stack for the shared-memory child, with a guard page below it.
struct ChildStack {
    static constexpr size_t kSize = 1 << 20, kGuard = 4096;
    void* base = MAP_FAILED;
    ChildStack() {
        base = ::mmap(nullptr, kSize + kGuard, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK | MAP_NORESERVE, -1, 0);
        if (base == MAP_FAILED) throw_errno("cannot allocate a stack for the container process");
        ::mprotect(base, kGuard, PROT_NONE);
    }
    ~ChildStack() {
        sanitizer_forget(static_cast<char*>(base) + kGuard, kSize);
        ::munmap(base, kSize + kGuard);
    }
    void* top() const { return static_cast<char*>(base) + kSize + kGuard; }
};

} // namespace

int clone_flags(const std::vector<std::string>& namespaces) {
    int f = 0;
    for (auto& n : namespaces)
        f |= n == "user"      ? CLONE_NEWUSER
             : n == "mount"   ? CLONE_NEWNS
             : n == "pid"     ? CLONE_NEWPID
             : n == "ipc"     ? CLONE_NEWIPC
             : n == "uts"     ? CLONE_NEWUTS
             : n == "network" ? CLONE_NEWNET
                              : 0;
    return f;
}

Error namespaces_error(int err) {
    std::string what =
        std::string("cannot create the container's namespaces: ") + std::strerror(err);
    auto d = userns::diagnose_userns(err, ::geteuid());
    return Error(Errc::run_failed, d.why.empty() ? what : what + ": " + d.why, d.hint);
}

bool can_share_memory(const Launch& l) {
    const auto& s = l.spec;
    // (prestart and createRuntime hooks run in gantry while the process waits: not after vfork;
    // oomScoreAdj is written from outside, before the go, as rlimits are)
    return !l.init && !l.on_created && l.start_gate < 0 && !l.fuse_serve && l.lower_tree < 0 &&
           !has_runtime_hooks(s) && !s.oom_score_adj && s.namespace_paths.empty() &&
           s.has_namespace("user") && ::geteuid() != 0 && s.uid_mappings.size() == 1 &&
           s.uid_mappings[0].size == 1 && s.uid_mappings[0].host_id == ::geteuid() &&
           userns::is_single_id(s.gid_mappings) && s.gid_mappings[0].host_id == ::getegid() &&
           // the child writes its own maps, as root (write_own_id_maps); --userns keep-id's
           // map the caller's ids to themselves, written from outside
           s.uid_mappings[0].container_id == 0 && s.gid_mappings[0].container_id == 0;
}

long clone_sharing_memory(const Launch& l, int err_fd, int fd_sock, bool single_id) {
    long pid;
    int err;
    {
        ChildStack stack;
        SharedChild arg{&l, err_fd, fd_sock, single_id, ::geteuid(), ::getegid()};
        // returns once the child exec'ed the workload or exited
        sanitizer_stack_enter(static_cast<char*>(stack.base) + ChildStack::kGuard,
                              ChildStack::kSize);
        pid = ::clone(shared_child_main, stack.top(),
                      clone_flags(l.spec.namespaces) | CLONE_VM | CLONE_VFORK | SIGCHLD, &arg);
        err = errno;
        sanitizer_stack_back(arg.asan);
    }
    errno = err; // the clone's, not the stack's munmap
    return pid;
}

long fork_into_namespaces(const std::vector<std::string>& namespaces) {
    return ::syscall(SYS_clone, clone_flags(namespaces) | SIGCHLD, nullptr, nullptr, nullptr,
                     nullptr);
}

} // namespace gantry::runtime::detail
