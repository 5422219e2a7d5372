#include "runtime/child.hpp"

#include "runtime/child_failure.hpp"
#include "runtime/devices.hpp"
#include "runtime/fd_passing.hpp"
#include "runtime/hook_runner.hpp"
#include "runtime/in_root.hpp"
#include "runtime/kernel_settings.hpp"
#include "runtime/launcher.hpp"
#include "runtime/mounts.hpp"
#include "runtime/ns_join.hpp"
#include "runtime/process.hpp"
#include "runtime/scheduling.hpp"
#include "runtime/terminal.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <map>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <string>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

namespace gantry::runtime::detail {

namespace {

// What the container child carries from one step to the next.
struct ChildState {
    const Launch& l;
    bool single_id;
    int err_fd;
    Fd root;          // the container's root, until pivot_to_root
    TargetDir last;   // ensure_target's cache for the mounts in it
    Fd terminal;      // the slave side of the container's terminal (-t)
    Fd host_ldconfig; // the host's static ldconfig, for an image without one
    Fd sock;          // to gantry: the prestart and createRuntime hooks' turn (runtime_hooks)
};

// ---- before the root is mounted ----

// The container dies with its supervisor (gantry, or a detached container's monitor): a
// killed gantry leaves no orphan running without anyone to reap it, clean up, or hold its
// image. SIGKILL from the parent's (ancestor) namespace reaches even PID 1.
void die_with_supervisor() {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
}

// The plain path: the parent writes our id maps, then lets us go.
void await_id_maps(int sync_fd) {
    if (sync_fd < 0) return;
    char c = 0;
    if (::read(sync_fd, &c, 1) != 1) ::_exit(125); // the parent died
    ::close(sync_fd);
}

void loopback_up() {
    Fd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!s) return;
    struct ifreq ifr {};
    std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
    if (::ioctl(s.get(), SIOCGIFFLAGS, &ifr) == 0) {
        ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
        ::ioctl(s.get(), SIOCSIFFLAGS, &ifr);
    }
}

// Root in the user namespace, the loopback device up in a new network namespace, and the
// container's tmpfs and root mounted. An overlay the kernel refuses is reported with code 0,
// which tells run() to retry with a flattened root.
void become_root_and_mount_root(const Launch& l, int err_fd, int fd_sock) {
    try {
        // Not fatal here, as before: the mounts below report what the process cannot do.
        // (Results kept, not ignored outright: _FORTIFY_SOURCE, dpkg-buildflags, warns then.)
        [[maybe_unused]] const int to_gid0 = ::setresgid(0, 0, 0);
        [[maybe_unused]] const int to_uid0 = ::setresuid(0, 0, 0);
        if (l.spec.has_namespace("network")) loopback_up();
        mount_root(l, fd_sock);
    } catch (const OverlayUnavailable& o) {
        write_failure(err_fd, 0, o.what(), "");
        ::_exit(125);
    } catch (const ChildFail& f) {
        write_failure(err_fd, static_cast<int>(f.code), f.message, f.hint);
        ::_exit(static_cast<int>(f.code));
    }
}

// ---- inside the root, before pivot_root ----

void open_root(ChildState& c) {
    c.root.reset(::open((scratch_path(c.l) + "/root").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!c.root) fail_errno("cannot open the container root");
}

// The spec's mounts, then the container's /etc/hostname from its tmpfs.
void mount_spec(ChildState& c) {
    const Launch& l = c.l;
    for (std::size_t i = 0; i < l.spec.mounts.size(); ++i)
        mount_in_root(c.root.get(), l.spec.mounts[i], c.last,
                      i < l.mount_trees.size() ? l.mount_trees[i] : -1);
    if (!l.hostname.empty())
        mount_in_root(c.root.get(),
                      {"/etc/hostname",
                       "bind",
                       scratch_path(l) + "/hostname",
                       {"bind", "nosuid", "nodev", "noexec"}},
                      c.last);
}

void dev_links(int rootfd) {
    Fd dev(fs::openat_in_root(rootfd, "dev", O_PATH | O_DIRECTORY));
    if (!dev) return;
    const std::pair<const char*, const char*> links[] = {{"pts/ptmx", "ptmx"},
                                                         {"/proc/self/fd", "fd"},
                                                         {"/proc/self/fd/0", "stdin"},
                                                         {"/proc/self/fd/1", "stdout"},
                                                         {"/proc/self/fd/2", "stderr"}};
    for (auto& [target, name] : links) { // best effort: the image may have its own
        [[maybe_unused]] const int made = ::symlinkat(target, dev.get(), name);
    }
}

// The spec's device nodes (devices.hpp: made or bound), and /dev's usual links.
void bind_devices(ChildState& c) {
    make_devices(c.root.get(), c.l.spec, c.last);
    dev_links(c.root.get());
}

// -t: a terminal from the container's own devpts, its master passed to gantry over FD_SOCK,
// which is closed then, or kept for the runtime hooks' turn.
void pass_terminal(ChildState& c, int fd_sock) {
    if (c.l.spec.terminal) {
        Pty pty = open_container_pty(c.root.get(), "dev/pts/ptmx");
        send_fd(fd_sock, pty.master.get(), "the terminal");
        c.terminal = std::move(pty.slave);
    }
    if (fd_sock < 0) return;
    if (has_runtime_hooks(c.l.spec))
        c.sock.reset(fd_sock);
    else
        ::close(fd_sock);
}

// The spec's setup in the root: the injected libraries' links, the host files bound read-only
// over paths the image has, and the host's ldconfig opened while the host is still reachable.
void set_up_linker_in_root(ChildState& c) {
    const oci::ContainerSetup& setup = c.l.spec.setup;
    for (auto& [link, target] : setup.symlinks) make_symlink_in_root(c.root.get(), link, target);
    c.last = TargetDir{}; // the links may stand where it was
    for (auto& [host, cpath] : setup.overlays) {
        Fd t(fs::openat_in_root(c.root.get(), cpath, O_PATH | O_NOFOLLOW));
        if (t)
            mount_in_root(c.root.get(),
                          {cpath, "bind", host, {"bind", "ro", "nosuid", "nodev", "noexec"}},
                          c.last);
    }
    c.last = TargetDir{};
    if (setup.ldconfig && !setup.host_ldconfig.empty())
        c.host_ldconfig.reset(::open(setup.host_ldconfig.c_str(), O_PATH | O_CLOEXEC));
}

// OCI, as runc: the root is mounted; gantry runs the prestart and createRuntime hooks in its
// own namespaces (runtime_hooks) while we wait, then the createContainer hooks run here, in
// the container's namespaces before pivot_root, told the process's pid as seen in them.
void run_create_hooks(ChildState& c) {
    const Launch& l = c.l;
    if (c.sock) { // gantry's turn; it answers once its hooks succeeded, else it kills us
        char b = 'h';
        if (::write(c.sock.get(), &b, 1) != 1 || ::read(c.sock.get(), &b, 1) != 1 || b != 'r')
            ::_exit(125); // gantry is gone
        c.sock.reset();
    }
    if (auto it = l.spec.hooks.find("createContainer"); it != l.spec.hooks.end()) {
        std::string state = hook_state(l, static_cast<pid_t>(::syscall(SYS_getpid)), "creating");
        for (auto& h : it->second)
            run_hook("createContainer", h, state, nullptr, hook_cwd(l, "createContainer"));
    }
}

// ---- in the root ----

void pivot_to_root(ChildState& c) {
    c.root.reset();
    enter_root(c.l);
}

// The terminal as the controlling terminal of a new session (gantry oci without one: a new
// session all the same, as runc's), the hostname and domainname (in
// the UTS namespace: create refuses either without one), and the umask (process.user.umask,
// else 0022, as runc sets it once the root is ready).
void configure_process(ChildState& c) {
    if (c.terminal) {
        become_terminal_session(c.terminal.get());
        c.terminal.reset();
    } else if (c.l.start_gate >= 0 && ::setsid() < 0) {
        // gantry oci: a session and process group of its own, as runc's init (nsexec's setsid)
        fail_errno("setsid failed");
    }
    const oci::RuntimeSpec& spec = c.l.spec;
    if (!spec.hostname.empty() && spec.has_namespace("uts") &&
        ::sethostname(spec.hostname.c_str(), spec.hostname.size()) != 0)
        fail_errno("cannot set the hostname \"" + spec.hostname + "\"");
    if (!spec.domainname.empty() && spec.has_namespace("uts") &&
        ::setdomainname(spec.domainname.c_str(), spec.domainname.size()) != 0)
        fail_errno("cannot set the domainname \"" + spec.domainname + "\"");
    ::umask(static_cast<mode_t>(spec.umask.value_or(022) & 0777));
}

// Rebuilds the container's dynamic linker cache with the container's own ldconfig (or the
// host's static one when the image has none), as the container's root with the workload's
// capability set and no_new_privs: nothing from the image runs with more privilege.
void run_ldconfig(const oci::RuntimeSpec& spec, int host_ldconfig) {
    bool own = ::access("/sbin/ldconfig", X_OK) == 0;
    if (!own && host_ldconfig < 0) return;
    pid_t c = ::fork();
    if (c < 0) fail_errno("fork failed");
    if (c == 0) {
        restrict_helper(spec.capabilities.bounding);
        int null = ::open("/dev/null", O_RDWR);
        if (null >= 0) ::dup2(null, 1);
        char* argv[] = {const_cast<char*>("ldconfig"), nullptr};
        char* envp[] = {nullptr};
        if (own)
            ::execve("/sbin/ldconfig", argv, envp);
        else
            ::syscall(SYS_execveat, host_ldconfig, "", argv, envp, AT_EMPTY_PATH);
        ::_exit(127);
    }
    int st = 0;
    while (::waitpid(c, &st, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        std::string m = "gantry: warning: ldconfig in the container failed; injected libraries are "
                        "found only through the default search path\n";
        ssize_t n = ::write(2, m.data(), m.size());
        (void)n;
    }
}

// The spec's ld.so.conf.d drop-ins, then ldconfig when the spec asks for it.
void update_linker_cache(ChildState& c) {
    const oci::ContainerSetup& setup = c.l.spec.setup;
    for (auto& [file, content] : setup.ld_conf) {
        Fd r(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
        write_file_in_root(r.get(), file, content);
    }
    if (setup.ldconfig) run_ldconfig(c.l.spec, c.host_ldconfig.get());
}

// runc's create-time check of the program (Go's exec.LookPath, after the root and cwd are
// set): ARGS[0] with a '/' is that file (relative to process.cwd), else the first file of that
// name with an execute bit in the spec's PATH. Fails as the exec would: 127 not found, 126 not
// executable.
void check_program(const oci::RuntimeSpec& s) {
    const std::string& file = s.args.at(0);
    const std::string cwd = s.cwd.empty() ? "/" : s.cwd;
    auto check = [&](const std::string& name) { // 0, or why it cannot be executed
        std::string p = !name.empty() && name[0] == '/' ? name : cwd + "/" + name;
        struct stat st {};
        if (::stat(p.c_str(), &st) != 0) return errno;
        return S_ISDIR(st.st_mode) || (st.st_mode & 0111) == 0 ? EACCES : 0;
    };
    if (file.find('/') != std::string::npos) {
        int err = check(file);
        if (err == 0) return;
        if (err == ENOENT || err == ENOTDIR)
            fail(Errc::cmd_not_found,
                 "exec: \"" + file + "\": stat " + file + ": " + std::strerror(err),
                 "process.args[0] names the program in the container's root");
        fail(Errc::cannot_invoke, "exec: \"" + file + "\": " + std::strerror(err),
             "the program must be a file with an execute bit");
    }
    std::string path;
    for (auto& e : s.env)
        if (e.starts_with("PATH=")) path = e.substr(5);
    for (std::size_t start = 0;;) {
        std::size_t colon = path.find(':', start);
        std::string dir = path.substr(start, colon == std::string::npos ? colon : colon - start);
        if (check((dir.empty() ? "." : dir) + "/" + file) == 0) return;
        if (colon == std::string::npos) break;
        start = colon + 1;
    }
    fail(Errc::cmd_not_found, "exec: \"" + file + "\": executable file not found in $PATH",
         "check process.args[0] and PATH in process.env");
}

// `gantry oci create`: the process is ready. EOF on the report pipe tells create so (its later
// failures go to its own stderr), then it waits for `gantry oci start`'s byte on the gate.
void await_start_gate(ChildState& c) {
    const int gate = c.l.start_gate;
    if (gate < 0) return;
    // runc's create-time check: a program that is not there fails the create, not the start
    check_program(c.l.spec);
    ::dup2(STDERR_FILENO, c.err_fd);
    report_failures_as_text(c.err_fd); // no one reads a report now: a person reads stderr
    char b = 0;
    ssize_t n;
    while ((n = ::read(gate, &b, 1)) < 0 && errno == EINTR) {
    }
    if (n != 1) ::_exit(125);
    ::close(gate);
}

// OCI: startContainer hooks run in the container (its root, its namespaces) just
// before the user's program; their path is resolved there, so the file is the image's. As
// runc, their state has status "created" and the pid seen in the container.
void run_start_hooks(ChildState& c) {
    const Launch& l = c.l;
    if (auto it = l.spec.hooks.find("startContainer"); it != l.spec.hooks.end())
        for (auto& h : it->second) // with no more privilege than the program will have
            run_hook("startContainer", h,
                     hook_state(l, static_cast<pid_t>(::syscall(SYS_getpid)), "created"),
                     &l.spec.capabilities.bounding, hook_cwd(l, "startContainer"));
}

// PID 1 for --init: runs the workload as its child, forwards signals, reaps every zombie. With
// Launch::hold, Apptainer's instance init: the workload in a process group of its own, the
// signals forwarded to the group, PID 1 kept after the workload ends until a signal stops it.
[[noreturn]] void init_main(const Launch& l, bool single_id, int err_fd) {
    pid_t child = ::fork();
    if (child < 0) fail_errno("fork failed");
    if (child == 0) {
        if (l.hold) ::setpgid(0, 0);
        apply_scheduling(l.spec); // in the workload: SCHED_FLAG_RESET_ON_FORK is for its forks
        finish_process(l.spec, single_id, l.seccomp, l.seccomp_flags);
    }
    if (l.hold) ::setpgid(child, child); // either may run first
    // PID 1 never execs: the descriptors it was forked with (close-on-exec ones included: the
    // error pipe, a detached run's ready pipe its caller reads to EOF) are closed here, or
    // `run -d --init` would not return before the workload ends
    (void)err_fd;
    ::syscall(SYS_close_range, 3U, ~0U, 0U);
    ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0); // /proc/1/exe must not be reachable (CVE-2019-5736)
    sigset_t all;
    sigfillset(&all);
    int stopping = 0; // the signal forwarded to a held workload's group
    for (;;) {
        siginfo_t si{};
        int sig = ::sigwaitinfo(&all, &si);
        if (sig == SIGCHLD) {
            int st = 0;
            pid_t p;
            while ((p = ::waitpid(-1, &st, WNOHANG)) > 0)
                if (p == child && !l.hold)
                    ::_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
            if (stopping && p < 0 && errno == ECHILD) ::_exit(128 + stopping);
        } else if (sig > 0 && !l.hold) {
            ::kill(child, sig);
        } else if (sig > 0) {
            stopping = sig;
            if (::kill(-child, sig) < 0 && errno == ESRCH) ::_exit(128 + sig);
            if (::waitpid(-1, nullptr, WNOHANG) < 0 && errno == ECHILD) ::_exit(128 + sig);
        }
    }
}

// The workload's exec, under a tiny PID 1 for --init.
[[noreturn]] void finish(ChildState& c) {
    if (c.l.init) init_main(c.l, c.single_id, c.err_fd);
    finish_process(c.l.spec, c.single_id, c.l.seccomp, c.l.seccomp_flags);
}

} // namespace

// linux.namespaces[].path: joined before anything is mounted (a network namespace's /sys is the
// one mounted from inside it), as runc's nsexec joins them before it sets the rest up.
void join_namespaces(const oci::RuntimeSpec& s) {
    static const std::map<std::string, int> kind = {{"network", CLONE_NEWNET},
                                                    {"ipc", CLONE_NEWIPC},
                                                    {"uts", CLONE_NEWUTS},
                                                    {"cgroup", CLONE_NEWCGROUP}};
    if (joins_through_helper(s)) return; // all joined by the helper that forked us (ns_join)
    for (const auto& [type, path] : s.namespace_paths) {
        if (type == "pid") continue; // joined by gantry before the fork (launcher.cpp)
        Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
        if (!fd) throw_errno("cannot open the " + type + " namespace " + path);
        if (::setns(fd.get(), kind.at(type)) != 0)
            throw_errno("cannot join the " + type + " namespace " + path);
    }
}

// A cgroup namespace the spec asks for (type "cgroup", no path): made here, once gantry has moved
// us into the container's cgroup, so that its root is that cgroup, as runc's nsexec unshares it
// after its parent joined it to the cgroup.
void make_cgroup_namespace(const oci::RuntimeSpec& s) {
    if (std::ranges::find(s.namespaces, "cgroup") == s.namespaces.end()) return;
    if (::unshare(CLONE_NEWCGROUP) != 0)
        throw_errno("cannot make the container's cgroup namespace");
}

// process.apparmorProfile: the profile the program runs under from its exec on, set as runc
// sets it (attr/apparmor/exec, attr/exec on older kernels) before the start, so that a profile
// the host cannot apply fails the create, as under runc (a host without AppArmor refuses it).
void apply_apparmor(const std::string& profile) {
    if (profile.empty()) return;
    std::string value = "exec " + profile;
    Fd fd(::open("/proc/thread-self/attr/apparmor/exec", O_WRONLY | O_CLOEXEC));
    if (!fd && errno == ENOENT)
        fd.reset(::open("/proc/thread-self/attr/exec", O_WRONLY | O_CLOEXEC));
    if (!fd || ::write(fd.get(), value.data(), value.size()) != static_cast<ssize_t>(value.size()))
        throw_errno("cannot apply the AppArmor profile " + profile,
                    "load the profile (apparmor_parser), or leave process.apparmorProfile out "
                    "on a host without AppArmor");
}

[[noreturn]] void child_main(const Launch& l, int sync_fd, int err_fd, bool single_id,
                             int fd_sock) {
    if (l.start_gate < 0) die_with_supervisor(); // an OCI container outlives `create`
    await_id_maps(sync_fd);
    become_root_and_mount_root(l, err_fd, fd_sock);
    child_guard(err_fd, [&] {
        ChildState c{l, single_id, err_fd};
        prepare_cgroup_view(l.spec);
        join_namespaces(l.spec);
        make_cgroup_namespace(l.spec);
        open_root(c);
        mount_spec(c);
        bind_devices(c);
        pass_terminal(c, fd_sock);
        set_up_linker_in_root(c);
        write_sysctls(c.root.get(), l.spec);
        mask_paths(c.root.get(), l.spec);
        run_create_hooks(c);
        pivot_to_root(c);
        configure_process(c);
        update_linker_cache(c);
        apply_apparmor(l.spec.apparmor_profile);
        if (!l.init) apply_scheduling(l.spec); // before the gate: a refusal fails the create
        await_start_gate(c);
        run_start_hooks(c);
        finish(c);
    });
}

} // namespace gantry::runtime::detail
