// The early start (EarlyStart, launcher.hpp): one private mapping holds a guard page, the
// container process's stack, a guard page, the helper's stack and EarlyShared, the page they
// share with gantry. The helper (early_helper) and the process (early_process) run in gantry's
// memory beside it (CLONE_VM) and use raw system calls only (raw_syscall.hpp) until the
// handover; then the process follows child_main while gantry sleeps, as after vfork.
#include "runtime/early_start.hpp"

#include "runtime/child.hpp"
#include "runtime/child_failure.hpp"
#include "runtime/clone.hpp"
#include "runtime/raw_syscall.hpp"
#include "runtime/sanitizer_stack.hpp"
#include "runtime/supervisor.hpp"
#include "userns/idmap.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <linux/futex.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

namespace gantry::runtime {

using namespace detail;

namespace detail {

// In the early start's own mapping, shared by gantry, the helper and the container process.
// Until the handover the helper and the process read it and their stacks, nothing else.
struct EarlyShared {
    enum : int { kCreated, kRunning, kReady, kFailed };
    // written by begin(), before the helper exists
    int flags = 0; // CLONE_NEW*
    void* child_stack = nullptr;
    int parent_sock = -1, child_sock = -1, err_w = -1; // descriptor numbers in the process
    unsigned long sigmask = 0; // the process's signal mask (the kernel's 64 bits)
    cpu_set_t cpus{};          // ours: the process undoes the helper's pinning
    char maps[3][32] = {};     // what the process writes to kMapFiles
    long map_len[3] = {};
    pid_t gantry = 0; // our pid
    // written by the helper
    int child_pid = 0; // the process, or -errno of its clone
    int keeping = 0;   // the helper stays, as the keeper of the process's mount namespace
    int helper_done = 0;
    // written by the process; tid by the kernel too (CLONE_CHILD_CLEARTID): 0 once the
    // process exec'ed or exited, which is when run() goes on, as after vfork
    int state = kCreated, fail_step = 0, fail_errno = 0;
    int tid = -1;
    // written by gantry at the handover
    const Launch* launch = nullptr;
    bool single_id = false;
    SanitizerStack asan{}; // the process's, after the handover
};

} // namespace detail

namespace {

constexpr const char* kMapFiles[3] = {"/proc/self/setgroups", "/proc/self/uid_map",
                                      "/proc/self/gid_map"};
constexpr const char* kMapNames[3] = {"setgroups", "uid_map", "gid_map"};

// The process once gantry handed it the launch: gantry sleeps until we exec or exit, so its
// memory and libc are ours, as in a vfork child.
[[noreturn]] void early_handed_over(EarlyShared* s) {
    sanitizer_stack_entered(s->asan);
    if (s->state == EarlyShared::kFailed) {
        Error e = userns::own_id_map_error(kMapNames[s->fail_step], s->fail_errno);
        write_failure(s->err_w, static_cast<int>(Errc::run_failed), e.message(), e.hint());
        ::_exit(static_cast<int>(Errc::run_failed));
    }
    child_main(*s->launch, -1, s->err_w, s->single_id, s->child_sock);
}

// The container process, in its new namespaces, beside a running gantry: raw system calls
// only until the handover.
__attribute__((no_stack_protector)) int early_process(void* p) {
    auto* s = static_cast<EarlyShared*>(p);
    // the helper's pinning is not the workload's
    raw(SYS_sched_setaffinity, 0, sizeof s->cpus, reinterpret_cast<long>(&s->cpus));
    __atomic_store_n(&s->state, EarlyShared::kRunning, __ATOMIC_RELEASE);
    raw(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL);
    raw(SYS_close, s->parent_sock); // gantry's end: its exit reads as EOF below
    raw(SYS_rt_sigprocmask, SIG_SETMASK, reinterpret_cast<long>(&s->sigmask), 0, sizeof s->sigmask);
    int state = EarlyShared::kReady;
    for (int i = 0; i < 3; ++i) { // write_own_id_maps, without libc
        long fd =
            raw(SYS_openat, AT_FDCWD, reinterpret_cast<long>(kMapFiles[i]), O_WRONLY | O_CLOEXEC);
        if (fd < 0 && i == 0) continue; // no setgroups (Linux < 3.19): nothing to deny
        long n =
            fd < 0 ? fd : raw(SYS_write, fd, reinterpret_cast<long>(s->maps[i]), s->map_len[i]);
        if (fd >= 0) raw(SYS_close, fd);
        if (n != s->map_len[i]) {
            s->fail_step = i;
            s->fail_errno = n < 0 ? static_cast<int>(-n) : EIO;
            state = EarlyShared::kFailed;
            break;
        }
    }
    __atomic_store_n(&s->state, state, __ATOMIC_RELEASE);
    // Sleep until the handover. Watching for it in a spin (up to 0.2 ms, for an idle CPU that
    // takes ~40 us to wake) burned that CPU time on every start, and on a busy machine it took
    // it from gantry itself, the one that hands over (bench/README.md, session 12).
    char go = 0;
    if (raw(SYS_read, s->child_sock, reinterpret_cast<long>(&go), 1) != 1)
        raw(SYS_exit_group, 125); // cancelled, or gantry is gone
    early_handed_over(s);
}

// "/proc/<pid>/ns/mnt" without libc.
void ns_path(char (&path)[40], long pid) {
    char digits[24];
    int n = 0;
    do digits[n++] = static_cast<char>('0' + pid % 10);
    while ((pid /= 10) > 0);
    int i = 0;
    for (const char* p = "/proc/"; *p;) path[i++] = *p++;
    while (n > 0) path[i++] = digits[--n];
    for (const char* p = "/ns/mnt"; *p;) path[i++] = *p++;
    path[i] = 0;
}

// The helper: creates the process (the clone's namespace work happens here, on its CPU) as a
// child of gantry's, then stays as the keeper of its mount namespace (keeper.hpp): it holds
// the namespace until gantry has exited, so the container's teardown is off gantry's path,
// and gantry does not start a keeper of its own after the workload's exec.
__attribute__((no_stack_protector)) int early_helper(void* p) {
    auto* s = static_cast<EarlyShared*>(p);
    unsigned long all = ~0UL; // SIGINT from the terminal and the like wait for gantry's exit
    raw(SYS_rt_sigprocmask, SIG_BLOCK, reinterpret_cast<long>(&all), 0, sizeof all);
    // CLONE_PARENT: the process's exit signal is ours, SIGCHLD
    long pid = raw_clone(static_cast<unsigned long>(s->flags) | CLONE_VM | CLONE_PARENT |
                             CLONE_CHILD_CLEARTID,
                         s->child_stack, &s->tid, early_process, s);
    long ns = -1, gantry = -1;
    if (pid > 0) {
        char path[40];
        ns_path(path, pid);
        ns = raw(SYS_openat, AT_FDCWD, reinterpret_cast<long>(path), O_RDONLY | O_CLOEXEC);
        gantry = raw(SYS_pidfd_open, s->gantry, 0);
    }
    const bool keep = ns >= 0 && gantry >= 0;
    if (keep) { // gantry's descriptors (the error pipe above all) must not live on in us
        long lo = ns < gantry ? ns : gantry, hi = ns < gantry ? gantry : ns;
        if (lo > 0) raw(SYS_close_range, 0, lo - 1, 0);
        if (hi > lo + 1) raw(SYS_close_range, lo + 1, hi - 1, 0);
        raw(SYS_close_range, hi + 1, ~0U, 0);
    }
    __atomic_store_n(&s->keeping, keep ? 1 : 0, __ATOMIC_RELEASE);
    __atomic_store_n(&s->child_pid, static_cast<int>(pid), __ATOMIC_RELEASE);
    __atomic_store_n(&s->helper_done, 1, __ATOMIC_RELEASE);
    raw(SYS_futex, reinterpret_cast<long>(&s->helper_done), FUTEX_WAKE, 1);
    if (!keep) return 0; // gantry reaps us, and starts a keeper itself
    struct pollfd pf {
        static_cast<int>(gantry), POLLIN, 0
    };
    while (raw(SYS_ppoll, reinterpret_cast<long>(&pf), 1, 0, 0) <= 0) {
    }
    return 0; // the namespace's last reference goes here
}

// The mapping: guard page, the process's stack, guard page, the helper's stack, EarlyShared.
constexpr size_t kGuard = 4096, kProcessStack = 1 << 20, kHelperStack = 16 * 1024;
constexpr size_t kEarlyMapping = kGuard + kProcessStack + kGuard + kHelperStack + 4096;
static_assert(sizeof(EarlyShared) <= 4096);

} // namespace

int EarlyStart::State::namespace_flags() const {
    return sh->flags;
}

void EarlyStart::State::await_helper() {
    if (helper <= 0) return;
    auto done = [this] { return __atomic_load_n(&sh->helper_done, __ATOMIC_ACQUIRE) != 0; };
    if (pinned && !done()) ::sched_setaffinity(helper, sizeof sh->cpus, &sh->cpus);
    while (!done()) { // its futex wake, or (killed meanwhile) its exit
        struct timespec tick {
            0, 10'000'000
        };
        ::syscall(SYS_futex, &sh->helper_done, FUTEX_WAIT, 0, &tick, nullptr, 0);
        siginfo_t si{};
        if (!done() &&
            ::waitid(P_PID, static_cast<id_t>(helper), &si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
            si.si_pid == helper) {
            __atomic_store_n(&sh->keeping, 0, __ATOMIC_RELEASE);
            break;
        }
    }
    if (!keeping()) {
        reap(helper);
        helper = -1;
    }
}

void EarlyStart::State::reap(pid_t pid) {
    int st = 0;
    while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
}

bool EarlyStart::State::keeping() const {
    return __atomic_load_n(&sh->keeping, __ATOMIC_ACQUIRE) != 0;
}

void EarlyStart::State::cancel() {
    if (taken) return;
    taken = true;
    await_helper();
    if (pid_t pid = sh->child_pid; pid > 0) {
        ::kill(pid, SIGKILL);
        reap(pid);
    }
    if (keeping() && helper > 0) { // of a namespace nobody needs: the teardown is ours now
        ::kill(helper, SIGKILL);
        reap(helper);
        __atomic_store_n(&sh->keeping, 0, __ATOMIC_RELEASE);
    }
}

pid_t EarlyStart::State::hand_over(const Launch& l, bool single_id, int go_sock) {
    await_helper();
    taken = true;
    EarlyShared* s = sh;
    if (s->child_pid < 0) throw namespaces_error(-s->child_pid);
    if (s->child_pid == 0)
        throw Error(Errc::run_failed, "the container process was not created",
                    "the helper that creates it was killed first (by a signal from outside "
                    "or the OOM killer); run the command again");
    handed = true;
    if (pinned && __atomic_load_n(&s->state, __ATOMIC_ACQUIRE) == EarlyShared::kCreated)
        ::sched_setaffinity(s->child_pid, sizeof s->cpus, &s->cpus);
    s->launch = &l;
    s->single_id = single_id;
    sanitizer_stack_enter(static_cast<char*>(map) + kGuard, kProcessStack);
    // a process that died already (killed) reads nothing: its tid is 0 below
    (void)::send(go_sock, "g", 1, MSG_NOSIGNAL);
    for (int v; (v = __atomic_load_n(&s->tid, __ATOMIC_ACQUIRE)) != 0;) // the kernel's wake
        ::syscall(SYS_futex, &s->tid, FUTEX_WAIT, v, nullptr, nullptr, 0);
    sanitizer_stack_back(s->asan);
    return s->child_pid;
}

EarlyStart::State::~State() {
    if (sh) cancel();
    // a keeping helper lives on its stack in there until our exit: left mapped, as the
    // keeper's own mapping is
    if (map != MAP_FAILED && !keeping()) {
        sanitizer_forget(map, kEarlyMapping);
        ::munmap(map, kEarlyMapping);
    }
}

EarlyStart::EarlyStart(std::unique_ptr<State> st) : st_(std::move(st)) {}
EarlyStart::~EarlyStart() = default;
bool EarlyStart::used() const {
    return st_->handed;
}

std::unique_ptr<EarlyStart> EarlyStart::begin(const std::vector<std::string>& namespaces, uid_t uid,
                                              gid_t gid) {
    // The helper runs on a CPU of ours we are not on: left to the scheduler it waits on ours
    // until we block (measured: no overlap at all). With one CPU there is nothing to overlap.
    cpu_set_t cpus;
    int cpu = ::sched_getcpu();
    if (!kRawClone || ::sched_getaffinity(0, sizeof cpus, &cpus) != 0 || cpu < 0 ||
        !CPU_ISSET(cpu, &cpus) || CPU_COUNT(&cpus) < 2)
        return nullptr;
    auto st = std::make_unique<State>();
    st->map = ::mmap(nullptr, kEarlyMapping, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK | MAP_NORESERVE, -1, 0);
    if (st->map == MAP_FAILED) return nullptr;
    char* base = static_cast<char*>(st->map);
    ::mprotect(base, kGuard, PROT_NONE);
    ::mprotect(base + kGuard + kProcessStack, kGuard, PROT_NONE);
    char* helper_top = base + kGuard + kProcessStack + kGuard + kHelperStack;
    auto* s = st->sh = new (helper_top) EarlyShared{};
    s->flags = clone_flags(namespaces);
    s->child_stack = base + kGuard + kProcessStack;
    int errp[2], sv[2];
    if (::pipe2(errp, O_CLOEXEC) != 0) return nullptr;
    st->err_r.reset(errp[0]);
    Fd err_w(errp[1]);
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return nullptr;
    st->sock.reset(sv[0]);
    Fd child_sock(sv[1]);
    s->parent_sock = sv[0];
    s->child_sock = sv[1];
    s->err_w = errp[1];
    s->map_len[0] = std::snprintf(s->maps[0], sizeof s->maps[0], "deny");
    s->map_len[1] = std::snprintf(s->maps[1], sizeof s->maps[1], "0 %u 1\n", uid);
    s->map_len[2] = std::snprintf(s->maps[2], sizeof s->maps[2], "0 %u 1\n", gid);
    // the process's signal mask: ours with the forwarded signals blocked, as run() clones
    sigset_t mask, fwd = forwarded_signals();
    ::sigprocmask(SIG_BLOCK, nullptr, &mask);
    sigorset(&mask, &mask, &fwd);
    std::memcpy(&s->sigmask, &mask, sizeof s->sigmask);
    s->cpus = cpus; // the process takes all of them back
    s->gantry = ::getpid();
    pid_t h = ::clone(early_helper, helper_top, CLONE_VM | SIGCHLD, s);
    if (h < 0) return nullptr;
    st->helper = h;
    cpu_set_t other = cpus;
    CPU_CLR(cpu, &other);
    st->pinned = ::sched_setaffinity(h, sizeof other, &other) == 0;
    return std::unique_ptr<EarlyStart>(new EarlyStart(std::move(st)));
}

} // namespace gantry::runtime
