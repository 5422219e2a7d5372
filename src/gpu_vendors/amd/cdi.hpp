// `gantry cdi generate --vendor amd`: the host's AMD GPUs as a CDI spec of kind amd.com/gpu, what
// `amd-ctk cdi generate` writes (reference rocm.md §3): one device per GPU (and per partition),
// named by index (and by UUID when asked), plus "all"; each device's edits are only device nodes,
// its card and render nodes and /dev/kfd, with their live major/minor, mode, uid and gid. No
// mounts, hooks or libraries: ROCm's user space lives in the image.
#pragma once

#include "cdi/spec_model.hpp"
#include "gpu_vendors/amd/topology.hpp"
#include "gpu_vendors/backend.hpp"

#include <string>
#include <vector>

namespace gantry::gpu_vendors::amd {

// Error(not_found) when the host has no usable AMD GPU (the message says why).
cdi::Spec generate_cdi(const gpu_vendors::amd::Host& host, const CdiOptions& options,
                       std::vector<std::string>* warnings);

} // namespace gantry::gpu_vendors::amd
