// Intel GPU discovery (see topology.hpp).
#include "gpu_vendors/intel/topology.hpp"

#include "gpu_vendors/sysfs_root.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"
#include "util/text.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <dirent.h>
#include <fcntl.h>
#include <filesystem>
#include <optional>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

namespace gantry::gpu_vendors::intel {

namespace {

// One root opened once; every path below it resolved inside it (gpu_vendors/sysfs_root.hpp).
using IntelRoot = SysRoot;

constexpr const char* intel_sysfs_hint =
    "the DRM sysfs tree under the sys root is damaged or not the kernel's; check the i915/xe "
    "driver (dmesg) or the --sys-root given";

bool intel_is_card_name(std::string_view name) {
    return name.starts_with("card") && name.size() > 4 && text::all_digits(name.substr(4));
}

std::string intel_base(std::string_view link) {
    while (!link.empty() && link.back() == '/') link.remove_suffix(1);
    auto slash = link.rfind('/');
    return std::string(slash == std::string_view::npos ? link : link.substr(slash + 1));
}

// "0x8086\n" -> 0x8086; nullopt unless 0x followed by 1-8 hex digits.
std::optional<std::uint32_t> intel_hex_id(std::string_view s) {
    s = text::trim(s);
    if (!s.starts_with("0x") || s.size() < 3 || s.size() > 10) return std::nullopt;
    std::uint32_t v = 0;
    for (char c : s.substr(2)) {
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0) return std::nullopt;
        v = v * 16 + static_cast<std::uint32_t>(d);
    }
    return v;
}

bool intel_bdf_ok(std::string_view s) {
    // dddd:bb:dd.f, lower-case hex (the kernel's form)
    if (s.size() != 12 || s[4] != ':' || s[7] != ':' || s[10] != '.') return false;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (i == 4 || i == 7 || i == 10) continue;
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    }
    return true;
}

struct IntelCardFacts {
    bool intel = false;
    std::string driver;
};

IntelCardFacts intel_card_facts(const IntelRoot& sys, const std::string& card) {
    IntelCardFacts f;
    std::string dev = "sys/class/drm/" + card + "/device";
    auto vendor = sys.read(dev + "/vendor");
    if (!vendor || intel_hex_id(*vendor) != 0x8086u) return f;
    f.intel = true;
    if (auto link = sys.link_target(dev, "driver")) f.driver = intel_base(*link);
    return f;
}

} // namespace

std::string pci_address_of_link(std::string_view target, std::string_view card) {
    std::string suffix = "/drm/" + std::string(card);
    if (!target.ends_with(suffix)) return {};
    std::string bdf = intel_base(target.substr(0, target.size() - suffix.size()));
    return intel_bdf_ok(bdf) ? bdf : std::string();
}

DeviceKind device_kind(std::uint32_t id) {
    // Model names: Intel's resource driver (intel-resource-drivers-for-kubernetes
    // pkg/gpu/device/models.go ModelDetails) and compute-runtime's device tables (which name
    // 0x0b69 and 0x0bd6 the other way round); the DG2 sub-platforms: the kernel's
    // include/drm/intel/i915_pciids.h (ATS-M150 is a G10, ATS-M75 a G11: i915's subplatform
    // lists). Sources: docs/reference/intel-gpu.md §4.
    switch (id) {
    case 0x0bd0:
    case 0x0bd5:
    case 0x0b69:
        return {"Data Center GPU Max 1550", "pvc"};
    case 0x0bd6:
        return {"Data Center GPU Max 1450", "pvc"};
    case 0x0bd7:
    case 0x0bd8:
        return {"Data Center GPU Max 1350", "pvc"};
    case 0x0bd9:
    case 0x0bda:
    case 0x0bdb:
        return {"Data Center GPU Max 1100", "pvc"};
    case 0x0b6e:
        return {"Data Center GPU Max 1100C", "pvc"};
    case 0x56a0:
        return {"Arc A770", "acm-g10"};
    case 0x56a1:
        return {"Arc A750", "acm-g10"};
    case 0x56a2:
        return {"Arc A580", "acm-g10"};
    case 0x56af:
        return {"Arc A760A", "acm-g10"};
    case 0x5690:
    case 0x5691:
    case 0x5692:
    case 0x56be:
    case 0x56bf:
        return {"", "acm-g10"};
    case 0x56c0:
        return {"Data Center GPU Flex 170", "acm-g10"};
    case 0x56c2:
        return {"Data Center GPU Flex 170V", "acm-g10"};
    case 0x56a5:
        return {"Arc A380", "acm-g11"};
    case 0x56a6:
        return {"Arc A310", "acm-g11"};
    case 0x56b1:
        return {"Arc Pro A40/A50", "acm-g11"};
    case 0x56c1:
        return {"Data Center GPU Flex 140", "acm-g11"};
    case 0x5693:
    case 0x5694:
    case 0x5695:
    case 0x56b0:
    case 0x56ba:
    case 0x56bb:
    case 0x56bc:
    case 0x56bd:
        return {"", "acm-g11"};
    case 0x5696:
    case 0x5697:
    case 0x56a3:
    case 0x56a4:
    case 0x56b2:
    case 0x56b3:
        return {"", "acm-g12"};
    default:
        return {};
    }
}

bool has_intel_card(const std::string& sys_root) {
    try {
        IntelRoot sys(normalize_root(sys_root), intel_sysfs_hint);
        auto names = sys.list("sys/class/drm");
        if (!names) return false;
        for (const auto& n : *names) {
            if (!intel_is_card_name(n)) continue;
            auto f = intel_card_facts(sys, n);
            if (f.intel && (f.driver == "i915" || f.driver == "xe")) return true;
        }
    } catch (const Error&) {
    }
    return false;
}

