// Running the OCI hooks of a spec (prestart, createRuntime, createContainer, startContainer,
// poststart, poststop), as crun and runc do: the container's state on the hook's stdin, exactly
// its declared env, its absolute path, no other descriptors, a timeout; cwd "/" (gantry run's
// CDI hooks), or where runc runs them (gantry oci: Launch::hook_dir).
#pragma once

#include "oci/runtime_spec.hpp"

#include <string>
#include <sys/types.h>
#include <vector>

namespace gantry::runtime {
struct Launch;
}

namespace gantry::runtime::detail {

// Runs an OCI hook: exactly its declared env (nothing inherited), its absolute path, no fds but
// the state on stdin and stdout/stderr, killed after its timeout (default 30 s), in the working
// directory CWD ("": the caller's; one it cannot enter fails the hook, named).
// Throws Error(run_failed) naming the hook when it fails or times out.
// restrict_caps: run it with no more than the workload's privileges (capability bounding set
// and no_new_privs), for hooks executed from inside the container (startContainer).
void run_hook(const std::string& stage, const oci::Hook& hook, const std::string& state_json,
              const std::vector<std::string>* restrict_caps = nullptr,
              const std::string& cwd = "/");

// Where the hooks of STAGE run for LAUNCH: "/" for gantry run's (DESIGN: CDI hooks), else
// runc's: the bundle (prestart, createRuntime, poststart, poststop), the bundle's root as the
// host names it (createContainer), process.cwd in the container (startContainer).
std::string hook_cwd(const Launch& launch, const std::string& stage);

// Whether SPEC has prestart or createRuntime hooks: gantry runs those in its own namespaces
// while the container process, its root mounted, waits (run_runtime_hooks), as runc does.
bool has_runtime_hooks(const oci::RuntimeSpec& spec);

// Gantry's side of that turn, over SOCK (the socket the container process passes descriptors
// on): waits for the process to ask (EOF: it failed, and its report follows on the error
// pipe), runs the prestart then the createRuntime hooks with status "creating" and PID (the
// host's), and lets it go on. A failing hook throws; the caller kills the process.
void run_runtime_hooks(const Launch& launch, pid_t pid, int sock);

// The OCI state of the container LAUNCH starts, as its hooks read it: PID as seen from the
// host, STATUS "creating", "created", "running" or "stopped".
std::string hook_state(const Launch& launch, pid_t pid, const char* status);

} // namespace gantry::runtime::detail
