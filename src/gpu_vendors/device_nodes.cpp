#include "gpu_vendors/device_nodes.hpp"

#include "util/error.hpp"
#include "util/identity.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <unistd.h>

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

void check_node_access(const gpu_host::DeviceNode& node, const std::string& what,
                       const CallerIds& caller, const char* missing_hint, const char* more_fix) {
    if (!node.present)
        throw Error(Errc::run_failed, what + " has no device node " + node.host_path, missing_hint);
    if (::access(node.host_path.c_str(), R_OK | W_OK) == 0) return;
    int err = errno;
    std::string name = group_name(node.gid);
    std::string group =
        (name.empty() ? "" : "group " + name + ", ") + "gid " + std::to_string(node.gid);
    std::string fix = name.empty()
                          ? "have the administrator add you to gid " + std::to_string(node.gid)
                          : "add yourself to the " + name + " group (sudo usermod -aG " + name +
                                " $USER, then log in again)";
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", node.mode & 07777);
    std::string at = node.host_path == node.path ? "" : " (on the host " + node.host_path + ")";
    throw Error(Errc::run_failed,
                what + " " + node.path + at + " is mode " + mode + ", " + group + ": you (uid " +
                    std::to_string(caller.uid) +
                    ") cannot open it read-write: " + std::strerror(err),
                fix + more_fix);
}

void add_node_groups(oci::RuntimeSpec& spec, const std::vector<const gpu_host::DeviceNode*>& nodes,
                     const CallerIds& caller) {
    if (caller.real_root) {
        for (auto* n : nodes)
            if (n->gid != 0 && std::find(spec.additional_gids.begin(), spec.additional_gids.end(),
                                         n->gid) == spec.additional_gids.end())
                spec.additional_gids.push_back(n->gid);
    } else if (caller.subid_maps) {
        spec.annotations[kKeepGroupsAnnotation] = "1";
    }
}

} // namespace gantry::gpu_vendors
