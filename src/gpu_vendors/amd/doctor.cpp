// The ROCm host rules, the image rules' entry point and their cache (the image walk:
// doctor_image.cpp; the rules: gpu_vendors/amd/rocm_rules.cpp).
#include "gpu_vendors/amd/doctor.hpp"

#include "gpu_host/device_node.hpp"
#include "gpu_vendors/verdict_cache.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/hash.hpp"
#include "util/identity.hpp"

#include <algorithm>
#include <grp.h>
#include <nlohmann/json.hpp>
#include <sys/stat.h>
#include <unistd.h>

namespace gantry::gpu_vendors::amd {

namespace {

using findings::Finding;
using findings::Severity;

std::string group_words(gid_t gid) {
    auto name = group_name(gid);
    return name.empty() ? "gid " + std::to_string(gid)
                        : "group " + name + " (gid " + std::to_string(gid) + ")";
}

// Whether the caller may open NODE read-write, by the owner/group/other classes of its mode.
bool can_open_rw(const gpu_host::DeviceNode& n, const CallerIds& c,
                 const std::vector<gid_t>& groups) {
    if (c.real_root) return true;
    if (c.uid == n.uid) return (n.mode & 0600) == 0600;
    if (c.gid == n.gid || std::find(groups.begin(), groups.end(), n.gid) != groups.end())
        return (n.mode & 0060) == 0060;
    return (n.mode & 0006) == 0006;
}

std::string mode_words(const gpu_host::DeviceNode& n) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "%04o", n.mode & 07777);
    return std::string("mode ") + buf + ", owner uid " + std::to_string(n.uid) + ", " +
           group_words(n.gid);
}

// The finding for a node the caller cannot open, naming the group and the two fixes.
Finding access_finding(const char* id, const gpu_host::DeviceNode& n, const std::string& what,
                       const CallerIds& c) {
    std::string group = group_name(n.gid);
    std::string add =
        group.empty() ? "a group with gid " + std::to_string(n.gid) : "the " + group + " group";
    return {id, Severity::fail,
            (what.empty() ? "" : what + " ") + n.host_path +
                " cannot be opened read-write by uid " + std::to_string(c.uid) + " (" +
                mode_words(n) +
                "): ROCm fails with \"Unable to open /dev/kfd read-write: Permission denied\"",
            "add the user to " + add + " (usermod -aG " +
                (group.empty() ? std::to_string(n.gid) : group) +
                " USER, then log in again), or install AMD's udev rule "
                "(/etc/udev/rules.d/70-amdgpu.rules: KERNEL==\"kfd\", MODE=\"0666\" and "
                "SUBSYSTEM==\"drm\", KERNEL==\"renderD*\", MODE=\"0666\")"};
}

std::string gpu_target_text(const gpu_vendors::amd::Gpu& g) {
    std::string t = g.gfx_target.empty() ? "unknown target" : g.gfx_target;
    if (g.sramecc) t += *g.sramecc ? ":sramecc+" : ":sramecc-";
    return t;
}

} // namespace

std::vector<Finding> host_findings(const gpu_vendors::amd::Host& host, const CallerIds& caller) {
    std::vector<gid_t> groups;
    if (caller.uid == ::geteuid()) {
        int n = ::getgroups(0, nullptr);
        if (n > 0) {
            groups.resize(static_cast<std::size_t>(n));
            n = ::getgroups(n, groups.data());
            groups.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
        }
    }
    return host_findings(host, caller, groups);
}

