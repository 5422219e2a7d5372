#include "gpu_vendors/intel/cdi.hpp"

#include "cdi/spec_read.hpp"
#include "gpu_vendors/cdi_nodes.hpp"
#include "util/error.hpp"

#include <algorithm>
#include <cstdio>

namespace gantry::gpu_vendors::intel {

namespace {

cdi::Hook intel_hook(const std::string& gantry, const std::string& sub,
                     const std::vector<std::string>& args) {
    cdi::Hook h;
    h.hook_name = "createContainer";
    h.path = gantry;
    h.args = {"gantry", "hook", sub};
    h.args.insert(h.args.end(), args.begin(), args.end());
    h.env = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin"};
    return h;
}

} // namespace

std::string resource_driver_uid(const Gpu& g) {
    std::string uid = g.pci_bus_id;
    std::replace(uid.begin(), uid.end(), ':', '-');
    std::replace(uid.begin(), uid.end(), '.', '-');
    char id[16];
    std::snprintf(id, sizeof id, "-0x%04x", g.device_id);
    return uid + id;
}

cdi::Spec generate_cdi(const Host& host, const UserSpace& user, const CdiOptions& options,
                       std::vector<std::string>* warnings) {
    std::vector<std::string> ignored;
    auto& warn = warnings ? *warnings : ignored;
    const CdiNaming naming = parse_naming(options.naming);
    if (!user.libraries.empty() && (options.gantry_path.empty() || options.gantry_path[0] != '/'))
        throw Error(Errc::usage,
                    "the hooks need gantry's absolute path, not \"" + options.gantry_path + "\"");
    const std::string hint = "check that the i915 or xe driver is loaded (ls /sys/class/drm "
                             "/dev/dri), or pass --sys-root and --dev-root";
    cdi::Spec spec;
    spec.kind = "intel.com/gpu";
    cdi::ContainerEdits all;
    for (const auto& g : host.gpus) {
        std::string who = "GPU " + std::to_string(g.index) + " (" + g.card_name + ")";
        if (!g.render_matched || !g.render.present || g.render.type != 'c') {
            warn.push_back(who + ": no render node under " + host.dev_root + "; left out");
            continue;
        }
        cdi::ContainerEdits e;
        if (g.card.present && g.card.type == 'c')
            e.device_nodes.push_back(cdi_node(g.card));
        else
            warn.push_back(who + ": " + g.card.host_path +
                           " is not a device node; its device "
                           "has the render node only");
        e.device_nodes.push_back(cdi_node(g.render));
        // the GPU's /dev/dri/by-path links, as Intel's resource driver gives them (addBypathMounts:
        // bind mounts of pci-<bdf>-card and -render at their own paths, "bind", "rw"); a bind
        // mount of the link mounts the node it points to
        for (const auto& link : g.by_path) {
            const gpu_host::DeviceNode& n = link.ends_with("-render") ? g.render : g.card;
            if (!n.present || n.type != 'c') continue;
            std::string host_path = host.dev_root == "/" ? link : host.dev_root + link;
            e.mounts.push_back({host_path, link, {"bind", "rw"}, ""});
        }
        all.device_nodes.insert(all.device_nodes.end(), e.device_nodes.begin(),
                                e.device_nodes.end());
        all.mounts.insert(all.mounts.end(), e.mounts.begin(), e.mounts.end());
        std::vector<std::string> names;
        if (naming.index) names.push_back(std::to_string(g.index));
        names.push_back(g.card_name);
        if (naming.uuid) names.push_back(resource_driver_uid(g));
        for (const auto& n : names) spec.devices.push_back({n, {}, e});
    }
    if (spec.devices.empty())
        throw Error(Errc::not_found,
                    "no Intel GPU to describe" +
                        (host.gpus.empty() ? std::string(": no DRM card of the i915 or xe driver "
                                                         "under ") +
                                                 host.sys_root
                                           : ": none has its render node under " + host.dev_root),
                    hint);
    spec.devices.push_back({"all", {}, all});

    cdi::ContainerEdits& c = spec.edits;
    std::vector<std::string> links;
    for (const auto& l : user.libraries) {
        if (std::none_of(c.mounts.begin(), c.mounts.end(),
                         [&](const cdi::Mount& m) { return m.container_path == l.real_path; }))
            c.mounts.push_back({l.host_path, l.real_path, {"ro", "nosuid", "nodev", "bind"}, ""});
        if (l.path != l.real_path) {
            links.push_back("--link");
            links.push_back(l.real_path + "::" + l.path);
        }
    }
    for (const auto& icd : user.icds)
        c.mounts.push_back({icd.host_path, icd.path, {"ro", "nosuid", "nodev", "bind"}, ""});
    if (!links.empty())
        c.hooks.push_back(intel_hook(options.gantry_path, "create-symlinks", links));
    std::vector<std::string> folders;
    for (const auto& d : library_dirs(user)) {
        folders.push_back("--folder");
        folders.push_back(d);
    }
    if (!folders.empty())
        c.hooks.push_back(intel_hook(options.gantry_path, "update-ldcache", folders));
    if (user.libraries.empty())
        warn.push_back("no Intel GPU user space under the driver root " + user.driver_root +
                       ": the spec has device nodes only (the image must bring Level Zero and "
                       "the compute runtime)");
    cdi::finish_generated(spec);
    return spec;
}

} // namespace gantry::gpu_vendors::intel
