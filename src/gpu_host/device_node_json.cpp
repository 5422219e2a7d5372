#include "gpu_host/device_node_json.hpp"

#include <nlohmann/json.hpp>

namespace gantry::gpu_host {

using nlohmann::json;

void to_json(json& j, const DeviceNode& n) {
    j = {{"path", n.path},
         {"host_path", n.host_path},
         {"type", std::string(1, n.type)},
         {"major", n.major},
         {"minor", n.minor},
         {"mode", n.mode},
         {"uid", n.uid},
         {"gid", n.gid},
         {"present", n.present}};
}

void from_json(const json& j, DeviceNode& n) {
    n.path = j.at("path");
    n.host_path = j.at("host_path");
    n.type = j.at("type").get<std::string>().at(0);
    n.major = j.at("major");
    n.minor = j.at("minor");
    n.mode = j.at("mode");
    n.uid = j.at("uid");
    n.gid = j.at("gid");
    n.present = j.at("present");
}

} // namespace gantry::gpu_host
