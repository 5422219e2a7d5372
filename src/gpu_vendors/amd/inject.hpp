// AMD GPU injection as edits of the one OCI runtime spec (what `amd-ctk cdi generate` puts in a
// device's edits, plus what a rootless engine must add; reference rocm.md §1, §7): /dev/kfd and
// each selected GPU's render and card nodes as spec devices, which gantry's launcher bind-mounts
// from the dev root (rootless cannot mknod) and runc/crun create from type/major/minor when they
// run a bundle; ROCR_VISIBLE_DEVICES set to the selected GPUs' UUIDs; the groups that let the
// container's process open the nodes whenever the caller can. Nothing from the host's user space:
// ROCm lives in the image. The access check runs before any namespace exists.
#pragma once

#include "gpu_vendors/amd/topology.hpp"
#include "gpu_vendors/backend.hpp"
#include "gpu_vendors/device_nodes.hpp"
#include "oci/runtime_spec.hpp"

#include <string>
#include <vector>

namespace gantry::gpu_vendors::amd {

// crun's annotation (podman's --group-add keep-groups): the process keeps the supplementary
// groups it was started with instead of calling setgroups(2). gantry's launcher honours it too.
using gpu_vendors::kKeepGroupsAnnotation; // gpu_vendors/device_nodes.hpp

// Error(run_failed) unless the caller can open NODE read-write (WHAT names it in the message:
// "the ROCm compute node", "GPU 0's render node"); the message names the node, its group and gid,
// and the fix.
void check_access(const gpu_host::DeviceNode& node, const std::string& what,
                  const CallerIds& caller);

// Adds the injection of GPUS (a subset of HOST's) to SPEC. Throws Error(run_failed) when a node
// is missing or the caller cannot open /dev/kfd or a selected render node.
void inject(oci::RuntimeSpec& spec, const gpu_vendors::amd::Host& host,
            const std::vector<const gpu_vendors::amd::Gpu*>& gpus, const CallerIds& caller);

} // namespace gantry::gpu_vendors::amd
