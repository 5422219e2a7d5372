// The container's mounts, made by its child inside the new mount namespace: the namespace's
// propagation set (linux.rootfsPropagation as runc sets it; everything private for gantry run),
// the container's private tmpfs on the mount point (its /etc/hostname and, for an
// in-memory writable layer, the overlay's upper and work dirs), the root (an overlay of the
// layer trees, or a bound directory) on MOUNT_POINT/root, the spec's mounts with every target
// resolved in-root and created fd-relative (in_root.hpp), masked and read-only paths, and
// pivot_root into the root. Failures throw ChildFail; an overlay the kernel refuses throws
// OverlayUnavailable, so that the caller can retry with a flattened root.
#pragma once

#include "oci/runtime_spec.hpp"
#include "runtime/in_root.hpp"

namespace gantry::runtime {
struct Launch;
}

namespace gantry::runtime::detail {

// Whether the forked container process starts in Launch::mount_point: gantry enters it just
// before the clone (launcher.cpp), and clone(CLONE_NEWNS) carries the working directory over to
// the same directory in the new mount namespace, as it does the root. A user namespace whose
// root is a host id other than 0 (rootful `podman --userns=auto`, Kubernetes hostUsers: false)
// cannot search gantry's 0700 state directories, and a descriptor opened before the clone names
// the mount in gantry's namespace, where nothing can be mounted from the new one: a process that
// may not search the mount point's path (EACCES) then attaches its tmpfs on its working
// directory (no path looked up, no permission checked) and names it by /proc/self/fd/N from then
// on (scratch_path). Set only for a forked process (never the shared-memory clone).
void set_scratch_at_cwd(bool at_cwd);
// The container's tmpfs as the container process names it: Launch::mount_point, or its
// /proc/self/fd path once attached on the working directory (set_scratch_at_cwd).
std::string scratch_path(const Launch& l);

// Reads the cgroup v1 view a `cgroup` mount of S shows (ContainerCgroup::v1_view: this
// process's cgroups) while /proc/self/cgroup still names them by the host's paths, before the
// container's cgroup namespace is made; mount_in_root mounts it later. Kept for the process
// (a shared-memory child's is gantry's memory: a retry of the same container reads the same).
void prepare_cgroup_view(const oci::RuntimeSpec& s);

// Sets the mount namespace's propagation (spec.rootfs_propagation: runc's prepareRoot; "" makes
// it all private), makes the mount under l.mount_point private when it is shared (runc's
// rootfsParentMountPrivate: nothing mounted here reaches the host's peers), mounts the
// container's private tmpfs on l.mount_point (its descriptor passed over FD_SOCK when >= 0) and
// the root on l.root_path(), private if it came out shared (pivot_root refuses a shared root).
// A mount's propagation options (mounts[].options "rshared", ...) are set by mount_in_root
// once it is made, as runc's mountPropagate sets them.
void mount_root(const Launch& l, int fd_sock);

// Mounts M (a bind, or a filesystem of M's type) inside the root ROOTFD, its target resolved
// in-root; LAST is ensure_target's cache of the directory it last created a target in.
// PREPARED: a detached tree of the mount made beforehand (an idmapped bind), attached in place
// of a bind of M's source; -1 for none.
void mount_in_root(int rootfd, const oci::Mount& m, TargetDir& last, int prepared = -1);

// The spec's maskedPaths (an empty read-only tmpfs on a directory, /dev/null on a file) and
// readonlyPaths (bound read-only onto themselves), each resolved in-root; missing ones skipped.
void mask_paths(int rootfd, const oci::RuntimeSpec& s);

// pivot_root into scratch_path(l) + "/root", the old root made rslave (unless all is private)
// and detached, as runc's pivotRoot; "/" read-only for spec.root_readonly.
void enter_root(const Launch& l);

} // namespace gantry::runtime::detail
