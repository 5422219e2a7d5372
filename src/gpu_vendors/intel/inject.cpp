#include "gpu_vendors/intel/inject.hpp"

#include "gpu_vendors/device_nodes.hpp"
#include "util/error.hpp"
#include "util/host_ldconfig.hpp"
#include "util/identity.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <unistd.h>

namespace gantry::gpu_vendors::intel {

namespace {

// crun's annotation (podman's --group-add keep-groups), which gantry's launcher honours too
constexpr const char* kIntelKeepGroups = "run.oci.keep_original_groups";

std::string intel_octal(std::uint32_t mode) {
    char b[8];
    std::snprintf(b, sizeof b, "%04o", mode & 07777);
    return b;
}

void intel_bind(oci::RuntimeSpec& spec, const std::string& host, const std::string& dst) {
    for (auto& m : spec.mounts)
        if (m.destination == dst) return;
    spec.mounts.push_back(oci::Mount{dst, "bind", host, {"bind", "ro", "nosuid", "nodev"}});
}

} // namespace

void check_access(const gpu_host::DeviceNode& node, const std::string& what,
                  const CallerIds& caller) {
    if (!node.present)
        throw Error(Errc::run_failed, what + " has no device node " + node.host_path,
                    "load the i915 or xe kernel module, or point --dev-root at the directory "
                    "holding dev/dri");
    if (::access(node.host_path.c_str(), R_OK | W_OK) == 0) return;
    int err = errno;
    std::string name = group_name(node.gid);
    std::string group =
        (name.empty() ? "" : "group " + name + ", ") + "gid " + std::to_string(node.gid);
    std::string fix = name.empty()
                          ? "have the administrator add you to gid " + std::to_string(node.gid)
                          : "add yourself to the " + name + " group (sudo usermod -aG " + name +
                                " $USER, then log in again)";
    throw Error(Errc::run_failed,
                what + " " + node.host_path + " is mode " + intel_octal(node.mode) + ", " + group +
                    ": you (uid " + std::to_string(caller.uid) +
                    ") cannot open it read-write: " + std::strerror(err),
                fix);
}

void inject(oci::RuntimeSpec& spec, const std::vector<const Gpu*>& gpus, const UserSpace& user,
            const CallerIds& caller) {
    std::vector<const gpu_host::DeviceNode*> nodes;
    for (const Gpu* g : gpus) {
        std::string who = "Intel GPU " + std::to_string(g->index) + " (" + g->card_name + ")";
        if (!g->render_matched)
            throw Error(Errc::run_failed, who + " has no render node in sysfs",
                        "check the i915/xe driver (dmesg), or the --sys-root given");
        check_access(g->render, who + "'s render node", caller);
        nodes.push_back(&g->render);
        if (g->card.present) nodes.push_back(&g->card);
    }
    for (auto* n : nodes) add_device_node(spec, *n, true);
    for (const Gpu* g : gpus)
        for (const auto& link : g->by_path) {
            bool render = link.ends_with("-render");
            const gpu_host::DeviceNode& n = render ? g->render : g->card;
            if (!n.present) continue;
            spec.setup.symlinks.emplace_back(link, "../" + n.path.substr(n.path.rfind('/') + 1));
        }

    if (caller.real_root) {
        for (auto* n : nodes)
            if (n->gid != 0 && std::find(spec.additional_gids.begin(), spec.additional_gids.end(),
                                         n->gid) == spec.additional_gids.end())
                spec.additional_gids.push_back(n->gid);
    } else if (caller.subid_maps) {
        spec.annotations[kIntelKeepGroups] = "1"; // the host's render gid is not mapped
    }

    if (user.libraries.empty()) return;
    for (const auto& l : user.libraries) {
        intel_bind(spec, l.host_path, l.real_path);
        if (l.path != l.real_path) {
            bool same_dir = l.path.substr(0, l.path.rfind('/')) ==
                            l.real_path.substr(0, l.real_path.rfind('/'));
            spec.setup.symlinks.emplace_back(
                l.path, same_dir ? l.real_path.substr(l.real_path.rfind('/') + 1) : l.real_path);
        }
    }
    if (user.icd) intel_bind(spec, user.icd->host_path, user.icd->path);
    std::string conf;
    for (const auto& d : library_dirs(user)) conf += d + "\n";
    spec.setup.ld_conf.emplace_back("/etc/ld.so.conf.d/00-gantry-intel.conf", conf);
    spec.setup.ldconfig = true;
    spec.setup.host_ldconfig = host_ldconfig::find();
}

} // namespace gantry::gpu_vendors::intel
