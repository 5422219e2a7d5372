// The launcher: executes an OCI runtime spec rootless (or as root, through the same code).
//
// clone(user, mount, pid, ipc, uts[, net]) -> parent writes the id maps -> child: private mount
// propagation, rootfs (overlay of the layer trees, or a directory), spec mounts with every target
// resolved in-root and created fd-relative, masked/read-only paths, pivot_root, hostname, cwd
// (verified inside the root), user, capabilities, no_new_privs, seccomp, fds > 2 closed, exec.
// The parent forwards signals and returns the workload's exit status (128+N for signal N).
#pragma once

#include "oci/runtime_spec.hpp"

#include <functional>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace gantry::runtime {

struct Overlay {
    std::string layers_dir;         // lower dirs are relative to it (keeps mount options short)
    std::vector<std::string> lower; // top layer first
    std::string upper, work;        // empty upper: read-only root
};

struct Launch {
    oci::RuntimeSpec spec;
    std::string rootfs;             // absolute directory that becomes "/"
    std::optional<Overlay> overlay; // mounted on rootfs inside the new namespaces
    std::string hostname_file;      // host file bind-mounted at /etc/hostname ("" = none)
    std::string id;                 // container id (for hooks' state)
    std::string bundle;             // directory holding config.json (for hooks' state)
    bool init = false;              // a tiny PID 1 that reaps zombies and forwards signals
    // Called with the host pid of the container's first process: after the id maps are written
    // (the cgroup can be joined here), and once the workload was exec'ed.
    std::function<void(pid_t)> on_created, on_started;
};

// Runs the container to completion. Errors before the workload starts throw Error with code
// run_failed (125), cannot_invoke (126) or cmd_not_found (127); overlay_unavailable() tells
// the caller to retry with a flattened root.
int run(const Launch& launch);

class OverlayUnavailable : public std::exception {
  public:
    explicit OverlayUnavailable(std::string why) : why_(std::move(why)) {}
    const char* what() const noexcept override { return why_.c_str(); }

  private:
    std::string why_;
};

} // namespace gantry::runtime
