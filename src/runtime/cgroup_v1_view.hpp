// The `cgroup` mount of a cgroup v1 (or hybrid) host, as runc 1.1 makes it: the container's own
// cgroup directory of each hierarchy, read while the process still sees the host's paths
// (prepare_cgroup_view, mounts.hpp) and mounted under a tmpfs on the mount's target.
#pragma once

#include "runtime/container_cgroup.hpp"

#include <string>
#include <vector>

namespace gantry::runtime::detail {

// This process's cgroup v1 view, read once (empty on a cgroup v2 host).
const std::vector<ContainerCgroup::ViewBind>& cgroup_v1_view();

// The flags of the `cgroup` mount: MS_* for a fresh mount of a hierarchy, MOUNT_ATTR_* for a
// bind of the host's directory, and whether it is read-only.
struct CgroupViewFlags {
    unsigned long ms_flags = 0;
    unsigned long attr = 0;
    bool readonly = false;
};

// runc 1.1's `cgroup` mount on a cgroup v1 host (mountCgroupV1): a tmpfs (mode 755, nosuid,
// nodev, noexec) on TARGET (named DEST in errors), in it the container's own cgroup directory of
// each hierarchy of VIEW bound with the mount's flags (mounted afresh when the container has a
// cgroup namespace of its own), and a link per controller of a combined hierarchy (cpu ->
// cpu,cpuacct). The tmpfs stays writable (as runc 1.1 leaves it), the binds are read-only when
// the mount is. Failures throw ChildFail.
void mount_cgroup_v1_view(int target, const std::vector<ContainerCgroup::ViewBind>& view,
                          const CgroupViewFlags& f, const std::string& dest);

} // namespace gantry::runtime::detail
