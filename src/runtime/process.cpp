#include "runtime/process.hpp"

#include "runtime/seccomp.hpp"
#include "util/fs.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <grp.h>
#include <linux/close_range.h>
#include <linux/mount.h>
#include <poll.h>
#include <sys/capability.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>
#include <vector>

namespace gantry::runtime::detail {

[[noreturn]] void fail(Errc code, const std::string& msg, const std::string& hint) {
    throw ChildFail{code, msg, hint};
}
[[noreturn]] void fail_errno(const std::string& msg, const std::string& hint) {
    if (errno == ENOSYS && hint.empty()) // e.g. the mount API: open_tree, move_mount, mount_setattr
        fail(Errc::run_failed, msg + ": " + std::strerror(errno),
             "gantry run needs Linux 5.12 or newer (mount_setattr, open_tree, move_mount, "
             "openat2); on a newer kernel, a seccomp profile around gantry (an outer "
             "container's) refuses the call");
    fail(Errc::run_failed, msg + ": " + std::strerror(errno), hint);
}

std::string fd_path(int fd) {
    return "/proc/self/fd/" + std::to_string(fd);
}

void TargetDir::mounted() {
    if (!target_in_it) {
        fd.reset();
        path.clear();
    }
    target_in_it = false;
}

namespace {

// Every fd above 2 is closed at the next exec. close_range does it in one call; where it
// is refused (an outer container's seccomp profile), each fd up to the hard limit is marked
// instead (~0.35 us an fd here: +7 ms a run with a hard limit of 20,000, ~0.4 s with 2^20; on
// that path only).
void close_on_exec_from_3() {
    if (::syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC) == 0) return;
    struct rlimit rl {};
    long limit = 1 << 20; // the kernel's default nr_open
    if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_max != RLIM_INFINITY)
        limit = static_cast<long>(std::min<rlim_t>(rl.rlim_max, limit));
    for (long fd = 3; fd < limit; ++fd) ::fcntl(static_cast<int>(fd), F_SETFD, FD_CLOEXEC);
}

// Creates `leaf` in the directory dirfd (a directory, or an empty file) and opens it, never
// following a link planted there; an invalid Fd (errno set) when it exists or cannot be made.
Fd create_leaf(int dirfd, const char* leaf, bool dir) {
    if (!dir)
        return Fd(
            ::openat(dirfd, leaf, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644));
    if (::mkdirat(dirfd, leaf, 0755) != 0 && errno != EEXIST) return Fd();
    return Fd(::openat(dirfd, leaf, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
}

// For a target that could not be created because the root is read-only (--read-only).
std::string ro_hint() {
    return errno == EROFS ? "the container's root is read-only: use a path the image has, or "
                            "bind a directory there with -v"
                          : "";
}

} // namespace

// Opens (creating if missing) the mount target `dest` inside the root, fd-relative and in-root:
// no component can lead outside, whatever symlinks the image planted.
Fd ensure_target(int rootfd, const std::string& dest, bool dir, TargetDir* cache,
                 const char* what) {
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
    // Fast paths (most targets exist, or only their leaf is missing): one or two in-root opens
    // instead of one per component, or a single create relative to the directory the last
    // target was created in. All stay in-root; the walk below handles the rest.
    std::string full;
    for (auto& c : comps) full += (full.empty() ? "" : "/") + c;
    if (!comps.empty()) {
        std::string up = comps.size() > 1 ? full.substr(0, full.rfind('/')) : "";
        const char* leaf = comps.back().c_str();
        if (cache) cache->target_in_it = false;
        if (cache && cache->fd && comps.size() > 1 && cache->path == up)
            if (Fd t = create_leaf(cache->fd.get(), leaf, dir)) {
                cache->target_in_it = true;
                return t;
            }
        if (int fd = fs::openat_in_root(rootfd, full, O_PATH); fd >= 0) return Fd(fd);
        if (errno == ENOENT && comps.size() > 1) {
            Fd pdir(fs::openat_in_root(rootfd, up, O_PATH | O_DIRECTORY));
            if (pdir) {
                // The leaf is one component created (or opened) relative to a parent resolved
                // in-root, never followed if a link: what we get is the target itself.
                Fd t = create_leaf(pdir.get(), leaf, dir);
                int err = errno;
                if (cache) {
                    cache->path = up;
                    cache->fd = std::move(pdir);
                    cache->target_in_it = static_cast<bool>(t);
                }
                if (t) return t;
                if (err == EEXIST) // created meanwhile: open it in-root like any target
                    if (int fd = fs::openat_in_root(rootfd, full, O_PATH); fd >= 0) return Fd(fd);
            }
        }
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
                    fail_errno(std::string("cannot create ") + what + " " + dest, ro_hint());
            } else {
                int f = ::openat(parent.get(), comps[i].c_str(),
                                 O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
                if (f < 0 && errno != EEXIST)
                    fail_errno(std::string("cannot create ") + what + " " + dest, ro_hint());
                if (f >= 0) ::close(f);
            }
            fd = fs::openat_in_root(rootfd, prefix, O_PATH);
        }
        if (fd < 0)
            fail_errno(std::string("cannot open ") + what + " " + dest + " inside the container");
        parent.reset(fd);
    }
    return parent;
}

