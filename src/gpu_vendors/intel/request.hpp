// Which Intel GPUs a container asks for: docker's --gpus flag (gpu_host/gpus_flag.hpp's grammar,
// shared by every vendor) with Intel's device names: an index "1" (PCI address order, as `gantry
// cdi generate --gpu-vendor intel` numbers its devices), the DRM card name "card1" (the name
// Intel's device plugin gives its CDI devices) or the PCI address "0000:3a:00.0". Intel's container
// tooling has no variable that selects devices from the image (the device plugin passes device
// nodes; docs/reference/intel-gpu.md §3): only --gpus (or --device intel.com/gpu=...) asks for
// Intel GPUs, and the device nodes alone decide what Level Zero and OpenCL enumerate in the
// container. capabilities= is accepted and narrows nothing (every Intel GPU gets its nodes and the
// compute user space). Strings in, devices out; nothing is read.
#pragma once

#include "gpu_vendors/intel/topology.hpp"

#include <optional>
#include <string>
#include <vector>

namespace gantry::gpu_vendors::intel {

struct GpuRequest {
    bool inject = false;
    bool all = false;
    std::vector<std::string> devices; // as given (--gpus N: "0".."N-1")
};

// Throws Error(usage) for a malformed --gpus, or a capability Intel's GPUs do not have.
GpuRequest parse_request(const std::optional<std::string>& gpus);

struct Selection {
    std::vector<const Gpu*> gpus; // in the order asked for (host order for all), no repeats
};

// Resolves REQ against HOST. Error(not_found) names an unknown device and lists the host's GPUs.
Selection select(const Host& host, const GpuRequest& req);

} // namespace gantry::gpu_vendors::intel
