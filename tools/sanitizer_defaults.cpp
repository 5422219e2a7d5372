// The runtime options of the ASan + UBSan build (GANTRY_SANITIZE, docs/sanitizers.md), linked
// into gantry and gantry_unit only in that build. The sanitizer runtimes call these functions
// before main; ASAN_OPTIONS, UBSAN_OPTIONS and LSAN_OPTIONS from the environment are applied
// after them and win, so a test's environment without them still gets these.
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace {

// What runs in here runs before the sanitizers are set up: not instrumented (the shadow memory
// is not mapped yet), and raw system calls only (the interceptors are not resolved yet).
#define GANTRY_UNINSTRUMENTED __attribute__((no_sanitize("address", "undefined")))

// Whether this process is `gantry hook ...` (the CDI hooks `cdi generate` writes, which runc,
// podman and gantry run in the container's namespaces): the first argument that is not a global
// flag is "hook".

GANTRY_UNINSTRUMENTED bool same(const char* a, const char* b) {
    while (*a && *a == *b) ++a, ++b;
    return *a == *b;
}

GANTRY_UNINSTRUMENTED bool is_hook() {
    char buf[512];
    long fd = ::syscall(SYS_openat, AT_FDCWD, "/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    long n = ::syscall(SYS_read, fd, buf, sizeof buf - 1);
    ::syscall(SYS_close, fd);
    if (n <= 0) return false;
    buf[n] = 0;
    long i = 0;
    while (i < n && buf[i]) ++i; // argv[0]
    ++i;
    bool value = false; // the word after --root
    while (i < n) {
        const char* arg = buf + i;
        if (value)
            value = false;
        else if (same(arg, "--root"))
            value = true;
        else if (arg[0] != '-')
            return same(arg, "hook");
        while (i < n && buf[i]) ++i;
        ++i;
    }
    return false;
}

// LeakSanitizer stops the process's threads through /proc/<pid>/task, <pid> as getpid() says.
// It cannot where /proc is another PID namespace's, nor in `gantry hook` run by runc 1.1.5 (also
// under podman): there its tracer says "Can't open /proc/<pid>/task for reading", "LeakSanitizer
// has encountered a fatal error", and the hook exits 86 (test_bundle_gpu.py, test_gpu.py's
// podman test). There, and only there, leaks are not checked.
GANTRY_UNINSTRUMENTED bool leak_check_can_work() {
    char link[24];
    long n = ::syscall(SYS_readlinkat, AT_FDCWD, "/proc/self", link, sizeof link);
    if (n <= 0 || n >= static_cast<long>(sizeof link)) return false;
    long seen = 0;
    for (long i = 0; i < n; ++i) {
        if (link[i] < '0' || link[i] > '9') return false;
        seen = seen * 10 + (link[i] - '0');
    }
    return seen == ::syscall(SYS_getpid) && !is_hook();
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
