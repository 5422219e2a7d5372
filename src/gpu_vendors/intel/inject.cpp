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

void intel_bind(oci::RuntimeSpec& spec, const std::string& host, const std::string& dst) {
    for (auto& m : spec.mounts)
        if (m.destination == dst) return;
    spec.mounts.push_back(oci::Mount{dst, "bind", host, {"bind", "ro", "nosuid", "nodev"}});
}

} // namespace

void check_access(const gpu_host::DeviceNode& node, const std::string& what,
                  const CallerIds& caller) {
    check_node_access(node, what, caller,
                      "load the i915 or xe kernel module, or point --dev-root at the directory "
                      "holding dev/dri");
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

    add_node_groups(spec, nodes, caller);

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
    for (const auto& icd : user.icds) intel_bind(spec, icd.host_path, icd.path);
    std::string conf;
    for (const auto& d : library_dirs(user)) conf += d + "\n";
    spec.setup.ld_conf.emplace_back("/etc/ld.so.conf.d/00-gantry-intel.conf", conf);
    spec.setup.ldconfig = true;
    spec.setup.host_ldconfig = host_ldconfig::find();
}

} // namespace gantry::gpu_vendors::intel
