// The launcher: executes an OCI runtime spec rootless (or as root, through the same code).
//
// clone(user, mount, pid, ipc, uts[, net]) -> parent writes the id maps -> child: private mount
// propagation, a private tmpfs on the mount point (the container's /etc/hostname and, for an
// in-memory writable layer, the overlay's upper and work dirs), rootfs (overlay of the layer
// trees, or a directory) on MOUNT_POINT/root, spec mounts with every target
// resolved in-root and created fd-relative, masked/read-only paths, pivot_root, hostname, cwd
// (verified inside the root), user, capabilities, no_new_privs, seccomp, fds > 2 closed, exec.
// The parent forwards signals and returns the workload's exit status (128+N for signal N).
//
// This header is the launcher's interface; its parts live beside it: the clone (clone.hpp),
// the early start (early_start.cpp), the container process's recipe (child.hpp), its mounts
// (mounts.hpp, in_root.hpp), its last steps (process.hpp), and the parent's supervision
// (supervisor.hpp); launcher.cpp's run() ties them together.
#pragma once

#include "oci/runtime_spec.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"

#include <cstdint>
#include <functional>
#include <linux/filter.h>
#include <memory>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace gantry::runtime {

struct Overlay {
    std::string layers_dir;         // lower dirs are relative to it (keeps mount options short)
    std::vector<std::string> lower; // top layer first
    std::string upper, work;        // a writable layer on disk (both empty: none, or memory)
    bool memory = false;            // the writable layer in the container's private tmpfs
    std::uint64_t memory_size = 0;  // its size limit in bytes (0: the kernel's, half the RAM)
    bool persistent = false;        // the upper layer outlives the container: no "volatile"
};

struct Launch;
int run(const Launch& launch);

// The early start of a rootless container: its process and namespaces are created while the
// caller still parses the command line, reads the image and builds the spec, on another CPU.
//
// Creating the user, mount, PID, IPC and UTS namespaces is ~0.2 ms of kernel time inside
// clone(), and the process then maps its own ids; on the plain path all of it waits for the
// spec. begin() instead clones a helper that shares our memory (CLONE_VM, raw system calls
// only), moves it to another CPU we may use, and returns: the helper makes the container
// process with the namespaces (CLONE_PARENT: it is our child, as on the plain path), which
// maps its ids and sleeps until the handover. The helper then stays as the keeper of the
// container's mount namespace (keeper.hpp), so gantry starts none after the exec. run() hands
// the process the Launch and sleeps, as after vfork, until it exec'ed the workload or exited.
// Until the handover neither touches memory or libc state we use. Only for the shared-memory path
// (rootless, single-id map, no --init, no cgroup, not detached); run() cancels it when the spec
// wants anything else.
class EarlyStart {
  public:
    // For a container with these namespaces ("user", "mount", ... as in the spec), mapping
    // uid/gid to 0 in its user namespace. nullptr when it cannot be started early (we may use
    // one CPU only, an architecture without raw_clone, no memory): the plain path then.
    static std::unique_ptr<EarlyStart> begin(const std::vector<std::string>& namespaces, uid_t uid,
                                             gid_t gid);
    // Not handed over: the process and the helper are killed and reaped. Handed over: a helper
    // that keeps the mount namespace lives on until our exit.
    ~EarlyStart();
    EarlyStart(const EarlyStart&) = delete;
    EarlyStart& operator=(const EarlyStart&) = delete;
    // Whether run() took it over (rather than cancelling it).
    bool used() const;

    struct State;

  private:
    explicit EarlyStart(std::unique_ptr<State> st);
    std::unique_ptr<State> st_;
    friend int run(const Launch&);
};

