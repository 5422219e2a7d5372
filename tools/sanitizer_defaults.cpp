// The runtime options of the ASan + UBSan build (GANTRY_SANITIZE, docs/sanitizers.md), linked
// into gantry and gantry_unit only in that build. The sanitizer runtimes call these functions
// before main; ASAN_OPTIONS, UBSAN_OPTIONS and LSAN_OPTIONS from the environment are applied
// after them and win, so a test's environment without them still gets these.
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace {

// What runs in here runs before the sanitizers are set up: not instrumented (the shadow memory
// is not mapped yet), and raw system calls only (the interceptors are not resolved yet).
#define GANTRY_UNINSTRUMENTED __attribute__((no_sanitize("address", "undefined")))

// LeakSanitizer stops the process's threads with ptrace, listing them in /proc/<pid>/task,
// <pid> as getpid() says. It cannot where /proc is another PID namespace's: `gantry hook` as
// runc 1.1.5 runs it (also under podman), in the container's PID namespace before its /proc is
// mounted (/proc/self names the host's PID), and a container's processes. There its tracer says
// "Can't open /proc/<pid>/task for reading", "LeakSanitizer has encountered a fatal error" and
// the process exits 86 (test_bundle_gpu.py, test_gpu_cdi.py's podman test). Nor can it trace a
// process that is not dumpable (ptrace refuses it without CAP_SYS_PTRACE). There, and only
// there, leaks are not checked; `gantry hook` run anywhere else (by gantry, by a test, by a
// runtime whose /proc matches) is checked like every other command.
GANTRY_UNINSTRUMENTED bool leak_check_can_work() {
    char link[24];
    long n = ::syscall(SYS_readlinkat, AT_FDCWD, "/proc/self", link, sizeof link);
    if (n <= 0 || n >= static_cast<long>(sizeof link)) return false;
    long seen = 0;
    for (long i = 0; i < n; ++i) {
        if (link[i] < '0' || link[i] > '9') return false;
        seen = seen * 10 + (link[i] - '0');
    }
    long pid = ::syscall(SYS_getpid);
    if (seen != pid) return false;
    if (::syscall(SYS_prctl, PR_GET_DUMPABLE, 0, 0, 0, 0) != 1) return false;
    // what the tracer opens: "/proc/" + pid + "/task"
    char task[40] = "/proc/";
    char digits[20];
    int d = 0;
    for (long p = pid; p > 0 && d < 20; p /= 10) digits[d++] = static_cast<char>('0' + p % 10);
    int at = 6;
    while (d > 0) task[at++] = digits[--d];
    const char* tail = "/task";
    for (int i = 0; tail[i]; ++i) task[at++] = tail[i];
    task[at] = 0;
    long fd = ::syscall(SYS_openat, AT_FDCWD, task, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return false;
    ::syscall(SYS_close, fd);
    return true;
}

} // namespace

extern "C" {

// halt_on_error: the first report ends the process. detect_stack_use_after_return=0: the
// container process and the early start's helper run on stacks gantry maps itself
// (runtime/clone.cpp, runtime/early_start.cpp) and share gantry's thread state, which ASan's
// fake stacks cannot follow. exitcode 86: a report is never mistaken for one of gantry's
// statuses (docs/exit-codes.md).
GANTRY_UNINSTRUMENTED const char* __asan_default_options() {
    return leak_check_can_work() ? "halt_on_error=1:abort_on_error=0:exitcode=86:detect_leaks=1:"
                                   "detect_stack_use_after_return=0:strict_string_checks=1:"
                                   "check_initialization_order=1:print_suppressions=0"
                                 : "halt_on_error=1:abort_on_error=0:exitcode=86:detect_leaks=0:"
                                   "detect_stack_use_after_return=0:strict_string_checks=1:"
                                   "check_initialization_order=1:print_suppressions=0";
}

const char* __ubsan_default_options() {
    return "halt_on_error=1:print_stacktrace=1:exitcode=86";
}

// The container process made with CLONE_VM (runtime/clone.cpp, runtime/early_start.cpp) runs
// child_main in gantry's memory while gantry sleeps, as after vfork, and allocates from
// gantry's heap (capability lists, the environment); its exec leaves those blocks to gantry,
// which no longer points at them. They are the container's, not leaks of gantry: the
// allocations made under child_main are not reported. Anything gantry itself allocates is.
const char* __lsan_default_suppressions() {
    return "leak:gantry::runtime::detail::child_main\n";
}

// print_suppressions=0: the suppressed blocks are no report (by default LeakSanitizer lists
// the suppressions it used, a "report" the e2e suite would count).
const char* __lsan_default_options() {
    return "exitcode=86:print_suppressions=0";
}
}
