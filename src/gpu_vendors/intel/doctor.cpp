#include "gpu_vendors/intel/doctor.hpp"

#include "gpu_vendors/intel/doctor_driver.hpp"
#include "gpu_vendors/intel/offload.hpp"
#include "gpu_vendors/verdict_cache.hpp"
#include "rootfs/rootfs.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"
#include "util/hash.hpp"
#include "util/mapped_file.hpp"
#include "util/text.hpp"

#include <algorithm>
#include <cstdio>
#include <fcntl.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

namespace gantry::gpu_vendors::intel {

namespace {

using findings::Finding;
using findings::Severity;

bool intel_is_elf(const std::string& host_path) {
    Fd fd(::open(host_path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
    char head[4] = {};
    return fd && ::read(fd.get(), head, 4) == 4 &&
           std::equal(head, head + 4,
                      "\x7f"
                      "ELF");
}

} // namespace

std::string gpu_label(const Gpu& g) {
    return "GPU " + std::to_string(g.index) + " (" + g.card_name +
           (g.aot_target.empty() ? "" : ", " + g.aot_target) + ")";
}

std::vector<Finding> host_findings(const Host& host, const UserSpace& user,
                                   const CallerIds& caller) {
    std::vector<Finding> out;
    for (const auto& pf : host.sriov_physical_functions)
        out.push_back({"INTEL-SRIOV-PF", Severity::info,
                       pf.card_name + (pf.pci_bus_id.empty() ? "" : " (" + pf.pci_bus_id + ")") +
                           " is an SR-IOV physical function with " +
                           std::to_string(pf.virtual_functions) +
                           " virtual functions enabled: it is not a GPU to hand out (its virtual "
                           "functions are, as Intel's device plugin decides)",
                       ""});
    if (host.gpus.empty()) {
        out.push_back({"INTEL-NO-GPU", Severity::fail,
                       "no Intel GPU: no DRM card of the i915 or xe driver under " + host.sys_root +
                           "/sys/class/drm",
                       "load the i915 or xe kernel module, or point --sys-root and --dev-root at "
                       "a host that has one"});
        return out;
    }
    for (const auto& g : host.gpus) {
        char id[16];
        std::snprintf(id, sizeof id, "0x%04x", g.device_id);
        std::string what =
            gpu_label(g) + ": " +
            (g.model.empty() ? std::string("PCI device ") + id : g.model + " (" + id + ")") +
            " at " + g.pci_bus_id + ", driver " + g.driver + ", " + std::to_string(g.tiles) +
            (g.tiles == 1 ? " tile" : " tiles");
        out.push_back({"INTEL-GPU", Severity::pass, what, ""});
        if (!g.render_matched || !g.render.present) {
            out.push_back({"INTEL-RENDER-NODE", Severity::fail,
                           gpu_label(g) + " has no render node" +
                               (g.render_matched ? " " + g.render.host_path : std::string()),
                           "check the " + g.driver +
                               " driver (dmesg) and udev, or the "
                               "--dev-root given"});
            continue;
        }
        if (!caller.real_root && ::access(g.render.host_path.c_str(), R_OK | W_OK) != 0)
            out.push_back({"INTEL-RENDER-ACCESS", Severity::fail,
                           gpu_label(g) + "'s render node " + g.render.host_path + " (gid " +
                               std::to_string(g.render.gid) +
                               ") cannot be opened read-write by you (uid " +
                               std::to_string(caller.uid) + ")",
                           "add yourself to the node's group (usually render: sudo usermod -aG "
                           "render $USER, then log in again)"});
        if (g.aot_target.empty())
            out.push_back({"INTEL-DEVICE-UNKNOWN", Severity::info,
                           gpu_label(g) + ": PCI device " + id +
                               " is not in gantry's table, so AOT device code cannot be matched "
                               "to it",
                           ""});
    }
    std::string icds;
    for (const auto& icd : user.icds) icds += "; " + icd.path.substr(icd.path.rfind('/') + 1);
    std::size_t deps = std::count_if(user.libraries.begin(), user.libraries.end(),
                                     [](const Library& l) { return !l.needed_by.empty(); });
    std::string left = user.left_to_image.empty()
                           ? std::string()
                           : "; left to the image (general-purpose libraries the driver needs): " +
                                 text::join(user.left_to_image, ", ");
    if (user.missing.empty())
        out.push_back({"INTEL-USER-SPACE", Severity::pass,
                       "Level Zero and the compute runtime found under " + user.driver_root + " (" +
                           std::to_string(user.libraries.size()) + " libraries, " +
                           std::to_string(deps) + " of them the drivers' dependencies" + icds +
                           ")" + left,
                       ""});
    else
        out.push_back({"INTEL-USER-SPACE", Severity::warn,
                       "not found under the driver root " + user.driver_root + ": " +
                           text::join(user.missing, ", ") +
                           "; a container gets only what is there, so its image must bring the "
                           "rest" +
                           left,
                       install_hint(user.driver_root)});
    return out;
}

std::vector<Finding> image_findings(const store::Store& store, const store::Image& image,
                                    const std::vector<const Gpu*>& selected,
                                    const std::string& path_prefix) {
    std::vector<Finding> out;
    constexpr std::size_t kMaxIntelFiles = 100000;
    std::size_t files = 0, with_code = 0;
    rootfs::walk_image_files(
        store, image.config.diff_ids, [&](const std::string& path, const std::string& host) {
            if (!path.starts_with(path_prefix) || files >= kMaxIntelFiles) return;
            if (!intel_is_elf(host)) return;
            ++files;
            std::vector<DeviceImage> images;
            try {
                MappedFile m(host);
                images = read_offload_images(m.bytes(), "/" + path);
            } catch (const Error& e) {
                out.push_back({"INTEL-OFFLOAD-UNREADABLE", Severity::warn, e.message(), e.hint()});
                return;
            }
            bool any = std::any_of(images.begin(), images.end(),
                                   [](const DeviceImage& i) { return i.for_intel_gpu(); });
            if (!any) return;
            ++with_code;
            for (const Gpu* g : selected)
                if (auto f = judge_file("/" + path, images, g->aot_target, gpu_label(*g)))
                    out.push_back(std::move(*f));
        });
    if (with_code > 0 && std::none_of(out.begin(), out.end(), [](const Finding& f) {
            return f.id.starts_with("INTEL-AOT") || f.id == "INTEL-SPIRV-JIT";
        }))
        out.push_back({"INTEL-DEVICE-CODE", Severity::pass,
                       std::to_string(with_code) +
                           " files with Intel GPU device code, all with native code for the "
                           "selected GPUs",
                       ""});
    return out;
}

std::vector<Finding> image_findings_cached(const store::Store& store, const store::Image& image,
                                           const std::vector<const Gpu*>& selected,
                                           const std::string& cache_dir) {
    std::string key = "intel-doctor-1\n" + image.manifest_digest.str() + "\n";
    for (const Gpu* g : selected) key += gpu_label(*g) + "\n";
    return cached_verdict(cache_dir, "intel-doctor", key,
                          [&] { return image_findings(store, image, selected); });
}

} // namespace gantry::gpu_vendors::intel
