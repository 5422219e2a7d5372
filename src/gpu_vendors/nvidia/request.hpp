// gpu_vendors/nvidia/request: which GPUs and driver capabilities a container asks for: docker's
// --gpus flag (its grammar is gpu_host/gpus_flag.hpp's) and the NVIDIA_VISIBLE_DEVICES /
// NVIDIA_DRIVER_CAPABILITIES / NVIDIA_REQUIRE_* / NVIDIA_DISABLE_REQUIRE environment contract of
// the NVIDIA container toolkit (reference nvidia-driver.md §3).
#pragma once

#include "gpu_host/gpus_flag.hpp"
#include "gpu_vendors/nvidia/host.hpp"

#include <optional>
#include <string>
#include <vector>

namespace gantry::gpu_vendors::nvidia {

struct GpuRequest {
    bool inject = false;              // a GPU container at all (false: "void", or not a GPU image)
    bool all = false;                 // every GPU and MIG device
    std::vector<std::string> devices; // indices, GPU-uuids, "i:j", MIG-uuids, PCI bus ids
    Capabilities caps;                // driver capabilities
    std::vector<std::pair<std::string, std::string>> requirements; // (variable, value)
    bool disable_require = false;
    std::string source; // "--gpus" or "NVIDIA_VISIBLE_DEVICES", for messages
};

// env: the container's final environment (image Env, then --env-file, then -e).
// gpus: the --gpus value if given (it overrides NVIDIA_VISIBLE_DEVICES, as with docker).
// Throws Error(usage) for malformed values, naming the variable or flag.
GpuRequest parse_request(const std::vector<std::string>& env,
                         const std::optional<std::string>& gpus);

struct Selection {
    std::vector<const Device*> gpus; // whole GPUs (and parents of selected MIG devices)
    std::vector<const MigDevice*> migs;
    bool whole_gpu_requested = false; // a whole GPU was asked for (vs only MIG devices)
};

// Resolves the request against the host; Error(not_found) names an unknown device and lists
// what the host has.
Selection select(const Host& host, const GpuRequest& req);

// WSL2's selection: every GPU whatever the request names, as the driver cannot give a container
// some GPUs and not others there (one /dev/dxg) and has no MIG. *WHY says so when the request
// named particular devices (nothing when it asked for all, or none).
Selection select_wsl(const Host& host, const GpuRequest& req, std::string* why);

// Go's strconv.ParseBool.
std::optional<bool> parse_bool(const std::string& s);

} // namespace gantry::gpu_vendors::nvidia
