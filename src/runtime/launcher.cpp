#include "runtime/launcher.hpp"

#include "runtime/idmap.hpp"
#include "runtime/keeper.hpp"
#include "runtime/process.hpp"
#include "runtime/raw_syscall.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <grp.h>
#include <linux/futex.h>
#include <linux/mount.h>
#include <linux/openat2.h>
#include <net/if.h>
#include <nlohmann/json.hpp>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/capability.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

namespace gantry::runtime {

namespace {

using namespace detail;

struct Flags {
    unsigned long flags = 0;
    std::string data;
    bool readonly = false, recursive = false;
    unsigned long attr = 0; // MOUNT_ATTR_* for binds
};

Flags parse_options(const std::vector<std::string>& opts) {
    Flags f;
    for (auto& o : opts) {
        if (o == "ro")
            f.readonly = true;
        else if (o == "rw") {
        } else if (o == "nosuid") {
            f.flags |= MS_NOSUID;
            f.attr |= MOUNT_ATTR_NOSUID;
        } else if (o == "nodev") {
            f.flags |= MS_NODEV;
            f.attr |= MOUNT_ATTR_NODEV;
        } else if (o == "noexec") {
            f.flags |= MS_NOEXEC;
            f.attr |= MOUNT_ATTR_NOEXEC;
        } else if (o == "strictatime")
            f.flags |= MS_STRICTATIME;
        else if (o == "rbind")
            f.recursive = true;
        else if (o == "bind" || o == "rprivate" || o == "private") {
        } else
            f.data += (f.data.empty() ? "" : ",") + o;
    }
    if (f.readonly) f.attr |= MOUNT_ATTR_RDONLY;
    return f;
}

void set_attr(int fd, unsigned long attr, bool recursive, const std::string& what) {
    if (attr && !set_mount_attr(fd, attr, recursive))
        fail_errno("cannot set mount flags on " + what);
}

void attach(int tree, int target, const std::string& what) {
    if (!move_tree(tree, target)) fail_errno("cannot mount on " + what);
}

void do_mount(int rootfd, const oci::Mount& m, TargetDir& last) {
    Flags f = parse_options(m.options);
    if (m.type == "bind" || m.type.empty()) {
        Fd tree = clone_tree(AT_FDCWD, m.source.c_str(), f.recursive);
        if (!tree && errno == EINVAL) // a non-recursive bind of a tree holding locked mounts
            fail_errno("cannot bind " + m.source + " to " + m.destination +
                           " without the mounts under it",
                       "give this mount the rbind option (a user namespace may not hide the "
                       "host's mounts below " +
                           m.source + ")");
        if (!tree) fail_errno("bind mount source " + m.source + " is not accessible");
        struct stat st {};
        if (::fstat(tree.get(), &st) != 0) fail_errno("cannot stat " + m.source);
        set_attr(tree.get(), f.attr, true, m.destination);
        Fd target = ensure_target(rootfd, m.destination, S_ISDIR(st.st_mode), &last);
        attach(tree.get(), target.get(), m.destination);
    } else {
        Fd target = ensure_target(rootfd, m.destination, true, &last);
        unsigned long flags = f.flags | (f.readonly ? MS_RDONLY : 0);
        if (::mount(m.source.c_str(), fd_path(target.get()).c_str(), m.type.c_str(), flags,
                    f.data.empty() ? nullptr : f.data.c_str()) != 0)
            fail_errno("cannot mount " + m.type + " on " + m.destination);
    }
    last.mounted();
}

void mask_paths(int rootfd, const oci::RuntimeSpec& s) {
    Fd empty; // the first masked directory's empty read-only tmpfs, cloned for the others
    for (auto& p : s.masked_paths) {
        Fd fd(fs::openat_in_root(rootfd, p, O_PATH | O_NOFOLLOW));
        if (!fd) continue;
        struct stat st {};
        ::fstat(fd.get(), &st);
        if (S_ISDIR(st.st_mode) && !empty) {
            if (::mount("tmpfs", fd_path(fd.get()).c_str(), "tmpfs",
                        MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=0") != 0)
                fail_errno("cannot mask " + p);
            empty.reset(fs::openat_in_root(rootfd, p, O_PATH | O_NOFOLLOW));
            continue;
        }
        Fd tree = S_ISDIR(st.st_mode) ? clone_tree(empty.get(), "", false)
                                      : clone_tree(AT_FDCWD, "/dev/null", false);
        if (!tree) fail_errno("cannot mask " + p);
        attach(tree.get(), fd.get(), p);
    }
    for (auto& p : s.readonly_paths) {
        Fd fd(fs::openat_in_root(rootfd, p, O_PATH | O_NOFOLLOW));
        if (!fd) continue;
        Fd tree = clone_tree(fd.get(), "", true);
        if (!tree) fail_errno("cannot make " + p + " read-only");
        set_attr(tree.get(), MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, true, p);
        attach(tree.get(), fd.get(), p);
    }
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
        restrict_helper(spec.capabilities);
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

std::string hook_state(const Launch& l, pid_t pid, const char* status) {
    nlohmann::json st{{"ociVersion", "1.0.2"}, {"id", l.id},
                      {"status", status},      {"pid", pid},
                      {"bundle", l.bundle},    {"annotations", l.spec.annotations}};
    return st.dump();
}

void dev_links(int rootfd) {
    Fd dev(fs::openat_in_root(rootfd, "dev", O_PATH | O_DIRECTORY));
    if (!dev) return;
    const std::pair<const char*, const char*> links[] = {{"pts/ptmx", "ptmx"},
                                                         {"/proc/self/fd", "fd"},
                                                         {"/proc/self/fd/0", "stdin"},
                                                         {"/proc/self/fd/1", "stdout"},
                                                         {"/proc/self/fd/2", "stderr"}};
    for (auto& [target, name] : links) ::symlinkat(target, dev.get(), name);
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

// The container's private tmpfs on the mount point: /etc/hostname, and the overlay's upper and
// work dirs for an in-memory writable layer. Nobody else sees it (our mount namespace only);
// after pivot_root only the overlay and the hostname bind still reach it. Its descriptor goes
// to the parent (fd_sock) when the parent measures what the run wrote.
void setup_scratch(const Launch& l, int fd_sock) {
    const char* mp = l.mount_point.c_str();
    std::string opts = "mode=0700";
    if (l.overlay && l.overlay->memory && l.overlay->memory_size)
        opts += ",size=" + std::to_string(l.overlay->memory_size);
    if (::mount("tmpfs", mp, "tmpfs", MS_NOSUID | MS_NODEV, opts.c_str()) != 0)
        fail_errno("cannot mount the container's tmpfs on " + l.mount_point);
    Fd dir(::open(mp, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dir) fail_errno("cannot open the container's tmpfs");
    // 0755 whatever the umask: the mount point of the root, and the upper dir whose mode "/"
    // takes; upper/ and work/ only for an in-memory writable layer.
    auto mkdir_0755 = [&](const char* d) {
        if (::mkdirat(dir.get(), d, 0755) != 0 || ::fchmodat(dir.get(), d, 0755, 0) != 0)
            fail_errno(std::string("cannot create ") + d + " in the container's tmpfs");
    };
    mkdir_0755("root");
    if (l.overlay && l.overlay->memory) {
        mkdir_0755("upper");
        mkdir_0755("work");
    }
    if (!l.hostname.empty()) {
        Fd f(::openat(dir.get(), "hostname", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
        std::string line = l.hostname + "\n";
        if (!f || ::write(f.get(), line.data(), line.size()) != static_cast<ssize_t>(line.size()))
            fail_errno("cannot write the container's /etc/hostname");
    }
    if (fd_sock >= 0) send_fd(fd_sock, dir.get(), "the container's tmpfs");
}

void setup_rootfs(const Launch& l, int fd_sock) {
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
        fail_errno("cannot make the mount namespace private");
    setup_scratch(l, fd_sock);
    std::string root = l.root_path();
    if (l.overlay) {
        const Overlay& o = *l.overlay;
        if (::chdir(o.layers_dir.c_str()) != 0) fail_errno("cannot enter " + o.layers_dir);
        std::string lower;
        for (auto& d : o.lower) lower += (lower.empty() ? "" : ":") + d;
        std::string upper = o.memory ? l.mount_point + "/upper" : o.upper;
        std::string work = o.memory ? l.mount_point + "/work" : o.work;
        if (upper.empty() && o.lower.size() == 1) {
            if (::mount(o.lower[0].c_str(), root.c_str(), nullptr, MS_BIND, nullptr) != 0)
                fail_errno("cannot bind the image root");
        } else {
            std::string data = "lowerdir=" + lower;
            if (!upper.empty()) data += ",upperdir=" + upper + ",workdir=" + work;
            data += ",userxattr";
            if (data.size() > 4000)
                fail(Errc::run_failed, "the image has too many layers for one overlay mount",
                     "squash the image (gantry slim --squash) or use fewer layers");
            // "volatile": the container layer is private and discarded, so skip the sync of
            // the upper filesystem at unmount (1-2 ms per run on disk); older kernels lack it.
            std::string fast = upper.empty() ? data : data + ",volatile";
            if (::mount("overlay", root.c_str(), "overlay", 0, fast.c_str()) != 0 &&
                ::mount("overlay", root.c_str(), "overlay", 0, data.c_str()) != 0)
                throw OverlayUnavailable(std::string("overlayfs mount failed: ") +
                                         std::strerror(errno));
        }
        ::chdir("/");
    } else if (::mount(l.rootfs.c_str(), root.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0) {
        fail_errno("cannot bind the root directory " + l.rootfs);
    }
}

void enter_root(const Launch& l) {
    if (::chdir(l.root_path().c_str()) != 0) fail_errno("cannot enter the root");
    if (::syscall(SYS_pivot_root, ".", ".") != 0) fail_errno("pivot_root failed");
    if (::umount2(".", MNT_DETACH) != 0) fail_errno("cannot detach the old root");
    if (::chdir("/") != 0) fail_errno("chdir / failed");
    if (l.spec.root_readonly) {
        Fd root(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
        set_attr(root.get(), MOUNT_ATTR_RDONLY, false, "/");
    }
}

// PID 1 for --init: runs the workload as its child, forwards signals, reaps every zombie.
[[noreturn]] void init_main(const Launch& l, bool single_id, int err_fd) {
    pid_t child = ::fork();
    if (child < 0) fail_errno("fork failed");
    if (child == 0) finish_process(l.spec, single_id, l.seccomp);
    ::close(err_fd);
    ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0); // /proc/1/exe must not be reachable (CVE-2019-5736)
    sigset_t all;
    sigfillset(&all);
    for (;;) {
        siginfo_t si{};
        int sig = ::sigwaitinfo(&all, &si);
        if (sig == SIGCHLD) {
            int st = 0;
            pid_t p;
            while ((p = ::waitpid(-1, &st, WNOHANG)) > 0)
                if (p == child) ::_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
        } else if (sig > 0) {
            ::kill(child, sig);
        }
    }
}

// fd_sock: where the child passes the tmpfs (when l.on_scratch) and then the terminal (-t).
[[noreturn]] void child_main(const Launch& l, int sync_fd, int err_fd, bool single_id,
                             int fd_sock) {
    // The container dies with its supervisor (gantry, or a detached container's monitor): a
    // killed gantry leaves no orphan running without anyone to reap it, clean up, or hold its
    // image. SIGKILL from the parent's (ancestor) namespace reaches even PID 1.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    if (sync_fd >= 0) { // the parent writes our id maps, then lets us go
        char c = 0;
        if (::read(sync_fd, &c, 1) != 1) ::_exit(125); // the parent died
        ::close(sync_fd);
    }
    try {
        ::setresgid(0, 0, 0);
        ::setresuid(0, 0, 0);
        if (l.spec.has_namespace("network")) loopback_up();
        setup_rootfs(l, l.on_scratch ? fd_sock : -1);
    } catch (const OverlayUnavailable& o) {
        write_failure(err_fd, 0, o.what(), "");
        ::_exit(125);
    } catch (const ChildFail& f) {
        write_failure(err_fd, static_cast<int>(f.code), f.message, f.hint);
        ::_exit(static_cast<int>(f.code));
    }
    child_guard(err_fd, [&] {
        Fd root(::open(l.root_path().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
        if (!root) fail_errno("cannot open the container root");
        TargetDir last;
        for (auto& m : l.spec.mounts) do_mount(root.get(), m, last);
        if (!l.hostname.empty())
            do_mount(root.get(),
                     {"/etc/hostname",
                      "bind",
                      l.mount_point + "/hostname",
                      {"bind", "nosuid", "nodev", "noexec"}},
                     last);
        for (auto& d : l.spec.devices) // rootless cannot mknod: bind the host's node
            do_mount(root.get(),
                     {d.path,
                      "bind",
                      d.host_path.empty() ? d.path : d.host_path,
                      {"bind", "nosuid", "noexec"}},
                     last);
        dev_links(root.get());
        Fd slave;
        if (l.spec.terminal) { // a terminal from the container's own devpts
            Pty pty = open_container_pty(root.get(), "dev/pts/ptmx");
            send_fd(fd_sock, pty.master.get(), "the terminal");
            slave = std::move(pty.slave);
        }
        if (fd_sock >= 0) ::close(fd_sock);
        for (auto& [link, target] : l.spec.setup.symlinks)
            make_symlink_in_root(root.get(), link, target);
        last = TargetDir{}; // the links may stand where it was
        for (auto& [host, cpath] : l.spec.setup.overlays) {
            Fd t(fs::openat_in_root(root.get(), cpath, O_PATH | O_NOFOLLOW));
            if (t)
                do_mount(root.get(),
                         {cpath, "bind", host, {"bind", "ro", "nosuid", "nodev", "noexec"}}, last);
        }
        last = TargetDir{};
        Fd host_ldconfig;
        if (l.spec.setup.ldconfig && !l.spec.setup.host_ldconfig.empty())
            host_ldconfig.reset(::open(l.spec.setup.host_ldconfig.c_str(), O_PATH | O_CLOEXEC));
        mask_paths(root.get(), l.spec);
        pid_t host_pid = 0; // as the hooks' state reports it: seen from the host
        if (!l.spec.hooks.empty()) {
            char self[32] = {};
            if (::readlink("/proc/self", self, sizeof self - 1) > 0) host_pid = std::atoi(self);
        }
        for (const char* stage : {"prestart", "createRuntime", "createContainer"}) {
            auto it = l.spec.hooks.find(stage);
            if (it == l.spec.hooks.end()) continue;
            std::string state = hook_state(l, host_pid, "creating");
            for (auto& h : it->second) run_hook(stage, h, state);
        }
        root.reset();
        enter_root(l);
        if (slave) {
            become_terminal_session(slave.get());
            slave.reset();
        }
        if (!l.spec.hostname.empty() && l.spec.has_namespace("uts"))
            ::sethostname(l.spec.hostname.c_str(), l.spec.hostname.size());
        for (auto& [file, content] : l.spec.setup.ld_conf) {
            Fd r(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
            write_file_in_root(r.get(), file, content);
        }
        if (l.spec.setup.ldconfig) run_ldconfig(l.spec, host_ldconfig.get());
        // OCI: startContainer hooks run in the container (its root, its namespaces) just
        // before the user's program; their path is resolved there, so the file is the image's.
        if (auto it = l.spec.hooks.find("startContainer"); it != l.spec.hooks.end())
            for (auto& h : it->second) // with no more privilege than the program will have
                run_hook("startContainer", h, hook_state(l, host_pid, "created"),
                         &l.spec.capabilities);
        if (l.init) init_main(l, single_id, err_fd);
        finish_process(l.spec, single_id, l.seccomp);
    });
}

// ---- parent side ----

// The fast start: clone(CLONE_VM | CLONE_VFORK) like posix_spawn. The child runs on its own
// stack in the parent's memory while the parent sleeps until the workload is exec'ed (or the
// child exited): no page tables copied, no copy-on-write faults on either side, no hand-over
// through a pipe. It needs nothing from the parent after the clone, so it is used when the
// child can write its own id maps (a rootless single-id map: the kernel lets a process map
// just its own uid and gid) and no cgroup is joined from outside; PID 1 for --init never
// execs, so it keeps the fork. The child only reads the parent's objects (the Launch is const)
// and closes descriptors by number: the parent finds everything as it left it.
struct SharedChild {
    const Launch* l;
    int err_fd, fd_sock;
    bool single_id;
    uid_t uid;
    gid_t gid;
};

int shared_child_main(void* arg) {
    auto* a = static_cast<SharedChild*>(arg);
    try {
        write_own_id_maps(a->uid, a->gid);
    } catch (const Error& e) {
        write_failure(a->err_fd, static_cast<int>(Errc::run_failed), e.message(), e.hint());
        ::_exit(static_cast<int>(Errc::run_failed));
    }
    child_main(*a->l, -1, a->err_fd, a->single_id, a->fd_sock);
}

bool can_share_memory(const Launch& l) {
    const auto& s = l.spec;
    return !l.init && !l.on_created && s.has_namespace("user") && ::geteuid() != 0 &&
           s.uid_mappings.size() == 1 && s.uid_mappings[0].size == 1 &&
           s.uid_mappings[0].host_id == ::geteuid() && is_single_id(s.gid_mappings) &&
           s.gid_mappings[0].host_id == ::getegid();
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
    ~ChildStack() { ::munmap(base, kSize + kGuard); }
    void* top() const { return static_cast<char*>(base) + kSize + kGuard; }
};

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
    auto d = diagnose_userns(err, ::geteuid());
    return Error(Errc::run_failed, d.why.empty() ? what : what + ": " + d.why, d.hint);
}

// ---- the early start (EarlyStart) ----

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
    int go = 0; // then a byte on the socket, for a process that stopped watching
};

constexpr long kSpinNs = 200 * 1000;

constexpr const char* kMapFiles[3] = {"/proc/self/setgroups", "/proc/self/uid_map",
                                      "/proc/self/gid_map"};
constexpr const char* kMapNames[3] = {"setgroups", "uid_map", "gid_map"};

// The process once gantry handed it the launch: gantry sleeps until we exec or exit, so its
// memory and libc are ours, as in a vfork child.
[[noreturn]] void early_handed_over(EarlyShared* s) {
    if (s->state == EarlyShared::kFailed) {
        Error e = own_id_map_error(kMapNames[s->fail_step], s->fail_errno);
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
    // gantry is usually a few tens of microseconds from the handover now; a CPU that went
    // idle takes about as long to wake (a VM exit): watch for it a little before sleeping
    struct timespec t0 {
    }, t{};
    raw(SYS_clock_gettime, CLOCK_MONOTONIC, reinterpret_cast<long>(&t0));
    for (int i = 1; !__atomic_load_n(&s->go, __ATOMIC_ACQUIRE); ++i) {
        cpu_relax();
        if (i % 64) continue;
        raw(SYS_clock_gettime, CLOCK_MONOTONIC, reinterpret_cast<long>(&t));
        if ((t.tv_sec - t0.tv_sec) * 1000000000L + (t.tv_nsec - t0.tv_nsec) < kSpinNs) continue;
        char go = 0;
        if (raw(SYS_read, s->child_sock, reinterpret_cast<long>(&go), 1) != 1)
            raw(SYS_exit_group, 125); // cancelled, or gantry is gone
        break;
    }
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
    while (raw(SYS_poll, reinterpret_cast<long>(&pf), 1, -1) <= 0) {
    }
    return 0; // the namespace's last reference goes here
}

// The mapping: guard page, the process's stack, guard page, the helper's stack, EarlyShared.
constexpr size_t kGuard = 4096, kProcessStack = 1 << 20, kHelperStack = 16 * 1024;
constexpr size_t kEarlyMapping = kGuard + kProcessStack + kGuard + kHelperStack + 4096;
static_assert(sizeof(EarlyShared) <= 4096);

} // namespace

struct EarlyStart::State {
    void* map = MAP_FAILED;
    EarlyShared* sh = nullptr;
    pid_t helper = -1;
    bool pinned = false; // the helper was moved off our CPU
    bool taken = false;  // handed over or cancelled
    bool handed = false; // handed over
    Fd err_r, sock;      // our ends: the error pipe; the socket (go, then tmpfs and terminal)

    // Waits until the helper made the process (first letting it onto our CPU if it has not
    // run yet), and reaps it unless it stays as the keeper.
    void await_helper() {
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
    static void reap(pid_t pid) {
        int st = 0;
        while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
        }
    }
    bool keeping() const { return __atomic_load_n(&sh->keeping, __ATOMIC_ACQUIRE) != 0; }
    void cancel() {
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
    // Hands the launch over through GO_SOCK (our end, which run() took) and returns once the
    // process exec'ed the workload or exited.
    pid_t hand_over(const Launch& l, bool single_id, int go_sock) {
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
        __atomic_store_n(&s->go, 1, __ATOMIC_RELEASE);
        // a process that died already (killed) reads nothing: its tid is 0 below
        (void)::send(go_sock, "g", 1, MSG_NOSIGNAL);
        for (int v; (v = __atomic_load_n(&s->tid, __ATOMIC_ACQUIRE)) != 0;) // the kernel's wake
            ::syscall(SYS_futex, &s->tid, FUTEX_WAIT, v, nullptr, nullptr, 0);
        return s->child_pid;
    }
    ~State() {
        if (sh) cancel();
        // a keeping helper lives on its stack in there until our exit: left mapped, as the
        // keeper's own mapping is
        if (map != MAP_FAILED && !keeping()) ::munmap(map, kEarlyMapping);
    }
};

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

int run(const Launch& l) {
    bool single_id = is_single_id(l.spec.gid_mappings);
    const bool shared = can_share_memory(l); // no hand-over: no sync pipe
    EarlyStart::State* early = nullptr;      // taken over, or cancelled
    if (l.early) {
        auto& e = *l.early->st_;
        if (!e.taken && shared && e.sh->flags == clone_flags(l.spec.namespaces))
            early = &e;
        else
            e.cancel();
    }
    Fd sync_r, sync_w, err_r, err_w;
    Fd fds_parent, fds_child; // the child passes its tmpfs and the terminal's master over this
    if (early) {
        err_r = std::move(early->err_r);
        fds_parent = std::move(early->sock);
    } else {
        int sync[2] = {-1, -1}, errp[2];
        if ((!shared && ::pipe2(sync, O_CLOEXEC) != 0) || ::pipe2(errp, O_CLOEXEC) != 0)
            throw_errno("pipe failed");
        sync_r.reset(sync[0]);
        sync_w.reset(sync[1]);
        err_r.reset(errp[0]);
        err_w.reset(errp[1]);
        if (l.spec.terminal || l.on_scratch) {
            int sv[2];
            if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
                throw_errno("socketpair failed");
            fds_parent.reset(sv[0]);
            fds_child.reset(sv[1]);
        }
    }

    sigset_t fwd = forwarded_signals(), old;
    ::sigprocmask(SIG_BLOCK, &fwd, &old);
    struct Restore {
        sigset_t* old;
        ~Restore() { ::sigprocmask(SIG_SETMASK, old, nullptr); }
    } restore{&old};

    long pid;
    if (early) {
        // returns once the child exec'ed or exited
        pid = early->hand_over(l, single_id, fds_parent.get());
    } else if (shared) {
        ChildStack stack;
        SharedChild arg{&l,        err_w.get(), fds_child ? fds_child.get() : -1,
                        single_id, ::geteuid(), ::getegid()};
        // returns once the child exec'ed the workload or exited
        pid = ::clone(shared_child_main, stack.top(),
                      clone_flags(l.spec.namespaces) | CLONE_VM | CLONE_VFORK | SIGCHLD, &arg);
    } else {
        pid = ::syscall(SYS_clone, clone_flags(l.spec.namespaces) | SIGCHLD, nullptr, nullptr,
                        nullptr, nullptr);
    }
    if (pid < 0) throw namespaces_error(errno);
    if (pid == 0) {
        sync_w.reset();
        err_r.reset();
        fds_parent.reset();
        child_main(l, sync_r.release(), err_w.release(), single_id,
                   fds_child ? fds_child.release() : -1);
    }
    sync_r.reset();
    err_w.reset();
    fds_child.reset();
    Fd master;
    auto kill_and_reap = [&] {
        ::kill(static_cast<pid_t>(pid), SIGKILL);
        int st = 0;
        while (::waitpid(static_cast<pid_t>(pid), &st, 0) < 0 && errno == EINTR) {
        }
    };
    try {
        if (!shared) {
            if (l.spec.has_namespace("user"))
                write_id_maps(static_cast<pid_t>(pid), l.spec.uid_mappings, l.spec.gid_mappings);
            // from outside its user namespace: raising a hard limit needs init's privilege
            if (::geteuid() == 0)
                if (auto e = apply_rlimits(l.spec.rlimits, static_cast<pid_t>(pid))) throw *e;
            if (l.on_created) l.on_created(static_cast<pid_t>(pid));
            if (::write(sync_w.get(), "g", 1) != 1) throw_errno("cannot start the container");
        }
        sync_w.reset();
        if (l.on_scratch) {
            Fd scratch(recv_fd(fds_parent.get()));
            if (scratch) l.on_scratch(std::move(scratch));
        }
        if (l.spec.terminal) {
            master.reset(recv_fd(fds_parent.get()));
            struct winsize ws {};
            if (master && ::ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0)
                ::ioctl(master.get(), TIOCSWINSZ, &ws);
        }
        std::string overlay = read_failure(err_r.get());
        if (!overlay.empty()) {
            kill_and_reap();
            throw OverlayUnavailable(overlay);
        }
    } catch (const OverlayUnavailable&) {
        throw;
    } catch (...) {
        kill_and_reap();
        throw;
    }
    // OCI: poststart hooks run once the user's program was started (the error pipe closed on
    // its exec); a failing one is a warning and the container goes on.
    if (auto it = l.spec.hooks.find("poststart"); it != l.spec.hooks.end())
        for (auto& h : it->second) {
            try {
                run_hook("poststart", h, hook_state(l, static_cast<pid_t>(pid), "running"));
            } catch (const Error& e) {
                std::fprintf(stderr, "gantry: warning: %s\n", e.message().c_str());
            }
        }
    // the mount namespace's teardown at the container's exit happens after we returned
    if (!early || !early->keeping()) keep_mount_namespace(static_cast<pid_t>(pid));
    if (l.on_started) l.on_started(static_cast<pid_t>(pid));
    int status = supervise(static_cast<pid_t>(pid), fwd, master ? master.get() : -1);
    if (auto it = l.spec.hooks.find("poststop"); it != l.spec.hooks.end())
        for (auto& h : it->second) {
            try {
                run_hook("poststop", h, hook_state(l, 0, "stopped"));
            } catch (const Error& e) { // poststop failures are reported, not fatal (OCI)
                std::fprintf(stderr, "gantry: warning: %s\n", e.message().c_str());
            }
        }
    return status;
}

} // namespace gantry::runtime
