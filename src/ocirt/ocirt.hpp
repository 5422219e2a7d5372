// The OCI runtime CLI's container lifecycle (`gantry oci ...`, or gantry invoked as
// `gantry-oci`): runc's command-line contract over gantry's launcher, so podman (conmon),
// containerd's runc shim and Slurm's oci.conf can run bundles with gantry. This module owns the
// containers such a caller creates: their records under --root, the create/start split (the
// container process waits at a FIFO gate between the two, as `runc init` does), the state
// document, signals, deletion with the poststop hooks, exec into them, their process list, and
// the features document. It knows nothing of images or stores: a bundle is a config.json and
// a root directory (docs/oci-runtime.md).
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace gantry::ocirt {

// The options every command takes before its name (runc's global flags).
struct Global {
    std::string root;            // state directory; "" = default_root()
    std::string log;             // where errors and debug lines go, besides stderr ("" = none)
    std::string log_format;      // "text" (default) or "json" (runc's logrus fields)
    bool debug = false;          // debug lines to the log
    bool systemd_cgroup = false; // refused at create: cgroups are made on the cgroup filesystem
};

// /run/gantry-oci for root; $XDG_RUNTIME_DIR/gantry-oci otherwise (/tmp/gantry-oci-UID when
// that is unset).
std::string default_root();

struct CreateOptions {
    std::string id, bundle = ".", pid_file, console_socket;
    bool no_pivot = false, no_new_keyring = false;
    int preserve_fds = 0;
};
// Creates the container: its process made, namespaces and root set up, stopped before the
// user's program. Returns once it waits for start(); the pid file is written then (atomically).
void create(const Global& g, const CreateOptions& o);
// Lets a created container's process exec the user program; runs the poststart hooks.
void start(const Global& g, const std::string& id);
// create + start, then waits for the container (foreground) and returns its exit status
// (128+N for a signal); deletes it afterwards unless KEEP (runc's --keep: it stays, stopped,
// for `state` and `delete`). DETACH: returns 0 once it started.
int run(const Global& g, const CreateOptions& o, bool detach, bool keep = false);
// SIGNAL: a name ("TERM", "SIGKILL") or a number; ALL: every process of the container.
void kill(const Global& g, const std::string& id, const std::string& signal, bool all);
// Removes a stopped container (FORCE: kills a live one first), running its poststop hooks. As
// runc's destroy, every process left in its cgroup (children that outlived its first process
// when it has no PID namespace of its own) is killed first, so that nothing of it is left.
// The hooks run in HOOK_DIR: "" (the caller's, as runc's delete), the bundle for `run`.
void remove(const Global& g, const std::string& id, bool force, const std::string& hook_dir = "");
// crun's `delete --regex PATTERN`: remove() of every container under the root whose id PATTERN
// (a POSIX extended regular expression, unanchored, as crun's regexec) matches. One that cannot
// be deleted does not stop the others; returns those. Error(usage) for an invalid PATTERN.
struct DeleteFailure {
    std::string id, message, hint;
};
std::vector<DeleteFailure> remove_matching(const Global& g, const std::string& pattern, bool force);

// The OCI state document (ociVersion, id, status, pid, bundle, rootfs, created, annotations).
nlohmann::json state(const Global& g, const std::string& id);
// Every container under the root, as state documents.
nlohmann::json list(const Global& g);
// The host pids of the container's processes: those in its PID namespace when it made one;
// else (the host's PID namespace, or a pod's joined by path) those in its cgroup and, while its
// first process lives, those in its mount namespace (runc's ps: the cgroup's).
std::vector<int> processes(const Global& g, const std::string& id);
// runc's `features` document: what this runtime implements.
nlohmann::json features();

struct ExecOptions {
    std::string id, process_file, cwd, user, pid_file, console_socket;
    std::vector<std::string> args, env;
    bool tty = false, detach = false;
};
// Starts a process in a running container: from --process (a runtime-spec process object) or
// from the container's process with ARGS, --cwd, --env, --user, --tty. Returns its exit status,
// or 0 once it started with DETACH.
int exec(const Global& g, const ExecOptions& o);

// runc's update: new limits for a live container's cgroup, from RESOURCES_FILE (a JSON
// linux.resources; "-" reads stdin) or from FLAGS (runc's flag names without "--": "memory",
// "memory-swap", "memory-reservation", "pids-limit", "cpu-quota", "cpu-period", "cpu-share"
// (runc's spelling) or "cpu-shares",
// "cpu-rt-period", "cpu-rt-runtime", "cpuset-cpus", "cpuset-mems", "blkio-weight"), never both.
// The container's record keeps the merged resources.
struct UpdateOptions {
    std::string id, resources_file;
    std::map<std::string, std::string> flags;
};
void update(const Global& g, const UpdateOptions& o);
// Freezes a running or created container's cgroup and returns once the kernel says it is frozen
// (state: "paused"); resume thaws it.
void pause(const Global& g, const std::string& id);
void resume(const Global& g, const std::string& id);
// runc's `events --stats` line: {"type":"stats","id":ID,"data":{cpu, memory, pids, ...}}.
nlohmann::json stats(const Global& g, const std::string& id);
// runc's `events`: a stats line every INTERVAL (a Go duration: "5s", "100ms") and
// {"type":"oom","id":ID} at each OOM kill, on stdout, until the container's first process exits
// (then 0).
int events(const Global& g, const std::string& id, const std::string& interval);
// runc's `spec`: writes its default config.json (ROOTLESS: its rootless variant) into BUNDLE;
// Error(conflict) when one is there.
void write_default_spec(const std::string& bundle, bool rootless);

// Opens (creates) --log for appending before any command runs, as runc does: a path that
// cannot be opened is Error(invalid) naming it, so the command fails (exit 1) doing nothing.
void open_log(const Global& g);

// Writes an error line to --log in its format (runc's callers read it from there).
void log_error(const Global& g, const std::string& message);

} // namespace gantry::ocirt
