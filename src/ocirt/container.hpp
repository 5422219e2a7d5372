// One OCI container's record under the runtime's --root: ROOT/ID/state.json (replaced
// atomically), the gate FIFO ROOT/ID/exec.fifo while it is created and not started, and
// ROOT/ID/mnt, the empty directory the launcher mounts its private tmpfs on. The status is not
// stored but observed: the process gone is "stopped", the FIFO present "created", else
// "running" (as runc decides it), "paused" while its cgroup is frozen.
#pragma once

#include "oci/runtime_spec.hpp"
#include "ocirt/ocirt.hpp"
#include "records/state.hpp"
#include "runtime/container_cgroup.hpp"
#include "seccomp/seccomp.hpp"

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace gantry::ocirt {

// The container's record: the one type `gantry run` and `gantry oci` share (records/state.hpp).
// gantry oci sets id, bundle, rootfs, created, pid, pid_start, config and spec (config read),
// cgroup, container_dir (ROOT/ID), and monitor with monitor_started for a lazy root.
using Container = records::ContainerState;

std::filesystem::path record_dir(const Container& c); // ROOT/ID
std::filesystem::path fifo(const Container& c);       // ROOT/ID/exec.fifo
bool alive(const Container& c);
std::string status(const Container& c); // "created", "running", "paused" or "stopped"
std::optional<runtime::ContainerCgroup> cgroups(const Container& c);
nlohmann::json state_json(const Container& c); // runc's `state`

// ROOT (g.root or the default), made private when missing.
std::filesystem::path root_dir(const Global& g);
// runc's rule for an id: letters, digits, '_', '+', '-', '.', not "." or "..".
void check_id(const std::string& id);
// Claims ID under ROOT: Error(conflict) "container with id exists: ID".
std::filesystem::path claim(const Global& g, const std::string& id);
void save(const Container& c);
// Error(not_found) "container does not exist" (runc's words, which podman and containerd match).
Container load(const Global& g, const std::string& id);
std::optional<Container> find(const Global& g, const std::string& id);

// The filter CONFIG's linux.seccomp asks for, compiled: nullopt when it has none (runc loads
// none then; gantry's own profile is for `gantry run`). create and exec load the same one.
// Throws Error(invalid/unsupported) for a profile that is malformed or that gantry cannot honour.
std::optional<seccomp::SeccompFilter> seccomp_filter(const nlohmann::json& config);

// Writes "PID" to PATH through a temporary file and a rename.
void write_pid_file(const std::string& path, pid_t pid);

// Whether C made a PID namespace of its own (a "pid" entry without a path): its first process
// is PID 1 there and the kernel kills the rest with it. Without one (the host's, or a pod's
// joined by path) its other processes outlive it: delete kills them, as runc's destroy does.
bool owns_pid_namespace(const Container& c);
// ocirt.hpp's processes() of a loaded container (query.cpp).
std::vector<int> processes(const Container& c);
// Passes the terminal's master to the unix socket at PATH (SCM_RIGHTS), as runc does.
void send_console(const std::string& path, int master);

} // namespace gantry::ocirt
