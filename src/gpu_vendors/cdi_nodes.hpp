// gpu_vendors/cdi_nodes: what AMD's and Intel's `gantry cdi generate` share: a host device node as
// a CDI deviceNode (type c, the live major and minor, the permission bits as fileMode,
// permissions "rwm", the host node's uid and gid; hostPath only when the host node lies elsewhere,
// as under a simulated --dev-root), and --device-name-strategy read (index, uuid; index when
// none is given).
#pragma once

#include "cdi/spec_model.hpp"
#include "gpu_host/device_node.hpp"

#include <string>
#include <vector>

namespace gantry::gpu_vendors {

cdi::DeviceNode cdi_node(const gpu_host::DeviceNode& n);

struct CdiNaming {
    bool index = false, uuid = false;
};
// Error(usage) for a strategy other than index and uuid.
CdiNaming parse_naming(const std::vector<std::string>& strategies);

} // namespace gantry::gpu_vendors
