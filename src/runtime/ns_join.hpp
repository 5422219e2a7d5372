// Joining namespaces by path as runc's nsexec joins them: a pod's user namespace first where the
// others need its capabilities (rootless pods: the sandbox container made the user namespace,
// and the PID, IPC, UTS and network namespaces it owns), and the container process of a spec
// that joins a user namespace, made by a helper that joined them (gantry itself stays in its
// own: setns into a user namespace cannot be undone).
#pragma once

#include "oci/runtime_spec.hpp"
#include "util/fd.hpp"

#include <string>
#include <vector>

namespace gantry::runtime::detail {

// A namespace to join: its file, opened before any is joined (after the user or mount
// namespace is joined the path may be out of reach), its CLONE_NEW* type and its name.
struct NsToJoin {
    Fd fd;
    int type = 0;
    std::string what; // "the user namespace /proc/42/ns/user"
};

// Joins NS as runc's nsexec does: each namespace but the user one that can be joined now (an
// EPERM waits for the second round), then the user namespace (and root in it), then the rest,
// which its capabilities now allow (a root caller joining a pod's user namespace and a network
// namespace the host's user namespace owns needs the first round, a rootless one the last).
// Fails (ChildFail, for a forked child's report) naming the first namespace that could not be
// joined.
void join_in_order(std::vector<NsToJoin>& ns);

// Whether SPEC joins a user namespace by path (linux.namespaces: {"type": "user", "path": P}).
bool joins_user_namespace(const oci::RuntimeSpec& spec);

// Whether the container process of SPEC is made by fork_joining_namespaces: it joins a user
// namespace, or makes one and joins other namespaces by path (which must be joined before the
// new user namespace exists: it has no capabilities over namespaces made before it, such as
// the network namespace containerd made for a pod in a user namespace, as root).
bool joins_through_helper(const oci::RuntimeSpec& spec);

// The mappings in /proc/self/uid_map or gid_map (FILE: "uid_map"): the current user
// namespace's, with the ids outside it as its parent sees them.
std::vector<oci::IdMapping> own_id_map(const char* file);

// linux.uidMappings and gidMappings with a user namespace path: none, or exactly the joined
// namespace's (runc 1.2: containerd and CRI-O write both for a pod in a user namespace); other
// mappings fail naming both. Called in the joined namespace.
void check_mappings_of_joined_namespace(const oci::RuntimeSpec& spec);

// The container process when joins_through_helper: a helper forked from gantry joins the
// spec's namespaces by path (join_in_order, the PID namespace's for the children), checks the
// mappings of a joined user namespace, and clones the container process into the spec's new
// namespaces (a new user namespace among them: gantry writes its maps, as on the plain path)
// with CLONE_PARENT (gantry's child, as runc's last stage is runc's), then exits. Returns 0 in
// the container process, its pid in gantry, or -1 in gantry when the helper failed: its report
// is on ERR_FD's pipe.
long fork_joining_namespaces(const oci::RuntimeSpec& spec, int err_fd);

} // namespace gantry::runtime::detail
