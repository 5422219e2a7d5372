#include "runtime/keeper.hpp"

#include "runtime/raw_syscall.hpp"

#include <cstdio>
#include <fcntl.h>
#include <linux/futex.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

namespace gantry::runtime {

namespace {

using detail::raw;

// Lives at the bottom of the keeper's own mapping, which nothing ever unmaps: gantry may have
// returned from keep_mount_namespace (or exited) before the keeper reads it.
struct Args {
    int ns, gantry; // the namespace, a pidfd of gantry
    int dropped;    // 1 once the keeper holds none of gantry's other descriptors (a futex word)
};

constexpr size_t kMapping = 16 * 1024; // Args, then the stack (a few hundred bytes used)

__attribute__((no_stack_protector)) int keeper_main(void* p) {
    auto* a = static_cast<Args*>(p);
    unsigned long all = ~0UL; // SIGINT from the terminal and the like wait for our exit
    raw(SYS_rt_sigprocmask, SIG_BLOCK, reinterpret_cast<long>(&all), 0, sizeof all);
    // gantry's descriptors (its stdout, a terminal, pipes) must not outlive gantry through us
    int lo = a->ns < a->gantry ? a->ns : a->gantry, hi = a->ns < a->gantry ? a->gantry : a->ns;
    if (lo > 0) raw(SYS_close_range, 0, lo - 1, 0);
    if (hi > lo + 1) raw(SYS_close_range, lo + 1, hi - 1, 0);
    raw(SYS_close_range, hi + 1, ~0U, 0);
    __atomic_store_n(&a->dropped, 1, __ATOMIC_RELEASE);
    raw(SYS_futex, reinterpret_cast<long>(&a->dropped), FUTEX_WAKE_PRIVATE, 1);
    struct pollfd pf {
        a->gantry, POLLIN, 0
    };
    while (raw(SYS_ppoll, reinterpret_cast<long>(&pf), 1, 0, 0) <= 0) {
    }
    raw(SYS_exit, 0); // the namespace's last reference goes here
    return 0;
}

} // namespace

const int* keep_mount_namespace(pid_t container) {
    if (!detail::kRawSyscalls) return nullptr;
    char path[48];
    std::snprintf(path, sizeof path, "/proc/%d/ns/mnt", static_cast<int>(container));
    int ns = ::open(path, O_RDONLY | O_CLOEXEC);
    if (ns < 0) return nullptr; // already gone: the teardown happened on our path, as before
    int self = static_cast<int>(::syscall(SYS_pidfd_open, ::getpid(), 0));
    const int* started = nullptr;
    if (self >= 0) {
        void* m = ::mmap(nullptr, kMapping, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
        if (m != MAP_FAILED) {
            auto* a = static_cast<Args*>(m);
            a->ns = ns;
            a->gantry = self;
            a->dropped = 0;
            // exit signal 0: gantry's waitpid(-1) never sees it; it is reaped by whoever
            // inherits it when gantry exits
            if (::clone(keeper_main, static_cast<char*>(m) + kMapping, CLONE_VM, a) > 0)
                started = &a->dropped; // the mapping is never unmapped: the keeper runs on it
            else
                ::munmap(m, kMapping);
        }
        ::close(self);
    }
    ::close(ns);
    return started;
}

bool await_keeper_dropped(const int* dropped, int timeout_ms) {
    if (!dropped) return true;
    const long step_ns = 10 * 1000 * 1000;
    for (int waited = 0; !__atomic_load_n(dropped, __ATOMIC_ACQUIRE); waited += 10) {
        if (waited >= timeout_ms) return false;
        struct timespec t {
            0, step_ns
        };
        ::syscall(SYS_futex, dropped, FUTEX_WAIT_PRIVATE, 0, &t, nullptr, 0);
    }
    return true;
}

} // namespace gantry::runtime
