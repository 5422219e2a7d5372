// `gantry cdi generate --gpu-vendor intel`: the host's Intel GPUs as a CDI spec of kind
// intel.com/gpu, the kind of Intel's GPU resource driver (CDIVendor "intel.com", class "gpu";
// Intel's device plugin writes intel.cdi.k8s.io/gpu instead; docs/reference/intel-gpu.md §3).
// One device per GPU named by index ("0", the indices `--gpus` takes) and by its DRM card name
// ("card1", the device plugin's name for it), plus "all"; with --device-name-strategy uuid also
// Intel's resource driver's UID ("0000-3a-00-0-0x0bd5": PCI address and device id). Each
// device's edits are its card and render nodes; the spec's common edits mount the host's compute
// user space read-only at its own paths, with hooks for the SONAME links and the linker cache.
#pragma once

#include "cdi/spec_model.hpp"
#include "gpu_vendors/backend.hpp"
#include "gpu_vendors/intel/topology.hpp"
#include "gpu_vendors/intel/userspace.hpp"

#include <string>
#include <vector>

namespace gantry::gpu_vendors::intel {

// Error(not_found) when the host has no Intel GPU with a render node.
cdi::Spec generate_cdi(const Host& host, const UserSpace& user, const CdiOptions& options,
                       std::vector<std::string>* warnings);

// Intel's resource driver's device UID: "0000:3a:00.0" and 0x0bd5 -> "0000-3a-00-0-0x0bd5".
std::string resource_driver_uid(const Gpu& g);

} // namespace gantry::gpu_vendors::intel
