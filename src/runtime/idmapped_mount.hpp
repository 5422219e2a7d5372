// Idmapped bind mounts (runtime-spec's mounts[].uidMappings and gidMappings, and its idmap and
// ridmap options, as runc 1.2 reads them: oci::mount_idmap): a detached copy of the mount's source
// whose ids are shown through the mount's maps (mount_setattr(2) MOUNT_ATTR_IDMAP with a user
// namespace that holds them). Made by the runtime in the host's namespaces before the container's
// process exists (the kernel wants CAP_SYS_ADMIN over the source's filesystem, which a container's
// user namespace never has); the container's process attaches it at the destination
// (mount_in_root's PREPARED tree).
#pragma once

#include "oci/runtime_spec.hpp"
#include "util/fd.hpp"

#include <string>

namespace gantry::runtime {

// The detached tree of M (a bind: "rbind" copies the mounts below its source too), idmapped as
// oci::mount_idmap(M) says: its top mount, or with "ridmap" every mount of it. Through M's own
// maps, or when it has none (runc 1.2's idmap/ridmap option alone) those of SPEC's user
// namespace: the one joined by path, else linux.uidMappings and gidMappings. WHAT names the
// mount in errors ("mounts[2]"). Error(invalid) when the kernel refuses: not root, a filesystem
// that cannot be idmapped, a map it will not take; or when there are no maps to take.
Fd idmapped_tree(const oci::Mount& m, const std::string& what, const oci::RuntimeSpec& spec);

// A bind's source opened in the runtime's namespaces (runc 1.1's mount sources, opened
// before the container's user namespace): a container whose root is another host uid then
// still binds a source under a directory only the host's root may enter (kubelet's 0750
// pod directories; crun's mount-userns-bind-mount). Not a bind, or a source the runtime
// cannot open either: none (the container's process tries, and names the error).
Fd host_bind_tree(const oci::Mount& m);

} // namespace gantry::runtime
