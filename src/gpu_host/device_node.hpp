// gpu_host/device_node: a GPU device node of the host as every vendor describes it (NVIDIA's
// /dev/nvidia*, AMD's /dev/kfd and /dev/dri/renderD*), and join_root, how a path under a
// --driver-root / --dev-root / --sys-root is formed. Vendor-neutral: no vendor's names here.
#pragma once

#include <cstdint>
#include <string>

namespace gantry::gpu_host {

struct DeviceNode {
    std::string path;      // path inside the container, e.g. /dev/nvidia0
    std::string host_path; // path on the host (under the dev root), e.g. DEVROOT/dev/nvidia0
    char type = 'c';
    std::int64_t major = 0, minor = 0; // read live from the host node (or /proc/devices)
    std::uint32_t mode = 0666;
    std::uint32_t uid = 0, gid = 0;
    bool present = false; // the host node exists
};

// root + "/" + in_root, without doubling slashes ("/" + "/dev/x" = "/dev/x").
std::string join_root(const std::string& root, const std::string& in_root);

} // namespace gantry::gpu_host
