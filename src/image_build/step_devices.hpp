// GPUs and devices in a build's RUN steps: `gantry build --device NAME` and `--gpus VALUE` (every
// RUN step), and `RUN --device=NAME[,required]` (that step; BuildKit's labs syntax), all gated by
// `--allow device` as BuildKit gates its `device` entitlement. NAME is a CDI name
// (vendor.com/class=name, `=all`/`=*` for every device, or vendor.com/class alone for the
// first) or a host device path (/dev/fuse). A CDI kind that a gantry GPU backend owns
// (nvidia.com/gpu, amd.com/gpu, ...) goes to that backend's native injection as `--gpus` would;
// any other name to the CDI specs in /etc/cdi, /var/run/cdi and --cdi-spec-dir. Devices of
// RUN --device are optional unless `required` (BuildKit's default): one the host lacks is
// skipped with a line; a required one, and every --device/--gpus of the command line, fails
// the build before any step runs. What a step saw is part of its cache key.
#pragma once

#include "gpu_vendors/roots.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gantry::image_build {

struct DeviceUse {
    std::string name;       // a CDI name or a /dev path; the value for --gpus
    bool gpus_flag = false; // `--gpus NAME`
    bool required = false;
    std::string origin; // "--device", "--gpus", "line 4"
};

// RUN --device's value: NAME[,required][,required=true|false], NAME also as name=NAME.
// Error(usage) for anything else, naming the value.
DeviceUse parse_run_device(std::string_view value, int line);

// Checks --allow's values: `device` (every device) or `device=KIND|NAME` (those only), as
// buildx takes them; anything else is Error(usage) naming it.
void check_allow_values(const std::vector<std::string>& allow);

// Whether ALLOW lets a build use USE; Error(usage) naming it and the flag when it does not.
void check_allowed(const DeviceUse& use, const std::vector<std::string>& allow);

// Where the host's devices are described.
struct DeviceHost {
    gpu_vendors::Roots roots;          // the GPU host (--driver-root, --dev-root, ...)
    std::vector<std::string> cdi_dirs; // --cdi-spec-dir, after /etc/cdi and /var/run/cdi
};

// What one RUN step gets, as engine::RunRequest fields.
struct StepDevices {
    std::optional<std::string> gpus;       // a backend's GPUs (--gpus grammar)
    std::optional<std::string> gpu_vendor; // that backend
    std::vector<std::string> devices;      // CDI names and /dev paths (Request::devices)
    std::vector<std::string> seen;         // every device given, as resolved (the cache key)

    bool empty() const { return !gpus && devices.empty(); }
};

// Whether the host has what USE names; WHY says what is missing when it does not.
bool available(const DeviceUse& use, const DeviceHost& host, std::string& why);

// The devices of USES the host has, for one step. A missing required one is Error(not_found)
// naming it and its origin; a missing optional one is reported in SKIPPED ("nvidia.com/gpu=all
// (line 3): no NVIDIA GPU on this host") and left out. Two GPU vendors in one step are
// Error(unsupported).
StepDevices resolve_devices(const std::vector<DeviceUse>& uses, const DeviceHost& host,
                            std::vector<std::string>& skipped);

} // namespace gantry::image_build