std::vector<Finding> host_findings(const gpu_vendors::amd::Host& host, const CallerIds& caller,
                                   const std::vector<gid_t>& groups) {
    std::vector<Finding> out;
    const std::string fix_driver =
        "load the amdgpu driver (modprobe amdgpu; AMD's amdgpu-dkms for ROCm), or give "
        "--sys-root/--dev-root of the host that has it";
    if (host.gpus.empty()) {
        out.push_back({"AMD-NO-DRIVER", Severity::fail,
                       "no AMD GPU: " + (host.unusable_reason.empty() ? std::string("no GPU node")
                                                                      : host.unusable_reason),
                       fix_driver});
        return out;
    }
    if (host.driver_version.empty())
        out.push_back({"AMD-DRIVER", Severity::info,
                       "amdgpu is loaded: the kernel's in-tree driver (only DKMS builds have "
                       "/sys/module/amdgpu/version, so its ROCm release is unknown)",
                       ""});
    else
        out.push_back({"AMD-DRIVER", Severity::pass,
                       "amdgpu " + host.driver_version + " is loaded (DKMS build)", ""});

    if (!host.kfd.present || host.kfd.type != 'c') {
        out.push_back({"AMD-KFD-MISSING", Severity::fail,
                       host.kfd.host_path +
                           (host.kfd.present ? " is not a character device" : " does not exist") +
                           ": the ROCm runtime cannot reach the GPUs (KFD, the compute interface "
                           "all GPUs share)",
                       "load amdgpu with KFD (CONFIG_HSA_AMD), or give --dev-root of the host"});
    } else if (!can_open_rw(host.kfd, caller, groups)) {
        out.push_back(access_finding("AMD-KFD-ACCESS", host.kfd, "", caller));
    }
    for (const auto& g : host.gpus) {
        std::string gpu = "GPU " + std::to_string(g.index);
        if (!g.render.present || g.render.type != 'c')
            out.push_back(
                {"AMD-RENDER-MISSING", Severity::fail,
                 gpu + "'s render node " + g.render.host_path +
                     (g.render.present ? " is not a character device" : " does not exist") +
                     ": the ROCm runtime cannot use it",
                 "check the amdgpu driver (dmesg), or give --dev-root of the host"});
        else if (!can_open_rw(g.render, caller, groups))
            out.push_back(
                access_finding("AMD-RENDER-ACCESS", g.render, gpu + "'s render node", caller));
        out.push_back({"AMD-GPU", Severity::info,
                       gpu + ": " + (g.marketing_name.empty() ? g.kfd_name : g.marketing_name) +
                           ", " + gpu_target_text(g) + (g.uuid.empty() ? "" : ", " + g.uuid) +
                           ", " + g.render.path,
                       ""});
    }
    return out;
}

gpu_vendors::amd::RocmHostFacts
host_facts(const gpu_vendors::amd::Host& host,
           const std::vector<const gpu_vendors::amd::Gpu*>& selected) {
    gpu_vendors::amd::RocmHostFacts h;
    h.driver_version = host.driver_version;
    struct stat st {};
    auto nvidia =
        gpu_host::join_root(host.sys_root.empty() ? "/" : host.sys_root, "/sys/module/nvidia");
    h.nvidia_driver = ::stat(nvidia.c_str(), &st) == 0;
    for (const auto* g : selected) {
        gpu_vendors::amd::RocmGpu r;
        r.index = g->index;
        r.name = g->marketing_name.empty() ? g->kfd_name : g->marketing_name;
        r.target.processor = g->gfx_target;
        r.target.sramecc = g->sramecc
                               ? (*g->sramecc ? amd::TargetFeature::on : amd::TargetFeature::off)
                           : gpu_vendors::amd::has_sramecc_feature(g->gfx_target)
                               ? amd::TargetFeature::any
                               : amd::TargetFeature::unsupported;
        r.target.xnack = amd::TargetFeature::any; // runtime_target: HSA_XNACK decides
        h.gpus.push_back(std::move(r));
    }
    return h;
}

std::vector<Finding> image_findings(const store::Store& store, const store::Image& image,
                                    const std::string&, const std::vector<std::string>& env,
                                    const gpu_vendors::amd::Host& host,
                                    const std::vector<const gpu_vendors::amd::Gpu*>& selected,
                                    const std::string& path_prefix) {
    auto facts = gather_image_facts(store, image, env, path_prefix);
    return gpu_vendors::amd::check_rocm_image(host_facts(host, selected), facts);
}

std::vector<Finding>
image_findings_cached(const store::Store& store, const store::Image& image, const std::string& ref,
                      const std::vector<std::string>& env, const gpu_vendors::amd::Host& host,
                      const std::vector<const gpu_vendors::amd::Gpu*>& selected,
                      const std::string& cache_dir) {
    auto find = [&] { return image_findings(store, image, ref, env, host, selected); };
    if (cache_dir.empty()) return find();
    // The key: everything the findings depend on (the image by its manifest digest, the
    // driver, whether NVIDIA's driver is there too, each selected GPU's target, the env).
    auto hf = host_facts(host, selected);
    std::string key = "amd-doctor-2\n" + image.manifest_digest.str() + "\n" + hf.driver_version +
                      "\n" + (hf.nvidia_driver ? "nvidia\n" : "\n");
    for (const auto& g : hf.gpus)
        key += std::to_string(g.index) + ":" + g.target.str() + ":" + to_string(g.target.sramecc) +
               ":" + g.name + "\n";
    for (const auto& e : env) key += e + "\n";
    return cached_verdict(cache_dir, "amd-doctor", key, find);
}

} // namespace gantry::gpu_vendors::amd
