#include "runtime/process.hpp"

#include "oci/passwd.hpp"
#include "runtime/capabilities.hpp"
#include "runtime/child_failure.hpp"
#include "runtime/in_root.hpp"
#include "runtime/rlimits.hpp"
#include "seccomp/seccomp.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fcntl.h>
#include <grp.h>
#include <linux/close_range.h>
#include <signal.h>
#include <string_view>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <vector>

namespace gantry::runtime::detail {

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

void enter_cwd(const std::string& cwd, bool make_missing) {
    Fd root(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
    Fd dir;
    if (make_missing) {
        dir = ensure_target(root.get(), cwd, true, nullptr, "working directory");
    } else { // an exec'ed process's: runc's exec fails when it is not there
        dir.reset(fs::openat_in_root(root.get(), cwd, O_PATH | O_DIRECTORY | O_CLOEXEC));
        if (!dir) fail_errno("cannot enter the working directory " + cwd);
    }
    if (::fchdir(dir.get()) != 0) fail_errno("cannot enter the working directory " + cwd);
    char buf[4096];
    if (!::getcwd(buf, sizeof buf) || buf[0] != '/')
        fail(Errc::run_failed, "working directory " + cwd + " lies outside the container");
}

namespace {
bool setgroups_allowed() {
    char buf[16] = {};
    Fd f(::open("/proc/self/setgroups", O_RDONLY | O_CLOEXEC));
    if (!f) return true; // a kernel without the file allows it
    const ssize_t n = ::read(f.get(), buf, sizeof buf - 1);
    return !(n >= 4 && std::string_view(buf, 4) == "deny");
}
} // namespace

void set_user(const oci::RuntimeSpec& s, bool single_id) {
    // run.oci.keep_original_groups (crun's annotation, podman's keep-groups): the process keeps
    // the caller's supplementary groups, e.g. the host's render group under subordinate-id maps.
    auto keep = s.annotations.find("run.oci.keep_original_groups");
    bool keep_groups = keep != s.annotations.end() && keep->second == "1";
    // a user namespace joined by path (a pod's) may deny setgroups(2): then the groups stay,
    // as runc leaves them where /proc/self/setgroups says "deny"
    if (!single_id && !keep_groups && setgroups_allowed()) {
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

// runc: when process.env has no HOME (or an empty one), the home directory of the user's entry
// in the container's /etc/passwd, "/" without one. Read as root, before the user switch.
std::vector<std::string> with_home(const std::vector<std::string>& env, std::uint32_t uid) {
    std::vector<std::string> out = env;
    auto home = std::find_if(out.begin(), out.end(),
                             [](const std::string& e) { return e.starts_with("HOME="); });
    if (home != out.end() && home->size() > 5) return out;
    std::string passwd;
    try {
        passwd = fs::read_file("/etc/passwd");
    } catch (const Error&) { // none, or unreadable: no entry
    }
    auto entry = oci::passwd_entry(passwd, uid);
    std::string value = "HOME=" + (entry ? entry->home : std::string("/"));
    if (home != out.end())
        *home = value;
    else
        out.push_back(value);
    return out;
}

std::string env_value(const std::vector<std::string>& env, const std::string& key) {
    for (auto& e : env)
        if (e.starts_with(key + "=")) return e.substr(key.size() + 1);
    return {};
}

[[noreturn]] void exec_workload(const oci::RuntimeSpec& s, const std::vector<std::string>& env) {
    std::vector<char*> argv, envp;
    for (auto& a : s.args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    for (auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
    const std::string& file = s.args.at(0);
    int err = ENOENT;
    if (file.find('/') != std::string::npos) {
        ::execve(file.c_str(), argv.data(), envp.data());
        err = errno;
    } else {
        std::string path = env_value(env, "PATH");
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
    if (err == E2BIG) { // docker reports it as a start failure: 125
        std::size_t bytes = 0, longest = 0;
        auto count = [&](const std::vector<std::string>& v) {
            for (const auto& a : v) {
                bytes += a.size() + 1;
                longest = std::max(longest, a.size() + 1);
            }
        };
        count(s.args);
        count(s.env);
        fail(Errc::run_failed,
             "exec: \"" + file + "\": argument list too long (" + std::to_string(bytes) +
                 " bytes of arguments and environment, the longest string " +
                 std::to_string(longest) + " bytes)",
             "the kernel takes at most 131072 bytes per string and about a quarter of the stack "
             "limit (ulimit -s) for all of them: pass large data in a file (-v) or on stdin (-i)");
    }
    fail(Errc::cannot_invoke, "exec: \"" + file + "\": " + std::strerror(err),
         err == ENOEXEC ? "the file is not an executable for this platform"
                        : "check its permissions");
}

// Every signal the workload would inherit ignored set back to its default action, through the
// kernel's rt_sigaction: glibc's sigaction(3) refuses 32 and 33 (its own), which a caller may
// still have ignored (CI's test runner did: SigIgn 0x80000000 in the container).
static void default_ignored_signals() {
    struct KernelSigaction {        // the kernel's struct sigaction (x86_64, arm64)
        std::uintptr_t handler = 0; // 0 SIG_DFL, 1 SIG_IGN
        unsigned long flags = 0;
        std::uintptr_t restorer = 0;
        std::uint64_t mask = 0;
    };
    for (int sig = 1; sig <= 64; ++sig) {
        KernelSigaction now, dfl;
        if (sig == SIGKILL || sig == SIGSTOP ||
            ::syscall(SYS_rt_sigaction, sig, nullptr, &now, sizeof now.mask) != 0 ||
            now.handler != 1)
            continue;
        ::syscall(SYS_rt_sigaction, sig, &dfl, nullptr, sizeof dfl.mask);
    }
}

[[noreturn]] void finish_process(const oci::RuntimeSpec& s, bool single_id,
                                 const std::vector<sock_filter>& seccomp, unsigned seccomp_flags,
                                 bool make_cwd) {
    if (auto e = apply_rlimits(s.rlimits, 0)) fail(e->code(), e->message(), e->hint());
    enter_cwd(s.cwd, make_cwd);
    auto load = [&] {
        try {
            seccomp::load_seccomp(seccomp, seccomp_flags);
        } catch (const Error& e) {
            fail(Errc::run_failed, e.message(), e.hint());
        }
    };
    // Without no_new_privs the kernel takes a filter only from a process holding CAP_SYS_ADMIN:
    // load it while the capabilities are still there, as runc does (a spec from podman or
    // containerd asks for that); the user switch and capability drop below are calls the
    // profile allows.
    bool early = s.seccomp && !s.no_new_privileges;
    if (early) load();
    const std::vector<std::string> env = with_home(s.env, s.uid);
    // runc's order: the bounding set while root, the permitted set kept across the user switch,
    // then the five sets as the spec lists them (capabilities.hpp)
    const CapabilityValues caps = capability_values(s.capabilities);
    drop_bounding(caps.bounding, caps.last);
    keep_capabilities(true);
    set_user(s, single_id);
    keep_capabilities(false);
    apply_capabilities(caps);
    if (s.no_new_privileges && ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        fail_errno("cannot set no_new_privs");
    if (s.seccomp && !early) load();
    close_on_exec_from_3();
    // A workload starts with every signal at its default action and none blocked, as one that
    // runc starts for docker does: an ignored signal survives execve, and gantry's caller may
    // have ignored some (a shell's `cmd &` ignores SIGINT and SIGQUIT, nohup SIGHUP), which the
    // workload would then ignore too, and a shell in it could not even trap.
    default_ignored_signals();
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    exec_workload(s, env);
}

void restrict_helper(const std::vector<std::string>& caps) {
    const cap_value_t last = last_capability();
    drop_bounding(capability_values(caps, last), last);
    ::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
}

} // namespace gantry::runtime::detail
