#include "runtime/exec.hpp"

#include "oci/seccomp_profile.hpp"
#include "runtime/child_failure.hpp"
#include "runtime/container_cgroup.hpp"
#include "runtime/fd_passing.hpp"
#include "runtime/kernel_settings.hpp"
#include "runtime/ns_join.hpp"
#include "runtime/process.hpp"
#include "runtime/rlimits.hpp"
#include "runtime/scheduling.hpp"
#include "runtime/supervisor.hpp"
#include "runtime/terminal.hpp"
#include "seccomp/seccomp.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

#include <cstdio>
#include <cstdlib>
#include <dirent.h>
#include <fcntl.h>
#include <optional>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace gantry::runtime {

using namespace detail;

namespace {

struct Ns {
    const char* name;
    int flag;
};
constexpr Ns kOrder[] = {{"user", CLONE_NEWUSER},    {"ipc", CLONE_NEWIPC}, {"uts", CLONE_NEWUTS},
                         {"net", CLONE_NEWNET},      {"pid", CLONE_NEWPID}, {"mnt", CLONE_NEWNS},
                         {"cgroup", CLONE_NEWCGROUP}};

bool same_ns(pid_t pid, const char* name) {
    struct stat a {
    }, b{};
    std::string mine = std::string("/proc/self/ns/") + name;
    std::string theirs = "/proc/" + std::to_string(pid) + "/ns/" + name;
    return ::stat(mine.c_str(), &a) == 0 && ::stat(theirs.c_str(), &b) == 0 &&
           a.st_ino == b.st_ino && a.st_dev == b.st_dev;
}

// The process whose namespaces an exec joins: PID, or where its namespaces cannot be opened
// because it is not dumpable (a rootless container's --init PID 1, or an Apptainer instance's
// init: /proc/PID/ns is then root's), one of its children, which are the container's processes
pid_t joinable_process(pid_t pid) {
    const std::string own = "/proc/" + std::to_string(pid) + "/ns/user";
    if (Fd fd(::open(own.c_str(), O_RDONLY | O_CLOEXEC)); fd || errno != EACCES) return pid;
    DIR* d = ::opendir("/proc");
    if (!d) return pid;
    pid_t found = pid;
    while (const dirent* e = ::readdir(d)) {
        char* end = nullptr;
        long n = std::strtol(e->d_name, &end, 10);
        if (n <= 0 || *end) continue;
        std::string stat;
        try {
            stat = fs::read_file("/proc/" + std::string(e->d_name) + "/stat", 4096);
        } catch (const Error&) {
            continue; // gone meanwhile
        }
        // "PID (COMM) STATE PPID ...": COMM may hold spaces and parentheses, the last ')' ends it
        auto close = stat.rfind(')');
        if (close == std::string::npos) continue;
        int ppid = 0;
        char state = 0;
        if (std::sscanf(stat.c_str() + close + 1, " %c %d", &state, &ppid) != 2 || ppid != pid)
            continue;
        std::string ns = "/proc/" + std::string(e->d_name) + "/ns/user";
        if (Fd fd(::open(ns.c_str(), O_RDONLY | O_CLOEXEC)); fd) {
            found = static_cast<pid_t>(n);
            break;
        }
    }
    ::closedir(d);
    return found;
}

} // namespace

