#include "gpu_vendors/cdi_nodes.hpp"

#include "util/error.hpp"

namespace gantry::gpu_vendors {

cdi::DeviceNode cdi_node(const gpu_host::DeviceNode& n) {
    cdi::DeviceNode d;
    d.path = n.path;
    if (!n.host_path.empty() && n.host_path != n.path) d.host_path = n.host_path;
    d.type = "c";
    d.major = n.major;
    d.minor = n.minor;
    d.file_mode = n.mode & 0777;
    d.permissions = "rwm";
    d.uid = n.uid;
    d.gid = n.gid;
    return d;
}

CdiNaming parse_naming(const std::vector<std::string>& strategies) {
    CdiNaming n;
    if (strategies.empty()) n.index = true;
    for (const auto& s : strategies) {
        if (s == "index")
            n.index = true;
        else if (s == "uuid")
            n.uuid = true;
        else
            throw Error(Errc::usage, "unknown device name strategy \"" + s + "\"",
                        "use index or uuid");
    }
    return n;
}

} // namespace gantry::gpu_vendors
