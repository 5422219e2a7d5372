#include "gpu_vendors/amd/inject.hpp"

#include "gpu_vendors/device_nodes.hpp"
#include "util/error.hpp"
#include "util/identity.hpp"
#include "util/log.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <grp.h>
#include <unistd.h>

namespace gantry::gpu_vendors::amd {

namespace {

// --device /dev/kfd (AMD's docker line) may already have it: then it stays as given.
void add_device(oci::RuntimeSpec& spec, const gpu_host::DeviceNode& n) {
    add_device_node(spec, n, true);
}

} // namespace

void check_access(const gpu_host::DeviceNode& node, const std::string& what,
                  const CallerIds& caller) {
    check_node_access(node, what, caller,
                      "load the amdgpu kernel module (modprobe amdgpu), or point --dev-root at the "
                      "directory holding dev/kfd and dev/dri",
                      ", or have the administrator open the AMD nodes to all users with a udev "
                      "rule: KERNEL==\"kfd\", MODE=\"0666\" and SUBSYSTEM==\"drm\", "
                      "KERNEL==\"renderD*\", MODE=\"0666\"");
}

void inject(oci::RuntimeSpec& spec, const gpu_vendors::amd::Host& host,
            const std::vector<const gpu_vendors::amd::Gpu*>& gpus, const CallerIds& caller) {
    // libhsakmt opens /dev/kfd and each GPU's render node read-write: check both before launch.
    check_access(host.kfd, "the ROCm compute node", caller);
    for (auto* g : gpus)
        check_access(g->render,
                     "GPU " + std::to_string(g->index) +
                         (g->uuid.empty() ? "" : " (" + g->uuid + ")") + "'s render node",
                     caller);

    std::vector<const gpu_host::DeviceNode*> nodes{&host.kfd};
    for (auto* g : gpus) {
        nodes.push_back(&g->render);
        if (g->card_matched && g->card.present) nodes.push_back(&g->card);
    }
    for (auto* n : nodes) add_device(spec, *n);

    add_node_groups(spec, nodes, caller);
    // Rootless with a single-id map: setgroups(2) is denied, the caller's groups stay.

    std::string visible;
    bool all_have_uuid = true;
    for (auto* g : gpus) {
        if (g->uuid.empty()) all_have_uuid = false;
        visible += (visible.empty() ? "" : ",") + g->uuid;
    }
    if (all_have_uuid) {
        std::erase_if(spec.env,
                      [](const std::string& e) { return e.starts_with("ROCR_VISIBLE_DEVICES="); });
        spec.env.push_back("ROCR_VISIBLE_DEVICES=" + visible);
    } else {
        log::debug("ROCR_VISIBLE_DEVICES not set: a selected GPU has no unique_id in its "
                   "topology (only its device nodes restrict the runtime)");
    }
}

} // namespace gantry::gpu_vendors::amd