pid_t exec_start(pid_t pid, const oci::RuntimeSpec& spec, bool single_id, Fd* master_out,
                 const seccomp::SeccompFilter* filter, const BeforeExec& before_exec) {
    pid = joinable_process(pid);
    // the container's filter (the bundle's, or gantry's for its process's capabilities), built
    // before the fork
    const auto seccomp =
        filter ? filter->program
        : spec.seccomp
            ? seccomp::seccomp_program(spec.capabilities.bounding,
                                       spec.annotations.count(oci::kFakeRootAnnotation) > 0)
            : std::vector<sock_filter>{};
    const unsigned seccomp_flags = filter ? filter->flags : 0;
    // Open every namespace first: the container may exit meanwhile, but its fds stay valid.
    std::vector<NsToJoin> fds;
    for (auto& ns : kOrder) {
        if (same_ns(pid, ns.name)) continue;
        std::string p = "/proc/" + std::to_string(pid) + "/ns/" + ns.name;
        Fd fd(::open(p.c_str(), O_RDONLY | O_CLOEXEC));
        if (!fd) throw sys_error(errno, "cannot open " + p, "is the container still running?");
        fds.push_back({std::move(fd), ns.flag, "the container's namespace " + p});
    }
    int errp[2], pidp[2], gop[2];
    // the go is a socket: a process gone before it is an error here (MSG_NOSIGNAL), no SIGPIPE
    if (::pipe2(errp, O_CLOEXEC) != 0 || ::pipe2(pidp, O_CLOEXEC) != 0 ||
        ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, gop) != 0)
        throw_errno("pipe failed");
    Fd err_r(errp[0]), err_w(errp[1]), pid_r(pidp[0]), pid_w(pidp[1]), go_r(gop[0]), go_w(gop[1]);
    Fd tty_parent, tty_child; // the worker passes the container terminal's master back
    if (spec.terminal) {
        int sv[2];
        if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
            throw_errno("socketpair failed");
        tty_parent.reset(sv[0]);
        tty_child.reset(sv[1]);
    }

    ::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); // the worker's child becomes ours

    pid_t worker = ::fork();
    if (worker < 0) throw_errno("fork failed");
    if (worker == 0) {
        err_r.reset();
        pid_r.reset();
        go_w.reset();
        child_guard(err_w.get(), [&] {
            ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
            // before joining the user namespace, where root could not raise a hard limit (nor
            // lower oom_score_adj)
            if (auto e = apply_rlimits(spec.rlimits, 0)) fail(e->code(), e->message(), e->hint());
            if (auto e = set_oom_score_adj(spec.oom_score_adj, 0))
                fail(e->code(), e->message(), e->hint());
            // as runc's nsexec: what can be joined before the user namespace (a pod's network
            // namespace the host's user namespace owns, as root), then it, then the rest
            join_in_order(fds);
            Fd slave;
            if (tty_child) {
                Pty pty = open_container_pty(-1, "/dev/pts/ptmx");
                send_fd(tty_child.get(), pty.master.get(), "the terminal");
                slave = std::move(pty.slave);
            }
            pid_t inner = ::fork(); // entering the PID namespace takes effect for children
            if (inner < 0) fail_errno("fork failed");
            if (inner > 0) {
                ssize_t n = ::write(pid_w.get(), &inner, sizeof inner);
                (void)n;
                ::_exit(0);
            }
            // gantry's go once it joined us to the container's cgroups (before_exec)
            char go = 0;
            ssize_t got;
            while ((got = ::read(go_r.get(), &go, 1)) < 0 && errno == EINTR) {
            }
            if (got != 1) ::_exit(125); // gantry refused us or is gone: it reports why
            go_r.reset();
            if (slave) {
                become_terminal_session(slave.get());
                slave.reset();
            } else if (::setsid() < 0) { // a session and process group of its own, as runc's
                fail_errno("setsid failed");
            }
            apply_scheduling(spec);
            finish_process(spec, single_id, seccomp, seccomp_flags, false);
        });
    }
    err_w.reset();
    pid_w.reset();
    go_r.reset();
    tty_child.reset();
    Fd master;
    if (tty_parent) master.reset(recv_fd(tty_parent.get())); // sized by the child
    pid_t inner = -1;
    ssize_t n = ::read(pid_r.get(), &inner, sizeof inner);
    int st = 0;
    ::waitpid(worker, &st, 0);
    if (n == sizeof inner && inner > 0) {
        try {
            if (before_exec) before_exec(inner);
        } catch (...) {
            ::kill(inner, SIGKILL);
            ::waitpid(inner, &st, 0);
            throw;
        }
        if (::send(go_w.get(), "g", 1, MSG_NOSIGNAL) != 1) {
            ::kill(inner, SIGKILL);
            ::waitpid(inner, &st, 0);
            throw_errno("cannot start the process in the container");
        }
    }
    go_w.reset();
    try {
        read_failure(err_r.get());
    } catch (...) {
        if (n == sizeof inner && inner > 0) ::waitpid(inner, &st, 0);
        throw;
    }
    if (n != sizeof inner || inner <= 0)
        throw Error(Errc::run_failed, "could not start the process in the container",
                    "is the container still running?");
    if (master_out) *master_out = std::move(master);
    return inner;
}

int exec_in(pid_t pid, const oci::RuntimeSpec& spec, bool single_id, DetachKeys* keys,
            bool* detached) {
    ForwardedSignalsBlocked blocked;
    Fd master;
    const ContainerCgroup cgroups = ContainerCgroup::of_process(pid);
    pid_t inner = exec_start(pid, spec, single_id, &master, nullptr,
                             [&](pid_t p) { cgroups.join_process(p); });
    return supervise(inner, blocked.set(), master ? master.get() : -1, true, keys, detached);
}

} // namespace gantry::runtime
