#include "gpu_host/device_node.hpp"

namespace gantry::gpu_host {

std::string join_root(const std::string& root, const std::string& in_root) {
    std::string r = root;
    while (r.size() > 1 && r.back() == '/') r.pop_back();
    if (r.empty() || r == "/") r.clear();
    if (in_root.empty() || in_root[0] != '/') return r + "/" + in_root;
    return r.empty() ? in_root : r + in_root;
}

} // namespace gantry::gpu_host