struct Launch {
    oci::RuntimeSpec spec;
    // seccomp_program(spec.capabilities) when spec.seccomp: empty for the default profile
    std::vector<sock_filter> seccomp;
    unsigned seccomp_flags = 0; // seccomp(2)'s flags: a bundle's linux.seccomp.flags (gantry oci)
    // An empty directory: the container's private tmpfs is mounted there, inside its mount
    // namespace only, and the root on MOUNT_POINT/root (root_path()).
    std::string mount_point;
    std::string rootfs;             // without an overlay: the directory that becomes "/"
    std::optional<Overlay> overlay; // the root, stacked inside the new namespaces
    std::string hostname;           // the content of /etc/hostname ("" = none)
    std::string id;                 // container id (for hooks' state)
    std::string bundle;             // directory holding config.json (for hooks' state)
    // The hooks' working directory (gantry oci: the bundle, where runc runs them); "" = "/"
    // (gantry run's CDI hooks). hook_runner.hpp's hook_cwd has each stage's.
    std::string hook_dir;
    bool init = false; // a tiny PID 1 that reaps zombies and forwards signals
    // With init: Apptainer's instance init (appinit, internal/pkg/runtime/engine/apptainer/
    // process_linux.go): the workload runs in a process group of its own, a signal is forwarded
    // to that group, and PID 1 outlives the workload (a startscript that forks a daemon and
    // returns): it ends when a forwarded signal finds no process of the group, or once no
    // process is left after one, with 128 + the signal.
    bool hold = false;
    bool sig_proxy = true; // pass the signals gantry receives on (run --sig-proxy)
    // Called with the host pid of the container's first process: after the id maps are written
    // (the cgroup can be joined here), and once the workload was exec'ed.
    std::function<void(pid_t)> on_created, on_started;
    // Called, before on_started, with a descriptor of the container's private tmpfs (an
    // in-memory writable layer is its upper/): it outlives the container, so what the run
    // wrote can be measured after it exited. The tmpfs is freed when the descriptor is closed.
    std::function<void(Fd)> on_scratch;
    // A root served over FUSE by this process (a squashfs image, fuse/server.hpp): the
    // container's process opens /dev/fuse inside its user namespace, mounts it (type
    // "fuse.gantry", data fuse_options(fd)) on MOUNT_POINT/lower, passes the descriptor here
    // and mounts the root on that (the overlay's lower dir is then "lower" in mount_point).
    // fuse_serve gets the descriptor and must answer it from now on: the child's next mount
    // waits on it. Both set or neither; never on the shared-memory path (we must not sleep).
    std::function<void(Fd)> fuse_serve;
    std::function<std::string(int)> fuse_options;
    // Or a detached mount (fsmount, open_tree) of the root's lower dir, which the container's
    // process attaches on MOUNT_POINT/lower with move_mount (a squashfs image mounted by the
    // kernel for root, sqsh/kernel_mount.hpp); -1 for none. Never on the shared-memory path
    // nor an early start (their processes were made before the descriptor).
    int lower_tree = -1;
    // Per spec.mounts index: a detached tree made for the mount beforehand (an idmapped bind,
    // runtime/idmapped_mount.hpp), which the container's process attaches instead of binding
    // the source; -1 (or past the end) for none. Open in this process until run() returns.
    std::vector<int> mount_trees;
    // Started for this launch by EarlyStart::begin (or null). run() takes it over when the spec
    // takes the shared-memory path with the same namespaces, and cancels it otherwise.
    EarlyStart* early = nullptr;
    // `gantry oci create`: a descriptor (a FIFO opened read-write) the container process reads
    // one byte from once its root is ready, before the startContainer hooks and the exec of the
    // workload: `gantry oci start` writes it. From there the process no longer dies with
    // gantry and reports its failures on its own stderr. -1: no gate (gantry run).
    int start_gate = -1;

    std::string root_path() const { return mount_point + "/root"; }
};

// Whether this kernel's tmpfs stores user.* xattrs (Linux 6.6), which a rootless overlay
// (userxattr) needs on its upper dir for an in-memory writable layer.
bool tmpfs_has_user_xattrs();

// Runs the container to completion. Errors before the workload starts throw Error with code
// run_failed (125), cannot_invoke (126) or cmd_not_found (127); overlay_unavailable() tells
// the caller to retry with a flattened root.
int run(const Launch& launch);

// A background start (`run -d`): the process that supervises the container reports to the one
// that started it, over a pipe, once: "ok" when the workload runs (FAILURE null), or the
// error that stopped it, in the form a container child reports its own.
void report_start(int fd, const Error* failure);
// Reads that report from FD: returns on "ok"; throws the reported Error, or Error(run_failed)
// when the reporter ended without one.
void await_start(int fd);

// `gantry oci create`: starts the container process (with LAUNCH.start_gate set) and returns its
// host pid once it waits at the gate, its namespaces and root made; nothing supervises it after
// our exit (its reaper is our subreaper, or init). A failure before the gate kills it and throws
// as run() does. MASTER_OUT receives the terminal's master when spec.terminal.
pid_t create(const Launch& launch, Fd* master_out);

// The spec's hooks of STAGE ("poststart", "poststop", ...) with STATE_JSON on their stdin. A
// failure throws Error(run_failed), or when WARN_ONLY is printed as a warning (OCI: poststart
// and poststop failures do not stop the container). They run in CWD ("": the caller's).
void run_hooks(const oci::RuntimeSpec& spec, const char* stage, const std::string& state_json,
               bool warn_only, const std::string& cwd);

class OverlayUnavailable : public std::exception {
  public:
    explicit OverlayUnavailable(std::string why) : why_(std::move(why)) {}
    const char* what() const noexcept override { return why_.c_str(); }

  private:
    std::string why_;
};

} // namespace gantry::runtime
