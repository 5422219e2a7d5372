#include "runtime/launcher.hpp"

#include "runtime/seccomp.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <grp.h>
#include <linux/mount.h>
#include <linux/openat2.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <sys/capability.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

namespace gantry::runtime {

namespace {

// ---- child side: errors are reported over a pipe as "<exit code> <message>\n<hint>" ----

struct ChildFail {
    Errc code;
    std::string message, hint;
};

[[noreturn]] void fail(Errc code, const std::string& msg, const std::string& hint = {}) {
    throw ChildFail{code, msg, hint};
}
[[noreturn]] void fail_errno(const std::string& msg, const std::string& hint = {}) {
    fail(Errc::run_failed, msg + ": " + std::strerror(errno), hint);
}

std::string fd_path(int fd) {
    return "/proc/self/fd/" + std::to_string(fd);
}

// Opens (creating if missing) the mount target `dest` inside the root, fd-relative and in-root:
// no component can lead outside, whatever symlinks the image planted.
Fd ensure_target(int rootfd, const std::string& dest, bool dir) {
    std::vector<std::string> comps;
    std::string cur;
    for (char c : dest + "/") {
        if (c == '/') {
            if (!cur.empty() && cur != ".") comps.push_back(cur);
            if (cur == "..")
                fail(Errc::run_failed, "mount destination " + dest + " contains \"..\"");
            cur.clear();
        } else
            cur += c;
    }
    std::string prefix;
    Fd parent(::fcntl(rootfd, F_DUPFD_CLOEXEC, 0));
    for (size_t i = 0; i < comps.size(); ++i) {
        prefix += (prefix.empty() ? "" : "/") + comps[i];
        bool last = i + 1 == comps.size();
        int fd = fs::openat_in_root(rootfd, prefix, O_PATH);
        if (fd < 0 && errno == ENOENT) {
            if (!last || dir) {
                if (::mkdirat(parent.get(), comps[i].c_str(), 0755) != 0 && errno != EEXIST)
                    fail_errno("cannot create mount point " + dest);
            } else {
                int f = ::openat(parent.get(), comps[i].c_str(),
                                 O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
                if (f < 0 && errno != EEXIST) fail_errno("cannot create mount point " + dest);
                if (f >= 0) ::close(f);
            }
            fd = fs::openat_in_root(rootfd, prefix, O_PATH);
        }
        if (fd < 0) fail_errno("cannot open mount point " + dest + " inside the container");
        parent.reset(fd);
    }
    return parent;
}

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
    if (!attr) return;
    struct mount_attr a {};
    a.attr_set = attr;
    if (::syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), &a,
                  sizeof a) != 0)
        fail_errno("cannot set mount flags on " + what);
}

void do_mount(int rootfd, const oci::Mount& m) {
    Flags f = parse_options(m.options);
    bool bind = m.type == "bind" || m.type.empty();
    bool dir = true;
    if (bind) {
        struct stat st {};
        if (::stat(m.source.c_str(), &st) != 0)
            fail_errno("bind mount source " + m.source + " is not accessible");
        dir = S_ISDIR(st.st_mode);
    }
    Fd target = ensure_target(rootfd, m.destination, dir);
    std::string tp = fd_path(target.get());
    if (bind) {
        if (::mount(m.source.c_str(), tp.c_str(), nullptr, MS_BIND | (f.recursive ? MS_REC : 0),
                    nullptr) != 0)
            fail_errno("cannot bind " + m.source + " to " + m.destination);
        Fd mnt(fs::openat_in_root(rootfd, m.destination, O_PATH));
        if (!mnt) fail_errno("cannot reopen " + m.destination);
        set_attr(mnt.get(), f.attr, true, m.destination);
        return;
    }
    unsigned long flags = f.flags | (f.readonly ? MS_RDONLY : 0);
    if (::mount(m.source.c_str(), tp.c_str(), m.type.c_str(), flags,
                f.data.empty() ? nullptr : f.data.c_str()) != 0)
        fail_errno("cannot mount " + m.type + " on " + m.destination);
}

