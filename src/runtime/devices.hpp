// The spec's device nodes (linux.devices) in a container's root, made as runc makes them: as
// the host's root with no user namespace, each node is created (mknod) with the spec's type,
// major:minor, fileMode, uid and gid; otherwise (rootless, or any user namespace, where mknod
// is refused) the host's node of the same path (gantry's own specs: host_path) is bind-mounted
// on an empty file. Runs in the container's child: failures throw ChildFail.
#pragma once

#include "oci/runtime_spec.hpp"
#include "runtime/in_root.hpp"

namespace gantry::runtime::detail {

// Whether this container's devices are created with mknod (true) or bound from the host.
bool devices_by_mknod(const oci::RuntimeSpec& spec);

// Makes each of SPEC's devices inside the root ROOTFD (LAST: mount_in_root's cache).
void make_devices(int rootfd, const oci::RuntimeSpec& spec, TargetDir& last);

} // namespace gantry::runtime::detail
