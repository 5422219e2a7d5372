// Which AMD GPUs a container asks for: docker's --gpus flag (the grammar of gpu_host/gpus_flag.hpp,
// shared by every vendor) and AMD_VISIBLE_DEVICES, the AMD container toolkit's analogue of
// NVIDIA_VISIBLE_DEVICES (reference rocm.md §1 "Restricting to one GPU"): "all", "none", "void",
// indices "0,2", ranges "0-3", hex unique ids "0xEF2C1799A1F3E2ED" and rocminfo's UUIDs
// "GPU-ef2c1799a1f3e2ed". --gpus overrides the variable, as with docker. Then the request resolved
// against a discovered host (gpu_vendors/amd/topology.hpp). Strings in, devices out; nothing is
// read.
#pragma once

#include "gpu_vendors/amd/topology.hpp"

#include <optional>
#include <string>
#include <vector>

namespace gantry::gpu_vendors::amd {

struct GpuRequest {
    bool inject = false;              // any GPU at all ("none", "void" and "" ask for none)
    bool all = false;                 // every GPU of the host
    std::vector<std::string> devices; // normalised tokens: "3", "0x<hex>", "GPU-<hex>"
    std::string source;               // "--gpus" or "AMD_VISIBLE_DEVICES", for messages
};

// ENV: the container's final environment (image Env, --env-file, -e). GPUS: --gpus when given.
// Throws Error(usage) naming the flag or variable for a malformed value.
GpuRequest parse_request(const std::vector<std::string>& env,
                         const std::optional<std::string>& gpus);

// One comma-separated device list (AMD_VISIBLE_DEVICES's value, or --gpus device=...) as
// normalised tokens: ranges expanded, hex unique ids lower-cased with their 0x, UUIDs as
// "GPU-" + lower-case hex. SOURCE names the flag or variable in errors.
std::vector<std::string> parse_device_list(const std::string& value, const std::string& source);

struct Selection {
    std::vector<const Gpu*> gpus; // in the order asked for (host order for "all"), no repeats
};

// Resolves REQ against HOST. Error(not_found) names an unknown device and lists the host's GPUs.
Selection select(const Host& host, const GpuRequest& req);

} // namespace gantry::gpu_vendors::amd
