// run(): what ties the launcher's parts together on gantry's side. It takes over an early start
// (early_start.cpp) or clones the container process itself (clone.hpp); the process follows
// child.hpp's recipe while gantry writes its id maps (the plain path), lets it go, receives its
// tmpfs and terminal (fd_passing.hpp), reads its failure report (child_failure.hpp), runs the
// poststart and poststop hooks (hook_runner.hpp) and supervises it (supervisor.hpp).
#include "runtime/launcher.hpp"

#include "runtime/child.hpp"
#include "runtime/child_failure.hpp"
#include "runtime/clone.hpp"
#include "runtime/early_start.hpp"
#include "runtime/fd_passing.hpp"
#include "runtime/hook_runner.hpp"
#include "runtime/keeper.hpp"
#include "runtime/kernel_settings.hpp"
#include "runtime/mounts.hpp"
#include "runtime/ns_join.hpp"
#include "runtime/rlimits.hpp"
#include "runtime/supervisor.hpp"
#include "userns/idmap.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <fcntl.h>
#include <optional>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

namespace gantry::runtime {

using namespace detail;

namespace {

// The descriptors between gantry and the container process.
struct Channels {
    Fd sync_r, sync_w;        // gantry's go once it wrote the id maps (the plain path only)
    Fd err_r, err_w;          // the child's failure report; nothing in it once it exec'ed
    Fd fds_parent, fds_child; // the child passes its tmpfs and the terminal's master over this
};

// The early start run() takes over: E (l.early's), started for the shared-memory path with the
// spec's namespaces. Any other is cancelled (nullptr).
EarlyStart::State* take_early_start(EarlyStart::State* e, const Launch& l, bool shared) {
    if (!e) return nullptr;
    if (!e->taken && shared && e->namespace_flags() == clone_flags(l.spec.namespaces)) return e;
    e->cancel();
    return nullptr;
}

// The early start's own error pipe and socket, or new ones. The shared-memory path needs no
// sync pipe (no hand-over); the socket only when something is passed over it.
Channels open_channels(const Launch& l, bool shared, EarlyStart::State* early) {
    Channels ch;
    if (early) {
        ch.err_r = std::move(early->err_r);
        ch.fds_parent = std::move(early->sock);
        return ch;
    }
    int sync[2] = {-1, -1}, errp[2];
    if ((!shared && ::pipe2(sync, O_CLOEXEC) != 0) || ::pipe2(errp, O_CLOEXEC) != 0)
        throw_errno("pipe failed");
    ch.sync_r.reset(sync[0]);
    ch.sync_w.reset(sync[1]);
    ch.err_r.reset(errp[0]);
    ch.err_w.reset(errp[1]);
    if (l.spec.terminal || l.on_scratch || l.fuse_serve || has_runtime_hooks(l.spec)) {
        int sv[2];
        if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
            throw_errno("socketpair failed");
        ch.fds_parent.reset(sv[0]);
        ch.fds_child.reset(sv[1]);
    }
    return ch;
}

// linux.namespaces' pid path (a pod's shared PID namespace): gantry joins it just before the
// fork, as runc's nsexec joins it before it forks the container's init, so that the container
// process is born in it (setns(CLONE_NEWPID) moves only the children of who calls it; the
// process is not PID 1 there), then gantry goes back to its own for the children it makes later
// (hooks). The joined namespace must be gantry's or one below it, and the kernel wants
// CAP_SYS_ADMIN both in gantry's user namespace and in the one that owns it: as root. A spec
// that also joins the pod's user namespace (rootless pods), or makes one, has it joined by the
// helper that forks the container process (ns_join.hpp), not here.
class PidNamespaceJoined {
  public:
    explicit PidNamespaceJoined(const oci::RuntimeSpec& s) {
        auto it = s.namespace_paths.find("pid");
        if (it == s.namespace_paths.end() || joins_through_helper(s)) return;
        const std::string& path = it->second;
        Fd target(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
        if (!target)
            throw_errno("cannot open the pid namespace " + path,
                        "linux.namespaces' pid path names a PID namespace file, e.g. "
                        "/proc/PID/ns/pid of a running process");
        own_.reset(::open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC));
        if (!own_) throw_errno("cannot open /proc/self/ns/pid");
        if (::setns(target.get(), CLONE_NEWPID) != 0) {
            const int err = errno;
            own_.reset();
            errno = err;
            if (err == EPERM)
                throw_errno("cannot join the pid namespace " + path,
                            "joining a PID namespace needs CAP_SYS_ADMIN in gantry's user "
                            "namespace and in the one that owns it: as root, any; rootless, "
                            "join the user namespace that owns it too (linux.namespaces "
                            "{\"type\": \"user\", \"path\": \"/proc/PID/ns/user\"}, as "
                            "rootless pods do)");
            throw_errno("cannot join the pid namespace " + path,
                        "the path must name a PID namespace, this process's or one below it");
        }
    }
    ~PidNamespaceJoined() {
        if (own_) {
            const int err = errno;
            [[maybe_unused]] const int back = ::setns(own_.get(), CLONE_NEWPID);
            errno = err;
        }
    }
    // In the container process: it stays in the joined namespace (its children too).
    void stay() { own_.reset(); }
    PidNamespaceJoined(const PidNamespaceJoined&) = delete;
    PidNamespaceJoined& operator=(const PidNamespaceJoined&) = delete;