Fd clone_tree(int dirfd, const char* path, bool recursive) {
    unsigned flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (recursive ? AT_RECURSIVE : 0) |
                     (*path ? 0 : AT_EMPTY_PATH);
    return Fd(static_cast<int>(::syscall(SYS_open_tree, dirfd, path, flags)));
}

bool set_mount_attr(int tree, unsigned long attr, bool recursive) {
    struct mount_attr a {};
    a.attr_set = attr;
    return ::syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0),
                     &a, sizeof a) == 0;
}

bool move_tree(int tree, int target) {
    return ::syscall(SYS_move_mount, tree, "", target, "",
                     MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) == 0;
}

void enter_cwd(const std::string& cwd) {
    Fd root(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
    Fd dir = ensure_target(root.get(), cwd, true, nullptr, "working directory");
    if (::fchdir(dir.get()) != 0) fail_errno("cannot enter the working directory " + cwd);
    char buf[4096];
    if (!::getcwd(buf, sizeof buf) || buf[0] != '/')
        fail(Errc::run_failed, "working directory " + cwd + " lies outside the container");
}

void set_user(const oci::RuntimeSpec& s, bool single_id) {
    if (!single_id) {
        std::vector<gid_t> g(s.additional_gids.begin(), s.additional_gids.end());
        if (::setgroups(g.size(), g.data()) != 0) fail_errno("setgroups failed");
    }
    // In a single-ID namespace setgroups(2) is denied; the process keeps the user's own host
    // groups, which is what grants access to group-owned device nodes (CDI additionalGids).
    if (::setresgid(s.gid, s.gid, s.gid) != 0)
        fail(Errc::run_failed,
             "group " + std::to_string(s.gid) + " is not mapped in the container's user namespace",
             single_id ? "rootless containers map only your own id (as 0); run as -u 0" : "");
    if (::setresuid(s.uid, s.uid, s.uid) != 0)
        fail(Errc::run_failed,
             "user " + std::to_string(s.uid) + " is not mapped in the container's user namespace",
             single_id ? "rootless containers map only your own id (as 0); run as -u 0" : "");
}

std::vector<cap_value_t> cap_values(const std::vector<std::string>& names) {
    std::vector<cap_value_t> keep;
    for (auto& n : names) {
        cap_value_t v;
        std::string lower = n;
        for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (cap_from_name(lower.c_str(), &v) == 0) keep.push_back(v);
    }
    return keep;
}

// Runs while still uid 0 in the namespace: dropping from the bounding set needs CAP_SETPCAP.
void drop_bounding(const std::vector<cap_value_t>& keep) {
    for (cap_value_t c = 0; c <= CAP_LAST_CAP; ++c) {
        bool k = std::find(keep.begin(), keep.end(), c) != keep.end();
        if (!k && ::prctl(PR_CAPBSET_DROP, c, 0, 0, 0) != 0 && errno != EINVAL)
            fail_errno("cannot drop capability " + std::to_string(c));
    }
    ::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
}

// After the user switch: uid 0 keeps exactly `keep`; other users have none (as in docker).
void set_process_caps(const std::vector<cap_value_t>& keep, std::uint32_t uid) {
    cap_t caps = cap_init();
    if (uid == 0 && !keep.empty()) {
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

[[noreturn]] void finish_process(const oci::RuntimeSpec& s, bool single_id,
                                 const std::vector<sock_filter>& seccomp) {
    if (auto e = apply_rlimits(s.rlimits, 0)) fail(e->code(), e->message(), e->hint());
    enter_cwd(s.cwd);
    auto keep = cap_values(s.capabilities);
    drop_bounding(keep);
    set_user(s, single_id);
    set_process_caps(keep, s.uid);
    if (s.no_new_privileges && ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        fail_errno("cannot set no_new_privs");
    if (s.seccomp) {
        try {
            load_seccomp(seccomp);
        } catch (const Error& e) {
            fail(Errc::run_failed, e.message(), e.hint());
        }
    }
    close_on_exec_from_3();
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    exec_workload(s);
}

void restrict_helper(const std::vector<std::string>& caps) {
    drop_bounding(cap_values(caps));
    ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
}

// Creates link -> target inside the root (fd-relative, in-root), replacing a file or link that
// is there (an image's own stub libcuda.so.1, say) but never a directory.
void make_symlink_in_root(int rootfd, const std::string& link, const std::string& target) {
    auto slash = link.rfind('/');
    std::string dir = link.substr(0, slash), base = link.substr(slash + 1);
    Fd parent = ensure_target(rootfd, dir.empty() ? "/" : dir, true);
    struct stat st {};
    if (::fstatat(parent.get(), base.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
        if (S_ISDIR(st.st_mode))
            fail(Errc::run_failed, "cannot create " + link + ": a directory is in the way");
        if (::unlinkat(parent.get(), base.c_str(), 0) != 0) fail_errno("cannot replace " + link);
    }
    if (::symlinkat(target.c_str(), parent.get(), base.c_str()) != 0)
        fail_errno("cannot create symlink " + link);
}

// Writes a small file inside a root (fd-relative, in-root), replacing a file that is there.
void write_file_in_root(int rootfd, const std::string& path, const std::string& content) {
    auto slash = path.rfind('/');
    Fd dir =
        ensure_target(rootfd, path.substr(0, slash).empty() ? "/" : path.substr(0, slash), true);
    std::string base = path.substr(slash + 1);
    ::unlinkat(dir.get(), base.c_str(), 0);
    Fd f(::openat(dir.get(), base.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                  0644));
    if (!f) fail_errno("cannot write " + path);
    fs::write_all(f.get(), content.data(), content.size(), path);
}

void write_failure(int err_fd, int code, const std::string& message, const std::string& hint) {
    std::string msg = std::to_string(code) + " " + message + "\n" + hint;
    ssize_t n = ::write(err_fd, msg.data(), msg.size());
    (void)n;
}

std::string read_failure(int err_r) {
    std::string msg;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(err_r, buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
        if (n > 0) msg.append(buf, static_cast<size_t>(n));
    if (msg.empty()) return {};
    auto sp = msg.find(' ');
    auto nl = msg.find('\n');
    int code = std::atoi(msg.substr(0, sp).c_str());
    std::string text =
        msg.substr(sp + 1, nl == std::string::npos ? std::string::npos : nl - sp - 1);
    std::string hint = nl == std::string::npos ? "" : msg.substr(nl + 1);
    if (code == 0) return text;
    throw Error(static_cast<Errc>(code), text, hint);
}

Pty Pty::open_pair() {
    Pty p;
    p.master.reset(::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC));
    if (!p.master || ::grantpt(p.master.get()) != 0 || ::unlockpt(p.master.get()) != 0)
        throw_errno("cannot allocate a terminal");
    char name[128];
    if (::ptsname_r(p.master.get(), name, sizeof name) != 0)
        throw_errno("cannot name the terminal");
    p.slave.reset(::open(name, O_RDWR | O_NOCTTY | O_CLOEXEC));
    if (!p.slave) throw_errno(std::string("cannot open ") + name);
    struct winsize ws {};
    if (::ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0) ::ioctl(p.master.get(), TIOCSWINSZ, &ws);
    return p;
}

void become_terminal_session(int slave) {
    if (::setsid() < 0) fail_errno("setsid failed");
    if (::ioctl(slave, TIOCSCTTY, 0) != 0) fail_errno("cannot set the controlling terminal");
    for (int fd = 0; fd < 3; ++fd)
        if (::dup2(slave, fd) < 0) fail_errno("cannot attach the terminal");
}

Pty open_container_pty(int rootfd, const std::string& ptmx_path) {
    Pty p;
    p.master.reset(rootfd >= 0 ? fs::openat_in_root(rootfd, ptmx_path, O_RDWR | O_NOCTTY)
                               : ::open(ptmx_path.c_str(), O_RDWR | O_NOCTTY | O_CLOEXEC));
    if (!p.master) fail_errno("cannot open the container's " + ptmx_path);
    int unlock = 0;
    if (::ioctl(p.master.get(), TIOCSPTLCK, &unlock) != 0) fail_errno("cannot unlock the terminal");
    p.slave.reset(::ioctl(p.master.get(), TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC));
    if (!p.slave) fail_errno("cannot open the terminal's peer");
    return p;
}

void send_fd(int sock, int fd, const char* what) {
    char data = 't';
    struct iovec iov {
        &data, 1
    };
    alignas(struct cmsghdr) char buf[CMSG_SPACE(sizeof(int))] = {};
    struct msghdr msg {};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = buf;
    msg.msg_controllen = sizeof buf;
    struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &fd, sizeof(int));
    if (::sendmsg(sock, &msg, 0) < 0) fail_errno(std::string("cannot pass ") + what + " to gantry");
}

int recv_fd(int sock) {
    char data;
    struct iovec iov {
        &data, 1
    };
    alignas(struct cmsghdr) char buf[CMSG_SPACE(sizeof(int))] = {};
    struct msghdr msg {};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = buf;
    msg.msg_controllen = sizeof buf;
    ssize_t n;
    while ((n = ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR) {
    }
    if (n <= 0) return -1;
    struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
    if (!c || c->cmsg_type != SCM_RIGHTS) return -1;
    int fd;
    std::memcpy(&fd, CMSG_DATA(c), sizeof(int));
    return fd;
}

void run_hook(const std::string& stage, const oci::Hook& hook, const std::string& state_json,
              const std::vector<std::string>* restrict_caps) {
    std::string what = stage + " hook " + hook.path;
    if (hook.path.empty() || hook.path[0] != '/')
        throw Error(Errc::run_failed, what + ": the hook path must be absolute");
    int in[2];
    if (::pipe2(in, O_CLOEXEC) != 0) throw_errno("pipe failed");
    Fd rd(in[0]), wr(in[1]);
    std::vector<std::string> args =
        hook.args.empty() ? std::vector<std::string>{hook.path} : hook.args;
    std::vector<char*> argv, envp;
    for (auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    for (auto& e : hook.env) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
    pid_t c = ::fork();
    if (c < 0) throw_errno("fork failed");
    if (c == 0) {
        ::dup2(rd.get(), 0);
        close_on_exec_from_3();
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        if (::chdir("/") != 0) ::_exit(126);
        if (restrict_caps) restrict_helper(*restrict_caps);
        ::execve(hook.path.c_str(), argv.data(), envp.data());
        ::_exit(127);
    }
    rd.reset();
    // The state is fed as the hook reads it, within its timeout: a hook that reads none of it
    // (or stops) must neither block gantry past the timeout nor fail for that (EPIPE), as runc.
    ::signal(SIGPIPE, SIG_IGN);
    ::fcntl(wr.get(), F_SETFL, O_NONBLOCK);
    std::size_t fed = 0;
    auto feed = [&] {
        while (wr && fed < state_json.size()) {
            ssize_t n = ::write(wr.get(), state_json.data() + fed, state_json.size() - fed);
            if (n > 0) {
                fed += static_cast<std::size_t>(n);
            } else if (n < 0 && errno == EINTR) {
                continue;
            } else if (n < 0 && errno == EAGAIN) {
                return; // the pipe is full: more once the hook has read
            } else {
                break; // EPIPE: the hook closed its stdin or exited
            }
        }
        wr.reset(); // all of it written (the hook sees EOF), or the hook will not read it
    };
    feed();
    int timeout_s = hook.timeout && *hook.timeout > 0 ? *hook.timeout : 30;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
    // asleep until the hook exits or can take more of its state (every 5 ms without a pidfd)
    Fd exited(static_cast<int>(::syscall(SYS_pidfd_open, c, 0)));
    int st = 0;
    for (;;) {
        feed();
        pid_t r = ::waitpid(c, &st, WNOHANG);
        if (r == c) break;
        if (r < 0 && errno != EINTR) throw_errno("cannot wait for " + what);
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                        deadline - std::chrono::steady_clock::now())
                        .count();
        if (left <= 0) {
            ::kill(c, SIGKILL);
            ::waitpid(c, &st, 0);
            throw Error(Errc::run_failed,
                        what + " timed out after " + std::to_string(timeout_s) + " s",
                        "fix the hook or raise its timeout in the CDI spec");
        }
        if (exited) {
            pollfd p[2] = {{exited.get(), POLLIN, 0}, {wr ? wr.get() : -1, POLLOUT, 0}};
            ::poll(p, 2, static_cast<int>(std::min<long long>(left, 60'000)));
        } else {
            ::usleep(static_cast<useconds_t>(std::min<long long>(left, 5)) * 1000);
        }
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        throw Error(Errc::run_failed,
                    what + (WIFEXITED(st)
                                ? " exited with status " + std::to_string(WEXITSTATUS(st))
                                : " was killed by signal " + std::to_string(WTERMSIG(st))),
                    "see the hook's output above; the device's CDI spec names it");
}

namespace {

int rlimit_resource(const std::string& type) {
    static const std::pair<const char*, int> known[] = {{"RLIMIT_AS", RLIMIT_AS},
                                                        {"RLIMIT_CORE", RLIMIT_CORE},
                                                        {"RLIMIT_CPU", RLIMIT_CPU},
                                                        {"RLIMIT_DATA", RLIMIT_DATA},
                                                        {"RLIMIT_FSIZE", RLIMIT_FSIZE},
                                                        {"RLIMIT_LOCKS", RLIMIT_LOCKS},
                                                        {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},
                                                        {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE},
                                                        {"RLIMIT_NICE", RLIMIT_NICE},
                                                        {"RLIMIT_NOFILE", RLIMIT_NOFILE},
                                                        {"RLIMIT_NPROC", RLIMIT_NPROC},
                                                        {"RLIMIT_RSS", RLIMIT_RSS},
                                                        {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},
                                                        {"RLIMIT_RTTIME", RLIMIT_RTTIME},
                                                        {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
                                                        {"RLIMIT_STACK", RLIMIT_STACK}};
    for (auto& [name, res] : known)
        if (type == name) return res;
    return -1;
}

std::string limit_text(std::uint64_t v) {
    return v == RLIM_INFINITY ? "unlimited" : std::to_string(v);
}

} // namespace

std::optional<Error> apply_rlimits(const std::vector<oci::Rlimit>& limits, pid_t pid) {
    for (auto& l : limits) {
        std::string name = l.type.rfind("RLIMIT_", 0) == 0 ? l.type.substr(7) : l.type;
        for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        std::string what = "--ulimit " + name + "=" + limit_text(l.soft) + ":" + limit_text(l.hard);
        int res = rlimit_resource(l.type);
        if (res < 0)
            return Error(Errc::run_failed, "unknown rlimit type \"" + l.type + "\"",
                         "use one of RLIMIT_NOFILE, RLIMIT_MEMLOCK, RLIMIT_STACK, ...");
        struct rlimit now {};
        ::prlimit(pid, static_cast<__rlimit_resource>(res), nullptr, &now);
        struct rlimit want {
            static_cast<rlim_t>(l.soft), static_cast<rlim_t>(l.hard)
        };
        if (::prlimit(pid, static_cast<__rlimit_resource>(res), &want, nullptr) == 0) continue;
        int err = errno;
        if (err == EPERM && want.rlim_max > now.rlim_max) {
            std::string upper = name;
            for (auto& c : upper)
                c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
            return Error(
                Errc::run_failed,
                "cannot set " + what + ": the hard limit here is " + limit_text(now.rlim_max) +
                    ", and raising a hard limit takes root's CAP_SYS_RESOURCE, which "
                    "gantry does not have here",
                "raise this user's limit (/etc/security/limits.conf, systemd's Limit" + upper +
                    "=, or `ulimit -H` in the shell that starts gantry), or ask for at "
                    "most " +
                    limit_text(now.rlim_max));
        }
        return Error(Errc::run_failed, "cannot set " + what + ": " + std::strerror(err),
                     res == RLIMIT_NOFILE ? "the kernel caps open files at fs.nr_open (sysctl)"
                                          : "");
    }
    return std::nullopt;
}

sigset_t forwarded_signals() {
    sigset_t s;
    sigemptyset(&s);
    for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGCHLD, SIGWINCH, SIGCONT})
        sigaddset(&s, sig);
    return s;
}

namespace {

struct RawMode {
    bool on = false;
    struct termios saved {};
    void enable() {
        if (!::isatty(STDIN_FILENO) || ::tcgetattr(STDIN_FILENO, &saved) != 0) return;
        struct termios raw = saved;
        ::cfmakeraw(&raw);
        if (::tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0) on = true;
    }
    ~RawMode() {
        if (on) ::tcsetattr(STDIN_FILENO, TCSANOW, &saved);
    }
};

bool pump(int from, int to) {
    char buf[16384];
    ssize_t n = ::read(from, buf, sizeof buf);
    if (n <= 0) return false;
    const char* p = buf;
    while (n > 0) {
        ssize_t w = ::write(to, p, static_cast<size_t>(n));
        if (w < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        p += w;
        n -= w;
    }
    return true;
}

} // namespace

int supervise(pid_t pid, const sigset_t& fwd, int pty_master) {
    Fd sfd(::signalfd(-1, &fwd, SFD_CLOEXEC));
    if (!sfd) throw_errno("signalfd failed");
    RawMode raw;
    if (pty_master >= 0) raw.enable();
    bool stdin_open = pty_master >= 0;
    bool master_open = pty_master >= 0;
    for (;;) {
        struct pollfd pfd[3] = {{sfd.get(), POLLIN, 0},
                                {stdin_open ? STDIN_FILENO : -1, POLLIN, 0},
                                {master_open ? pty_master : -1, POLLIN, 0}};
        if (::poll(pfd, 3, -1) < 0) {
            if (errno == EINTR) continue;
            throw_errno("poll failed");
        }
        if (pfd[2].revents & (POLLIN | POLLHUP | POLLERR))
            if (!pump(pty_master, STDOUT_FILENO)) master_open = false;
        if (pfd[1].revents & (POLLIN | POLLHUP | POLLERR))
            if (!pump(STDIN_FILENO, pty_master)) stdin_open = false;
        if (!(pfd[0].revents & POLLIN)) continue;
        struct signalfd_siginfo si {};
        if (::read(sfd.get(), &si, sizeof si) != sizeof si) continue;
        int sig = static_cast<int>(si.ssi_signo);
        if (sig == SIGCHLD) {
            int st = 0;
            pid_t r = ::waitpid(pid, &st, WNOHANG);
            if (r == pid) {
                while (master_open && pump(pty_master, STDOUT_FILENO)) {
                }
                return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
            }
        } else if (sig == SIGWINCH && pty_master >= 0) {
            struct winsize ws {};
            if (::ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0) ::ioctl(pty_master, TIOCSWINSZ, &ws);
        } else {
            ::kill(pid, sig);
        }
    }
}

} // namespace gantry::runtime::detail
