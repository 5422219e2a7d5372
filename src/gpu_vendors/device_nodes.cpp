#include "gpu_vendors/device_nodes.hpp"

namespace gantry::gpu_vendors {

void add_device_node(oci::RuntimeSpec& spec, const gpu_host::DeviceNode& n, bool with_owner) {
    for (const auto& d : spec.devices)
        if (d.path == n.path) return;
    oci::DeviceNode d;
    d.path = n.path;
    d.host_path = n.host_path;
    d.type = n.type;
    d.major = n.major;
    d.minor = n.minor;
    d.file_mode = n.mode & 07777;
    if (with_owner) {
        d.uid = n.uid;
        d.gid = n.gid;
    }
    spec.devices.push_back(d);
}

} // namespace gantry::gpu_vendors
