// Intel GPU injection as edits of the one OCI runtime spec: each selected GPU's card and render
// nodes as spec devices (bind-mounted by gantry's launcher, created from type/major/minor by
// runc/crun), its /dev/dri/by-path links (what Intel's device plugin mounts), the render group
// the nodes carry, and the host's compute user space (userspace.hpp) bind-mounted read-only at
// its own paths with its SONAME links, the OpenCL ICD file, and the container's linker cache
// rebuilt with those directories first. Reference: docs/reference/intel-gpu.md §2, §5.
#pragma once

#include "gpu_vendors/backend.hpp"
#include "gpu_vendors/intel/topology.hpp"
#include "gpu_vendors/intel/userspace.hpp"
#include "oci/runtime_spec.hpp"

#include <string>
#include <vector>

namespace gantry::gpu_vendors::intel {

// Error(run_failed) unless the caller can open NODE read-write; the message names the node, its
// group and the fix.
void check_access(const gpu_host::DeviceNode& node, const std::string& what,
                  const CallerIds& caller);

// Adds the injection of GPUS (a subset of HOST's) and USER to SPEC.
void inject(oci::RuntimeSpec& spec, const std::vector<const Gpu*>& gpus, const UserSpace& user,
            const CallerIds& caller);

} // namespace gantry::gpu_vendors::intel