Host discover(const DiscoverOptions& options) {
    Host h;
    h.sys_root = normalize_root(options.sys_root);
    h.dev_root = normalize_root(options.dev_root);
    IntelRoot sys(h.sys_root, intel_sysfs_hint);
    IntelRoot dev(h.dev_root, intel_sysfs_hint);
    auto names = sys.list("sys/class/drm");
    if (!names) {
        h.notes.push_back("no " + sys.host("sys/class/drm") + ": no DRM driver is loaded");
        return h;
    }
    auto by_path = dev.list("dev/dri/by-path").value_or(std::vector<std::string>{});
    for (const auto& name : *names) {
        if (!intel_is_card_name(name)) continue;
        auto facts = intel_card_facts(sys, name);
        if (!facts.intel) continue;
        if (facts.driver != "i915" && facts.driver != "xe") {
            h.notes.push_back(
                name + " is an Intel device bound to " +
                (facts.driver.empty() ? std::string("no driver") : "driver " + facts.driver) +
                ", not i915 or xe: left out");
            continue;
        }
        std::string dir = "sys/class/drm/" + name;
        // SR-IOV: a physical function whose virtual functions are enabled is not a GPU to hand
        // out (its VFs are, each a card of its own), as Intel's device plugin decides
        // (IsSriovPFwithVFs: device/sriov_numvfs present and not "0")
        auto vfs_text = sys.read(dir + "/device/sriov_numvfs");
        std::string_view vfs = vfs_text ? text::trim(*vfs_text) : std::string_view("0");
        if (vfs != "0") {
            if (vfs.empty() || vfs.size() > 5 || !text::all_digits(vfs))
                throw Error(Errc::invalid,
                            sys.host(dir + "/device/sriov_numvfs") +
                                " is not a count of virtual functions",
                            intel_sysfs_hint);
            SriovPhysicalFunction pf{name, "", 0};
            std::from_chars(vfs.data(), vfs.data() + vfs.size(), pf.virtual_functions);
            if (auto link = sys.link_target("sys/class/drm", name))
                pf.pci_bus_id = pci_address_of_link(*link, name);
            h.sriov_physical_functions.push_back(std::move(pf));
            continue;
        }
        Gpu g;
        g.card_name = name;
        g.driver = facts.driver;
        auto id_text = sys.read(dir + "/device/device");
        auto id = id_text ? intel_hex_id(*id_text) : std::nullopt;
        if (!id)
            throw Error(Errc::invalid,
                        sys.host(dir + "/device/device") +
                            (id_text ? " is not a PCI device id (0x....)" : " does not exist"),
                        intel_sysfs_hint);
        g.device_id = *id;
        auto kind = device_kind(g.device_id);
        g.model = std::string(kind.model);
        g.aot_target = std::string(kind.aot_target);
        if (auto link = sys.link_target("sys/class/drm", name))
            g.pci_bus_id = pci_address_of_link(*link, name);
        if (g.pci_bus_id.empty())
            throw Error(Errc::invalid,
                        sys.host(dir) + " does not link to a PCI device's drm/" + name,
                        intel_sysfs_hint);
        // the render node beside the card in the PCI device's drm/ (the device plugin's walk)
        if (auto drm = sys.list(dir + "/device/drm"))
            for (const auto& n : *drm)
                if (n.starts_with("renderD") && n.size() > 7 && text::all_digits(n.substr(7))) {
                    g.render = dev.node("/dev/dri/" + n);
                    g.render_matched = true;
                    break;
                }
        int tiles = 0;
        if (auto gts = sys.list(dir + "/gt")) // i915
            for (const auto& n : *gts)
                if (n.starts_with("gt") && n.size() > 2 && text::all_digits(n.substr(2))) ++tiles;
        if (auto entries = sys.list(dir + "/device")) // xe
            for (const auto& n : *entries)
                if (n.starts_with("tile") && n.size() > 4 && text::all_digits(n.substr(4))) ++tiles;
        g.tiles = tiles > 0 ? tiles : 1;
        g.card = dev.node("/dev/dri/" + name);
        std::string prefix = "pci-" + g.pci_bus_id + "-";
        for (const auto& b : by_path)
            if (b.starts_with(prefix)) g.by_path.push_back("/dev/dri/by-path/" + b);
        if (std::find(h.drivers.begin(), h.drivers.end(), g.driver) == h.drivers.end())
            h.drivers.push_back(g.driver);
        h.gpus.push_back(std::move(g));
    }
    std::stable_sort(h.gpus.begin(), h.gpus.end(),
                     [](const Gpu& a, const Gpu& b) { return a.pci_bus_id < b.pci_bus_id; });
    for (std::size_t i = 0; i < h.gpus.size(); ++i) {
        Gpu& g = h.gpus[i];
        g.index = static_cast<int>(i);
        std::string who = "GPU " + std::to_string(i) + " (" + g.card_name + ")";
        if (!g.render_matched)
            h.notes.push_back(who + ": no renderD node in " +
                              sys.host("sys/class/drm/" + g.card_name + "/device/drm"));
        else if (!g.render.present)
            h.notes.push_back(who + ": " + g.render.host_path + " does not exist");
        if (!g.card.present) h.notes.push_back(who + ": " + g.card.host_path + " does not exist");
        if (g.aot_target.empty()) {
            char buf[16];
            std::snprintf(buf, sizeof buf, "0x%04x", g.device_id);
            h.notes.push_back(who + ": PCI device " + buf +
                              " is not in gantry's table: its AOT device name is unknown");
        }
    }
    return h;
}

} // namespace gantry::gpu_vendors::intel