void mask_paths(int rootfd, const oci::RuntimeSpec& s) {
    for (auto& p : s.masked_paths) {
        Fd fd(fs::openat_in_root(rootfd, p, O_PATH | O_NOFOLLOW));
        if (!fd) continue;
        struct stat st {};
        ::fstat(fd.get(), &st);
        std::string tp = fd_path(fd.get());
        if (S_ISDIR(st.st_mode)) {
            if (::mount("tmpfs", tp.c_str(), "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                        "size=0") != 0)
                fail_errno("cannot mask " + p);
        } else if (::mount("/dev/null", tp.c_str(), nullptr, MS_BIND, nullptr) != 0) {
            fail_errno("cannot mask " + p);
        }
    }
    for (auto& p : s.readonly_paths) {
        Fd fd(fs::openat_in_root(rootfd, p, O_PATH | O_NOFOLLOW));
        if (!fd) continue;
        std::string tp = fd_path(fd.get());
        if (::mount(tp.c_str(), tp.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0)
            fail_errno("cannot make " + p + " read-only");
        Fd again(fs::openat_in_root(rootfd, p, O_PATH | O_NOFOLLOW));
        set_attr(again.get(), MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, true, p);
    }
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

void setup_rootfs(const Launch& l) {
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
        fail_errno("cannot make the mount namespace private");
    if (l.overlay) {
        const Overlay& o = *l.overlay;
        if (::chdir(o.layers_dir.c_str()) != 0) fail_errno("cannot enter " + o.layers_dir);
        std::string lower;
        for (auto& d : o.lower) lower += (lower.empty() ? "" : ":") + d;
        if (o.upper.empty() && o.lower.size() == 1) {
            if (::mount(o.lower[0].c_str(), l.rootfs.c_str(), nullptr, MS_BIND, nullptr) != 0)
                fail_errno("cannot bind the image root");
        } else {
            std::string data = "lowerdir=" + lower;
            if (!o.upper.empty()) data += ",upperdir=" + o.upper + ",workdir=" + o.work;
            data += ",userxattr";
            if (data.size() > 4000)
                fail(Errc::run_failed, "the image has too many layers for one overlay mount",
                     "squash the image (gantry slim --squash) or use fewer layers");
            if (::mount("overlay", l.rootfs.c_str(), "overlay", 0, data.c_str()) != 0)
                throw OverlayUnavailable(std::string("overlayfs mount failed: ") +
                                         std::strerror(errno));
        }
        ::chdir("/");
    } else if (::mount(l.rootfs.c_str(), l.rootfs.c_str(), nullptr, MS_BIND | MS_REC, nullptr) !=
               0) {
        fail_errno("cannot bind the root directory " + l.rootfs);
    }
}

void enter_root(const Launch& l) {
    if (::chdir(l.rootfs.c_str()) != 0) fail_errno("cannot enter the root " + l.rootfs);
    if (::syscall(SYS_pivot_root, ".", ".") != 0) fail_errno("pivot_root failed");
    if (::umount2(".", MNT_DETACH) != 0) fail_errno("cannot detach the old root");
    if (::chdir("/") != 0) fail_errno("chdir / failed");
    if (l.spec.root_readonly) {
        Fd root(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
        set_attr(root.get(), MOUNT_ATTR_RDONLY, false, "/");
    }
}

void enter_cwd(const std::string& cwd) {
    Fd root(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
    Fd dir = ensure_target(root.get(), cwd, true);
    if (::fchdir(dir.get()) != 0) fail_errno("cannot enter the working directory " + cwd);
    char buf[4096];
    if (!::getcwd(buf, sizeof buf) || buf[0] != '/')
        fail(Errc::run_failed, "working directory " + cwd + " lies outside the container");
}

void set_user(const oci::RuntimeSpec& s, bool single_id) {
    if (!single_id) {
        std::vector<gid_t> g(s.additional_gids.begin(), s.additional_gids.end());
        if (::setgroups(g.size(), g.data()) != 0) fail_errno("setgroups failed");
    } else if (!s.additional_gids.empty()) {
        fail(Errc::run_failed, "supplementary groups cannot be set in a single-ID user namespace");
    }
    if (::setresgid(s.gid, s.gid, s.gid) != 0)
        fail(Errc::run_failed,
             "group " + std::to_string(s.gid) + " is not mapped in the container's user namespace",
             single_id ? "rootless containers map only your own id (as 0); run as -u 0" : "");
    if (::setresuid(s.uid, s.uid, s.uid) != 0)
        fail(Errc::run_failed,
             "user " + std::to_string(s.uid) + " is not mapped in the container's user namespace",
             single_id ? "rootless containers map only your own id (as 0); run as -u 0" : "");
}

void set_capabilities(const std::vector<std::string>& names) {
    std::vector<cap_value_t> keep;
    for (auto& n : names) {
        cap_value_t v;
        std::string lower = n;
        for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (cap_from_name(lower.c_str(), &v) == 0) keep.push_back(v);
    }
    for (cap_value_t c = 0; c <= CAP_LAST_CAP; ++c) {
        bool k = std::find(keep.begin(), keep.end(), c) != keep.end();
        if (!k && ::prctl(PR_CAPBSET_DROP, c, 0, 0, 0) != 0 && errno != EINVAL)
            fail_errno("cannot drop capability " + std::to_string(c));
    }
    ::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    cap_t caps = cap_init();
    if (!keep.empty()) {
        cap_set_flag(caps, CAP_EFFECTIVE, static_cast<int>(keep.size()), keep.data(), CAP_SET);
        cap_set_flag(caps, CAP_PERMITTED, static_cast<int>(keep.size()), keep.data(), CAP_SET);
    }
    int rc = cap_set_proc(caps);
    cap_free(caps);
    if (rc != 0) fail_errno("cannot set capabilities");
}

std::string env_value(const std::vector<std::string>& env, const std::string& key) {
    for (auto& e : env)
        if (e.compare(0, key.size() + 1, key + "=") == 0) return e.substr(key.size() + 1);
    return {};
}

[[noreturn]] void exec_workload(const oci::RuntimeSpec& s) {
    std::vector<char*> argv, envp;
    for (auto& a : s.args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    for (auto& e : s.env) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
    const std::string& file = s.args.at(0);
    int err = ENOENT;
    if (file.find('/') != std::string::npos) {
        ::execve(file.c_str(), argv.data(), envp.data());
        err = errno;
    } else {
        std::string path = env_value(s.env, "PATH");
        bool eacces = false;
        size_t start = 0;
        while (start <= path.size()) {
            size_t colon = path.find(':', start);
            std::string dir =
                path.substr(start, colon == std::string::npos ? std::string::npos : colon - start);
            std::string cand = (dir.empty() ? "." : dir) + "/" + file;
            ::execve(cand.c_str(), argv.data(), envp.data());
            if (errno == EACCES)
                eacces = true;
            else if (errno != ENOENT && errno != ENOTDIR) {
                err = errno;
                break;
            }
            if (colon == std::string::npos) break;
            start = colon + 1;
        }
        if (err == ENOENT && eacces) err = EACCES;
    }
    if (err == ENOENT)
        fail(Errc::cmd_not_found,
             "exec: \"" + file + "\": executable file not found" +
                 (file.find('/') == std::string::npos ? " in $PATH" : ""),
             "check the command and the image's PATH");
    fail(Errc::cannot_invoke, "exec: \"" + file + "\": " + std::strerror(err),
         err == ENOEXEC ? "the file is not an executable for this platform"
                        : "check its permissions");
}

void finish_process(const Launch& l, bool single_id) {
    const auto& s = l.spec;
    enter_cwd(s.cwd);
    set_user(s, single_id);
    set_capabilities(s.capabilities);
    if (s.no_new_privileges && ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        fail_errno("cannot set no_new_privs");
    if (s.seccomp) {
        try {
            load_default_seccomp();
        } catch (const Error& e) {
            fail(Errc::run_failed, e.message(), e.hint());
        }
    }
    ::syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    exec_workload(s);
}

// PID 1 for --init: runs the workload as its child, forwards signals, reaps every zombie.
[[noreturn]] void init_main(const Launch& l, bool single_id, int err_fd) {
    pid_t child = ::fork();
    if (child < 0) fail_errno("fork failed");
    if (child == 0) finish_process(l, single_id);
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

[[noreturn]] void child_main(const Launch& l, int sync_fd, int err_fd, bool single_id) {
    try {
        char c = 0;
        if (::read(sync_fd, &c, 1) != 1) ::_exit(125); // the parent died
        ::close(sync_fd);
        ::setresgid(0, 0, 0);
        ::setresuid(0, 0, 0);
        if (l.spec.has_namespace("network")) loopback_up();
        setup_rootfs(l);
        Fd root(::open(l.rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
        if (!root) fail_errno("cannot open the container root");
        for (auto& m : l.spec.mounts) do_mount(root.get(), m);
        if (!l.hostname_file.empty())
            do_mount(
                root.get(),
                {"/etc/hostname", "bind", l.hostname_file, {"bind", "nosuid", "nodev", "noexec"}});
        dev_links(root.get());
        mask_paths(root.get(), l.spec);
        root.reset();
        enter_root(l);
        if (!l.spec.hostname.empty() && l.spec.has_namespace("uts"))
            ::sethostname(l.spec.hostname.c_str(), l.spec.hostname.size());
        if (l.init) init_main(l, single_id, err_fd);
        finish_process(l, single_id);
    } catch (const ChildFail& f) {
        std::string msg =
            std::to_string(static_cast<int>(f.code)) + " " + f.message + "\n" + f.hint;
        ::write(err_fd, msg.data(), msg.size());
        ::_exit(static_cast<int>(f.code));
    } catch (const OverlayUnavailable& o) {
        std::string msg = "0 " + std::string(o.what()) + "\n";
        ::write(err_fd, msg.data(), msg.size());
        ::_exit(125);
    } catch (const std::exception& e) {
        std::string msg = "125 " + std::string(e.what()) + "\n";
        ::write(err_fd, msg.data(), msg.size());
        ::_exit(125);
    }
    ::_exit(125);
}

// ---- parent side ----

void write_map(pid_t pid, const char* file, const std::vector<oci::IdMapping>& maps) {
    std::string text;
    for (auto& m : maps)
        text += std::to_string(m.container_id) + " " + std::to_string(m.host_id) + " " +
                std::to_string(m.size) + "\n";
    std::string path = "/proc/" + std::to_string(pid) + "/" + file;
    Fd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
    if (!fd || ::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size()))
        throw sys_error(errno, "cannot write " + path,
                        "unprivileged user namespaces must be enabled "
                        "(sysctl kernel.unprivileged_userns_clone=1)");
}

int clone_flags(const oci::RuntimeSpec& s) {
    int f = 0;
    if (s.has_namespace("user")) f |= CLONE_NEWUSER;
    if (s.has_namespace("mount")) f |= CLONE_NEWNS;
    if (s.has_namespace("pid")) f |= CLONE_NEWPID;
    if (s.has_namespace("ipc")) f |= CLONE_NEWIPC;
    if (s.has_namespace("uts")) f |= CLONE_NEWUTS;
    if (s.has_namespace("network")) f |= CLONE_NEWNET;
    return f;
}

} // namespace

int run(const Launch& l) {
    bool single_id = l.spec.uid_mappings.size() == 1 && l.spec.uid_mappings[0].size == 1;
    int sync[2], errp[2];
    if (::pipe2(sync, O_CLOEXEC) != 0 || ::pipe2(errp, O_CLOEXEC) != 0) throw_errno("pipe failed");
    Fd sync_r(sync[0]), sync_w(sync[1]), err_r(errp[0]), err_w(errp[1]);

    sigset_t fwd, old;
    sigemptyset(&fwd);
    for (int s : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGCHLD, SIGWINCH, SIGCONT})
        sigaddset(&fwd, s);
    ::sigprocmask(SIG_BLOCK, &fwd, &old);

    long pid =
        ::syscall(SYS_clone, clone_flags(l.spec) | SIGCHLD, nullptr, nullptr, nullptr, nullptr);
    if (pid < 0) {
        int err = errno;
        ::sigprocmask(SIG_SETMASK, &old, nullptr);
        throw Error(
            Errc::run_failed,
            std::string("cannot create the container's namespaces: ") + std::strerror(err),
            err == EPERM || err == ENOSPC
                ? "unprivileged user namespaces must be enabled (user.max_user_namespaces > 0)"
                : "");
    }
    if (pid == 0) {
        sync_w.reset();
        err_r.reset();
        child_main(l, sync_r.release(), err_w.release(), single_id);
    }
    sync_r.reset();
    err_w.reset();
    auto reap = [&] {
        int st = 0;
        while (::waitpid(static_cast<pid_t>(pid), &st, 0) < 0 && errno == EINTR) {
        }
        ::sigprocmask(SIG_SETMASK, &old, nullptr);
        return st;
    };
    try {
        if (l.spec.has_namespace("user")) {
            if (single_id) {
                Fd sg(::open(("/proc/" + std::to_string(pid) + "/setgroups").c_str(),
                             O_WRONLY | O_CLOEXEC));
                if (sg) ::write(sg.get(), "deny", 4);
            }
            write_map(static_cast<pid_t>(pid), "uid_map", l.spec.uid_mappings);
            write_map(static_cast<pid_t>(pid), "gid_map", l.spec.gid_mappings);
        }
    } catch (...) {
        ::kill(static_cast<pid_t>(pid), SIGKILL);
        reap();
        throw;
    }
    if (::write(sync_w.get(), "g", 1) != 1) throw_errno("cannot start the container");
    sync_w.reset();

    std::string msg;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(err_r.get(), buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
        if (n > 0) msg.append(buf, static_cast<size_t>(n));
    if (!msg.empty()) {
        reap();
        auto sp = msg.find(' ');
        auto nl = msg.find('\n');
        int code = std::atoi(msg.substr(0, sp).c_str());
        std::string text = msg.substr(sp + 1, nl - sp - 1);
        std::string hint = nl == std::string::npos ? "" : msg.substr(nl + 1);
        if (code == 0) throw OverlayUnavailable(text);
        throw Error(static_cast<Errc>(code), text, hint);
    }
    for (;;) {
        siginfo_t si{};
        int sig = ::sigwaitinfo(&fwd, &si);
        if (sig < 0) continue;
        if (sig == SIGCHLD) {
            int st = 0;
            pid_t r = ::waitpid(static_cast<pid_t>(pid), &st, WNOHANG);
            if (r == pid) {
                ::sigprocmask(SIG_SETMASK, &old, nullptr);
                return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
            }
        } else {
            ::kill(static_cast<pid_t>(pid), sig);
        }
    }
}

} // namespace gantry::runtime
