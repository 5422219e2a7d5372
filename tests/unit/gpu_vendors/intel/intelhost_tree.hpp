// A small Intel host in a temp directory, in the kernel's layout (tests/fixtures/intelhost/
// intelhost.py builds the full ones for the e2e tests; docs/reference/intel-gpu.md §1-§2): a BMC
// display card0 (ASPEED, driver ast) and the GPUs given, each a PCI device with vendor, device,
// driver link, drm/card<N> and drm/renderD<M>, sys/class/drm links, tiles (i915 gt/gt*, xe
// tile*), and dev/dri nodes (regular files standing in) with by-path links.
#pragma once

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace intel_unit {

namespace stdfs = std::filesystem;

struct TreeGpu {
    std::string bdf;
    unsigned device_id;
    std::string driver; // "i915", "xe"
    int tiles;
    int card, render;
};

inline void tree_write(const stdfs::path& p, const std::string& s) {
    stdfs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << s;
}

inline void tree_link(const stdfs::path& p, const std::string& target) {
    stdfs::create_directories(p.parent_path());
    stdfs::create_symlink(target, p);
}

inline void tree_device(const stdfs::path& root, const TreeGpu& g, const std::string& vendor,
                        bool render_node = true) {
    std::string rel = "pci0000:" + g.bdf.substr(5, 2) + "/" + g.bdf;
    stdfs::path pdir = root / "sys/sys/devices" / rel;
    tree_write(pdir / "vendor", vendor + "\n");
    char id[16];
    std::snprintf(id, sizeof id, "0x%04x\n", g.device_id);
    tree_write(pdir / "device", id);
    stdfs::create_directories(root / "sys/sys/bus/pci/drivers" / g.driver);
    tree_link(pdir / "driver", "../../../bus/pci/drivers/" + g.driver);
    std::vector<std::string> names{"card" + std::to_string(g.card)};
    if (render_node && g.render >= 0) names.push_back("renderD" + std::to_string(g.render));
    for (const auto& n : names) {
        stdfs::create_directories(pdir / "drm" / n);
        tree_link(pdir / "drm" / n / "device", "../../../" + g.bdf);
        tree_link(root / "sys/sys/class/drm" / n, "../../devices/" + rel + "/drm/" + n);
        tree_write(root / "dev/dev/dri" / n, "");
    }
    for (int t = 0; t < g.tiles; ++t) {
        if (g.driver == "i915")
            stdfs::create_directories(pdir / "drm" / names[0] / "gt" / ("gt" + std::to_string(t)));
        else
            stdfs::create_directories(pdir / ("tile" + std::to_string(t)));
    }
    tree_link(root / "dev/dev/dri/by-path" / ("pci-" + g.bdf + "-card"), "../" + names[0]);
    if (names.size() > 1)
        tree_link(root / "dev/dev/dri/by-path" / ("pci-" + g.bdf + "-render"), "../" + names[1]);
}

// The BMC and GPUS under ROOT (ROOT/sys, ROOT/dev).
inline void tree_build(const stdfs::path& root, const std::vector<TreeGpu>& gpus) {
    stdfs::create_directories(root / "sys/sys/class/drm");
    stdfs::create_directories(root / "dev/dev/dri");
    tree_device(root, {"0000:02:00.0", 0x2000, "ast", 0, 0, -1}, "0x1a03");
    for (const auto& g : gpus) tree_device(root, g, "0x8086");
}

// Two Max 1550 (i915, 2 tiles) listed in reverse PCI order by card number, one Arc A770 on xe.
inline std::vector<TreeGpu> tree_mixed() {
    return {{"0000:b1:00.0", 0x0bd5, "i915", 2, 1, 128},
            {"0000:18:00.0", 0x0bd5, "i915", 2, 2, 129},
            {"0000:03:00.0", 0x56a0, "xe", 1, 3, 130}};
}

} // namespace intel_unit
