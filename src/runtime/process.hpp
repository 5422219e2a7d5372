// Pieces shared by the launcher (`run`) and `exec`: in-root mount targets, the last steps of a
// container process (cwd, user, capabilities, no_new_privs, seccomp, closing fds, exec), child
// error reporting over a pipe, terminals, and the parent's supervision loop.
#pragma once

#include "oci/runtime_spec.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"

#include <linux/filter.h>
#include <optional>
#include <signal.h>
#include <string>
#include <sys/types.h>

namespace gantry::runtime::detail {

// Thrown inside a forked child; reported to the parent as "<exit code> <message>\n<hint>".
struct ChildFail {
    Errc code;
    std::string message, hint;
};
[[noreturn]] void fail(Errc code, const std::string& msg, const std::string& hint = {});
[[noreturn]] void fail_errno(const std::string& msg, const std::string& hint = {});
std::string fd_path(int fd);

// The directory in which ensure_target last had to create a target, kept open: the next
// missing targets there (/dev/null, /dev/zero, ...) are created relative to it, one call
// each. A mount can hide what the descriptor sees (a mount on the directory itself, on an
// ancestor, or on a link that leads to either): the caller reports every mount it makes with
// mounted(), which keeps the directory only when the target was an entry ensure_target had just
// created (or found, never through a link) in it.
struct TargetDir {
    std::string path; // in-root, without the leading "/"
    Fd fd;
    bool target_in_it = false; // the last target returned is an entry of this directory
    void mounted();
};

// Opens (creating if missing) `dest` inside the root, fd-relative and in-root.
// WHAT names DEST in errors. A target that cannot be created on a read-only root is EROFS.
Fd ensure_target(int rootfd, const std::string& dest, bool dir, TargetDir* cache = nullptr,
                 const char* what = "mount point");

// The new mount API, errors left to the caller (errno): a detached copy of the mount tree at
// PATH (relative to DIRFD; "" for DIRFD itself), configured with set_mount_attr and placed on
// TARGET with move_tree. Nothing is resolved twice, nothing goes through /proc.
Fd clone_tree(int dirfd, const char* path, bool recursive);
bool set_mount_attr(int tree, unsigned long attr, bool recursive);
bool move_tree(int tree, int target);

// Creates link -> target inside the root, replacing a file or link there (never a directory).
void make_symlink_in_root(int rootfd, const std::string& link, const std::string& target);
// Writes a small file inside the root, replacing a file there.
void write_file_in_root(int rootfd, const std::string& path, const std::string& content);

// cwd (created in-root, verified), user, capabilities, no_new_privs, seccomp, fds > 2 closed on
// exec, signal mask cleared, then exec of the spec's args with the spec's env.
// SECCOMP: the filter when s.seccomp (runtime::seccomp_program; empty: the default profile).
[[noreturn]] void finish_process(const oci::RuntimeSpec& s, bool single_id,
                                 const std::vector<sock_filter>& seccomp);

// Drops the capability bounding set to `caps` and sets no_new_privs (for helpers the runtime
// runs inside the container before the workload, such as ldconfig).
void restrict_helper(const std::vector<std::string>& caps);

// Runs `body` in a child; any failure is written to err_fd and the child exits with its code.
template <class F>
[[noreturn]] void child_guard(int err_fd, F&& body);
void write_failure(int err_fd, int code, const std::string& message, const std::string& hint);

// Reads the child's failure report (empty when it exec'ed); throws Error for a report.
// Returns "overlay" for an OverlayUnavailable report (code 0) so the caller can retry.
std::string read_failure(int err_r);

// A pseudo-terminal pair for -t; the child makes the slave its controlling terminal.
struct Pty {
    Fd master, slave;
    static Pty open_pair();
};
void become_terminal_session(int slave_fd);
// A pseudo-terminal from the container's own devpts instance (ptmx at `ptmx_path`, resolved
// in-root when rootfd >= 0), so the workload's ttyname() names a /dev/pts entry it can see.
Pty open_container_pty(int rootfd, const std::string& ptmx_path);
// Passes a file descriptor (`what`, for the error) over a unix socket (SCM_RIGHTS); recv_fd
// returns -1 at EOF.
void send_fd(int sock, int fd, const char* what);
int recv_fd(int sock);

// Forwards the signals in `fwd` (blocked by the caller) to pid, proxies a terminal when
// pty_master >= 0 (raw mode on our stdin if it is a tty, window size on SIGWINCH), and returns
// the exit status of pid (128+N when killed by signal N).
int supervise(pid_t pid, const sigset_t& fwd, int pty_master);

// Runs an OCI hook: exactly its declared env (nothing inherited), cwd "/", its absolute path,
// no fds but the state on stdin and stdout/stderr, killed after its timeout (default 30 s).
// Throws Error(run_failed) naming the hook when it fails or times out.
// restrict_caps: run it with no more than the workload's privileges (capability bounding set
// and no_new_privs), for hooks executed from inside the container (startContainer).
void run_hook(const std::string& stage, const oci::Hook& hook, const std::string& state_json,
              const std::vector<std::string>* restrict_caps = nullptr);

// Sets process.rlimits on process PID (0: this one), in order. Raising a hard limit takes
// CAP_SYS_RESOURCE in the initial user namespace: root's gantry sets them on the container
// process from outside before it goes on (prlimit), and the container process sets them again
// itself (a no-op then; for a user other than root, the only way). Returns the first failure
// as an Error(run_failed) naming the --ulimit and the fix, or nothing.
std::optional<Error> apply_rlimits(const std::vector<oci::Rlimit>& limits, pid_t pid);

// The signals gantry forwards to a container.
sigset_t forwarded_signals();

} // namespace gantry::runtime::detail

template <class F>
[[noreturn]] void gantry::runtime::detail::child_guard(int err_fd, F&& body) {
    try {
        body();
    } catch (const ChildFail& f) {
        write_failure(err_fd, static_cast<int>(f.code), f.message, f.hint);
        ::_exit(static_cast<int>(f.code));
    } catch (const Error& e) {
        write_failure(err_fd, static_cast<int>(Errc::run_failed), e.message(), e.hint());
        ::_exit(125);
    } catch (const std::exception& e) {
        write_failure(err_fd, 125, e.what(), "");
        ::_exit(125);
    }
    ::_exit(125);
}