  private:
    Fd own_;
};

// The container process, by the early start's hand-over, the shared-memory clone (both return
// once it exec'ed the workload or exited, as after vfork) or the plain fork, whose child goes
// on in child_main. Returns its pid, in gantry, with the child's ends closed.
pid_t start_process(const Launch& l, EarlyStart::State* early, bool shared, bool single_id,
                    Channels& ch) {
    long pid;
    if (early)
        pid = early->hand_over(l, single_id, ch.fds_parent.get());
    else if (shared)
        pid = clone_sharing_memory(l, ch.err_w.get(), ch.fds_child ? ch.fds_child.get() : -1,
                                   single_id);
    else {
        // the child starts in the mount point (its copy in the new mount namespace): the
        // container's root may be a host id that cannot search the directories above it
        // (mounts.hpp, set_scratch_at_cwd). Gantry has no other thread here to see its cwd move.
        Fd cwd(::open(".", O_PATH | O_DIRECTORY | O_CLOEXEC));
        const bool at_cwd = cwd && ::chdir(l.mount_point.c_str()) == 0;
        set_scratch_at_cwd(at_cwd);
        std::optional<PidNamespaceJoined> pid_ns;
        try {
            pid_ns.emplace(l.spec);
        } catch (...) {
            set_scratch_at_cwd(false);
            [[maybe_unused]] const int back = at_cwd ? ::fchdir(cwd.get()) : 0;
            throw;
        }
        pid = joins_through_helper(l.spec) ? fork_joining_namespaces(l.spec, ch.err_w.get())
                                           : fork_into_namespaces(l.spec.namespaces);
        int err = errno;
        if (pid == 0)
            pid_ns->stay();
        else
            pid_ns.reset(); // gantry back in its own PID namespace
        if (pid != 0) {
            set_scratch_at_cwd(false);
            if (at_cwd && ::fchdir(cwd.get()) != 0) {
                if (pid > 0) {
                    ::kill(static_cast<pid_t>(pid), SIGKILL);
                    ::waitpid(static_cast<pid_t>(pid), nullptr, 0);
                }
                throw_errno("cannot return to the working directory");
            }
        }
        errno = err;
    }
    if (pid < 0 && joins_through_helper(l.spec)) { // the helper's report says why
        ch.err_w.reset();
        read_failure(ch.err_r.get());
        throw Error(Errc::run_failed, "cannot start the container process in the namespaces "
                                      "linux.namespaces joins");
    }
    if (pid < 0) throw namespaces_error(errno);
    if (pid == 0) {
        ch.sync_w.reset();
        ch.err_r.reset();
        ch.fds_parent.reset();
        child_main(l, ch.sync_r.release(), ch.err_w.release(), single_id,
                   ch.fds_child ? ch.fds_child.release() : -1);
    }
    ch.sync_r.reset();
    ch.err_w.reset();
    ch.fds_child.reset();
    return static_cast<pid_t>(pid);
}

void kill_and_reap(pid_t pid) {
    ::kill(pid, SIGKILL);
    int st = 0;
    while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
}

// Gantry's side until the workload runs. The plain path: the id maps written from outside,
// root's rlimits set (raising a hard limit needs init's privilege), on_created, then the go.
// Then the tmpfs and the terminal's master as the child passes them, and its failure report:
// a failure kills and reaps the process and is thrown (OverlayUnavailable for an overlay the
// kernel refused). Returns the terminal's master (-t), its window size set to ours.
Fd await_workload(const Launch& l, pid_t pid, bool shared, Channels& ch) {
    Fd master;
    try {
        if (!shared) {
            // a new user namespace's (one joined by path has its own: none written, as runc)
            if (std::ranges::find(l.spec.namespaces, "user") != l.spec.namespaces.end())
                userns::write_id_maps(pid, l.spec.uid_mappings, l.spec.gid_mappings);
            // from outside its user namespace: raising a hard limit needs init's privilege
            if (::geteuid() == 0)
                if (auto e = apply_rlimits(l.spec.rlimits, pid)) throw *e;
            if (auto e = set_oom_score_adj(l.spec.oom_score_adj, pid)) throw *e;
            if (l.on_created) l.on_created(pid);
            if (::write(ch.sync_w.get(), "g", 1) != 1) throw_errno("cannot start the container");
        }
        ch.sync_w.reset();
        if (l.on_scratch) {
            Fd scratch(recv_fd(ch.fds_parent.get()));
            if (scratch) l.on_scratch(std::move(scratch));
        }
        if (l.fuse_serve) {
            Fd dev(recv_fd(ch.fds_parent.get()));
            if (dev) l.fuse_serve(std::move(dev)); // else the child failed: its report follows
        }
        if (l.spec.terminal) master.reset(recv_fd(ch.fds_parent.get())); // sized by the child
        if (has_runtime_hooks(l.spec)) run_runtime_hooks(l, pid, ch.fds_parent.get());
        std::string overlay = read_failure(ch.err_r.get());
        if (!overlay.empty()) {
            kill_and_reap(pid);
            throw OverlayUnavailable(overlay);
        }
    } catch (const OverlayUnavailable&) {
        throw;
    } catch (...) {
        kill_and_reap(pid);
        throw;
    }
    return master;
}

// The hooks of STAGE that run while the container runs or after it: poststart (once the
// user's program was started) and poststop. A failing one is a warning (OCI).
void run_hooks_warning_on_failure(const Launch& l, const char* stage, pid_t pid,
                                  const char* status) {
    auto it = l.spec.hooks.find(stage);
    if (it == l.spec.hooks.end()) return;
    for (auto& h : it->second) {
        try {
            run_hook(stage, h, hook_state(l, pid, status), nullptr, hook_cwd(l, stage));
        } catch (const Error& e) {
            std::fprintf(stderr, "gantry: warning: %s\n", e.message().c_str());
        }
    }
}

} // namespace

void report_start(int fd, const Error* failure) {
    if (failure)
        write_failure(fd, static_cast<int>(failure->code()), failure->message(), failure->hint());
    else
        write_failure(fd, 0, "ok", ""); // code 0: a report that is no error
}

void await_start(int fd) {
    if (read_failure(fd) != "ok") throw Error(Errc::run_failed, "the container did not start");
}

bool tmpfs_has_user_xattrs() {
    struct utsname u {};
    if (::uname(&u) != 0) return false;
    int major = 0, minor = 0;
    if (std::sscanf(u.release, "%d.%d", &major, &minor) != 2) return false;
    return major > 6 || (major == 6 && minor >= 6);
}

pid_t create(const Launch& l, Fd* master_out) {
    if (l.start_gate < 0) throw Error(Errc::internal, "runtime::create without a start gate");
    Channels ch = open_channels(l, false, nullptr);
    const pid_t pid =
        start_process(l, nullptr, false, userns::is_single_id(l.spec.gid_mappings), ch);
    Fd master = await_workload(l, pid, false, ch); // returns once the process waits at the gate
    if (master_out) *master_out = std::move(master);
    return pid;
}

void run_hooks(const oci::RuntimeSpec& spec, const char* stage, const std::string& state_json,
               bool warn_only, const std::string& cwd) {
    auto it = spec.hooks.find(stage);
    if (it == spec.hooks.end()) return;
    for (auto& h : it->second) {
        try {
            run_hook(stage, h, state_json, nullptr, cwd);
        } catch (const Error& e) {
            if (!warn_only) throw;
            std::fprintf(stderr, "gantry: warning: %s\n", e.message().c_str());
        }
    }
}

int run(const Launch& l) {
    const bool single_id = userns::is_single_id(l.spec.gid_mappings);
    const bool shared = can_share_memory(l); // no hand-over: no sync pipe
    EarlyStart::State* early =               // taken over, or cancelled
        take_early_start(l.early ? l.early->st_.get() : nullptr, l, shared);
    Channels ch = open_channels(l, shared, early);

    ForwardedSignalsBlocked blocked;

    const pid_t pid = start_process(l, early, shared, single_id, ch);
    Fd master = await_workload(l, pid, shared, ch);
    // OCI: poststart hooks run once the user's program was started (the error pipe closed on
    // its exec); a failing one is a warning and the container goes on.
    run_hooks_warning_on_failure(l, "poststart", pid, "running");
    // the mount namespace's teardown at the container's exit happens after we returned
    const int* keeper = !early || !early->keeping() ? keep_mount_namespace(pid) : nullptr;
    if (l.on_started) l.on_started(pid);
    int status = supervise(pid, blocked.set(), master ? master.get() : -1, l.sig_proxy);
    // gantry's descriptors (the image's flock) must not outlive its return through the keeper:
    // on a loaded machine the keeper may not have run at all by a short container's exit
    await_keeper_dropped(keeper);
    // poststop failures are reported, not fatal (OCI)
    run_hooks_warning_on_failure(l, "poststop", 0, "stopped");
    return status;
}

} // namespace gantry::runtime
