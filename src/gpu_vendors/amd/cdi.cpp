// `gantry cdi generate --vendor amd` (see cdi.hpp). What amd-ctk writes (ROCm/container-toolkit
// internal/cdi/cdi.go, internal/amdgpu/amdgpu.go; rocm.md §3), and where gantry differs:
//   same:   kind amd.com/gpu; a device per GPU and per partition, named by index, plus "all";
//           each device's edits are device nodes only, its card<M> and renderD<N> then /dev/kfd
//           ("all": every device's DRM nodes, then /dev/kfd once), with type, live major and
//           minor (the kfd major is dynamic), fileMode (permission bits), permissions "rwm",
//           uid and gid from the host node; indices by PCI address (a GPU's partitions
//           together), the ones `gantry run --gpus` and AMD_VISIBLE_DEVICES use.
//   differs: uid is the node's owner (amd-ctk writes 0 always). hostPath appears when the host
//           node lies elsewhere (a simulated --dev-root). --device-name-strategy uuid adds
//           "GPU-<hex unique_id>" names (amd-ctk has index names only, the default here too).
//           cdiVersion is the lowest the content needs (0.5.0 for names that start with a digit
//           or hostPath; amd-ctk always writes 0.6.0, which nothing here needs): older
//           consumers, such as Debian 12's podman, read it too.
#include "gpu_vendors/amd/cdi.hpp"

#include "cdi/spec_read.hpp"
#include "gpu_vendors/cdi_nodes.hpp"
#include "util/error.hpp"

#include <algorithm>
#include <map>

namespace gantry::gpu_vendors::amd {

namespace {

using gpu_vendors::amd::Gpu;

std::string label(const Gpu& g) {
    std::string s = "GPU " + std::to_string(g.index);
    if (g.partition)
        s += " (partition " + std::to_string(g.partition->index) + " of " + g.pci_bus_id + ")";
    return s;
}

// "" when the node can be described; else why not.
std::string unusable(const gpu_host::DeviceNode& n) {
    if (!n.present) return n.host_path + " does not exist";
    if (n.type != 'c') return n.host_path + " is not a character device";
    return {};
}

} // namespace

cdi::Spec generate_cdi(const gpu_vendors::amd::Host& host, const CdiOptions& options,
                       std::vector<std::string>* warnings) {
    std::vector<std::string> ignored;
    auto& warn = warnings ? *warnings : ignored;
    const CdiNaming naming = parse_naming(options.naming);
    const std::string hint = "check that the amdgpu driver is loaded with KFD (ls /dev/kfd "
                             "/sys/class/kfd/kfd/topology/nodes), or pass --sys-root and "
                             "--dev-root";
    if (!host.usable)
        throw Error(Errc::not_found, "no AMD GPU to describe: " + host.unusable_reason, hint);
    if (auto why = unusable(host.kfd); !why.empty())
        throw Error(Errc::not_found, "no AMD GPU to describe: " + why, hint);

    std::map<std::string, std::string> uuid_users; // UUID -> "i,j,..." (the GPUs with it)
    for (const auto& g : host.gpus)
        if (!g.uuid.empty()) {
            auto& u = uuid_users[g.uuid];
            u += (u.empty() ? "" : ",") + std::to_string(g.index);
        }

    cdi::Spec spec;
    spec.kind = "amd.com/gpu";
    const cdi::DeviceNode kfd = cdi_node(host.kfd);
    cdi::ContainerEdits all;
    for (const auto& g : host.gpus) {
        if (auto why = unusable(g.render); !why.empty()) {
            warn.push_back(label(g) + ": " + why + "; left out (a GPU needs its render node)");
            continue;
        }
        cdi::ContainerEdits e;
        if (!g.card_matched)
            warn.push_back(label(g) + ": no card node found in sysfs; its device has " +
                           g.render.path + " and /dev/kfd only");
        else if (auto why = unusable(g.card); !why.empty())
            warn.push_back(label(g) + ": " + why + "; its device has " + g.render.path +
                           " and /dev/kfd only");
        else
            e.device_nodes.push_back(cdi_node(g.card));
        e.device_nodes.push_back(cdi_node(g.render));
        all.device_nodes.insert(all.device_nodes.end(), e.device_nodes.begin(),
                                e.device_nodes.end());
        e.device_nodes.push_back(kfd);

        std::vector<std::string> names;
        if (naming.index) names.push_back(std::to_string(g.index));
        if (naming.uuid) {
            if (g.uuid.empty())
                warn.push_back(label(g) + " has no UUID (no unique_id): named by index");
            else if (auto& users = uuid_users[g.uuid]; users.find(',') != std::string::npos) {
                if (users[0] != '-')
                    warn.push_back("GPUs " + users + " (partitions of " + g.pci_bus_id +
                                   ") share UUID " + g.uuid + ": named by index");
                if (users[0] != '-') users.insert(0, "-"); // warned once
            } else
                names.push_back(g.uuid);
            if (names.empty()) names.push_back(std::to_string(g.index));
        }
        for (const auto& n : names) spec.devices.push_back({n, {}, e});
    }
    if (spec.devices.empty())
        throw Error(Errc::not_found,
                    "no AMD GPU to describe: none of the " + std::to_string(host.gpus.size()) +
                        " GPUs in the KFD topology has its render node under " + host.dev_root,
                    hint);
    all.device_nodes.push_back(kfd);
    spec.devices.push_back({"all", {}, all});

    cdi::finish_generated(spec);
    return spec;
}

} // namespace gantry::gpu_vendors::amd
