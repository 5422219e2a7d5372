// Intel discovery, request and CDI on small trees in the kernel's layout (intelhost_tree.hpp).
#include "../../support/temp_dir.hpp"
#include "gpu_vendors/intel/cdi.hpp"
#include "gpu_vendors/intel/doctor.hpp"
#include "gpu_vendors/intel/request.hpp"
#include "gpu_vendors/intel/topology.hpp"
#include "gpu_vendors/intel/userspace.hpp"
#include "intelhost_tree.hpp"
#include "util/error.hpp"

#include <gtest/gtest.h>

namespace intel_topology_test {

using namespace gantry;
namespace intel = gantry::gpu_vendors::intel;
using intel_unit::tree_build;
using intel_unit::tree_mixed;

intel::Host discover_at(const std::filesystem::path& root) {
    return intel::discover({(root / "sys").string(), (root / "dev").string()});
}

TEST(IntelTopology, FindsI915AndXeCardsInPciOrderSkippingTheBmc) {
    unit_support::TempDir t("intel-topo");
    tree_build(t.path, tree_mixed());
    auto h = discover_at(t.path);
    ASSERT_EQ(h.gpus.size(), 3u);
    EXPECT_EQ(h.gpus[0].pci_bus_id, "0000:03:00.0");
    EXPECT_EQ(h.gpus[0].driver, "xe");
    EXPECT_EQ(h.gpus[0].card_name, "card3");
    EXPECT_EQ(h.gpus[0].render.path, "/dev/dri/renderD130");
    EXPECT_EQ(h.gpus[0].aot_target, "acm-g10");
    EXPECT_EQ(h.gpus[0].model, "Arc A770");
    EXPECT_EQ(h.gpus[0].tiles, 1);
    EXPECT_EQ(h.gpus[1].pci_bus_id, "0000:18:00.0");
    EXPECT_EQ(h.gpus[1].aot_target, "pvc");
    EXPECT_EQ(h.gpus[1].tiles, 2);
    EXPECT_EQ(h.gpus[2].card_name, "card1");
    EXPECT_EQ(h.gpus[2].index, 2);
    EXPECT_TRUE(h.gpus[2].render.present);
    ASSERT_EQ(h.gpus[2].by_path.size(), 2u);
    EXPECT_EQ(h.gpus[2].by_path[0], "/dev/dri/by-path/pci-0000:b1:00.0-card");
    EXPECT_TRUE(intel::has_intel_card((t.path / "sys").string()));
}

TEST(IntelTopology, NoDrmIsNoGpuAndNoError) {
    unit_support::TempDir t("intel-topo");
    std::filesystem::create_directories(t.path / "sys/sys");
    std::filesystem::create_directories(t.path / "dev/dev");
    auto h = discover_at(t.path);
    EXPECT_TRUE(h.gpus.empty());
    EXPECT_FALSE(intel::has_intel_card((t.path / "sys").string()));
}

TEST(IntelTopology, AnotherDriverIsLeftOutWithANote) {
    unit_support::TempDir t("intel-topo");
    tree_build(t.path, {{"0000:18:00.0", 0x0bd5, "vfio-pci", 2, 1, 128}});
    auto h = discover_at(t.path);
    EXPECT_TRUE(h.gpus.empty());
    ASSERT_FALSE(h.notes.empty());
    EXPECT_NE(h.notes[0].find("vfio-pci"), std::string::npos);
    EXPECT_FALSE(intel::has_intel_card((t.path / "sys").string()));
}

TEST(IntelTopology, DamagedDeviceIdIsInvalid) {
    unit_support::TempDir t("intel-topo");
    tree_build(t.path, {{"0000:18:00.0", 0x0bd5, "i915", 1, 1, 128}});
    intel_unit::tree_write(t.path / "sys/sys/devices/pci0000:18/0000:18:00.0/device", "pvc\n");
    try {
        discover_at(t.path);
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::invalid);
        EXPECT_NE(e.message().find("not a PCI device id"), std::string::npos);
    }
}

TEST(IntelTopology, PciAddressOfLinkAndDeviceTable) {
    EXPECT_EQ(
        intel::pci_address_of_link("../../devices/pci0000:00/0000:00:02.0/drm/card0", "card0"),
        "0000:00:02.0");
    EXPECT_EQ(intel::pci_address_of_link("../../devices/platform/x/drm/card0", "card0"), "");
    EXPECT_EQ(
        intel::pci_address_of_link("../../devices/pci0000:00/0000:00:02.0/drm/card1", "card0"), "");
    EXPECT_EQ(intel::device_kind(0x0bd6).aot_target, "pvc");
    EXPECT_EQ(intel::device_kind(0x56c1).aot_target, "acm-g11");
    EXPECT_EQ(intel::device_kind(0x56a3).aot_target, "acm-g12");
    EXPECT_EQ(intel::device_kind(0x9a49).aot_target, "");
    // PVC and ACM ids the kernel and compute-runtime list (docs/reference/intel-gpu.md §4)
    EXPECT_EQ(intel::device_kind(0x0bd7).aot_target, "pvc");
    EXPECT_EQ(intel::device_kind(0x0bd8).model, "Data Center GPU Max 1350");
    EXPECT_EQ(intel::device_kind(0x0b6e).aot_target, "pvc");
    EXPECT_EQ(intel::device_kind(0x56af).aot_target, "acm-g10");
}

TEST(IntelRequest, GpusFlagFormsAndUnknownDevices) {
    unit_support::TempDir t("intel-req");
    tree_build(t.path, tree_mixed());
    auto h = discover_at(t.path);
    EXPECT_FALSE(intel::parse_request(std::nullopt).inject);
    auto all = intel::select(h, intel::parse_request("all"));
    EXPECT_EQ(all.gpus.size(), 3u);
    auto two = intel::select(h, intel::parse_request("2"));
    ASSERT_EQ(two.gpus.size(), 2u);
    EXPECT_EQ(two.gpus[1]->index, 1);
    auto named = intel::select(h, intel::parse_request("\"device=card1,0000:03:00.0,2\""));
    ASSERT_EQ(named.gpus.size(), 2u); // card1 is index 2: once
    EXPECT_EQ(named.gpus[0]->card_name, "card1");
    EXPECT_EQ(named.gpus[1]->index, 0);
    try {
        intel::select(h, intel::parse_request("device=7"));
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::not_found);
        EXPECT_NE(e.message().find("unknown Intel GPU \"7\""), std::string::npos);
        EXPECT_NE(e.message().find("card3"), std::string::npos);
    }
    EXPECT_THROW(intel::parse_request("all,driver=nvidia"), Error);
    EXPECT_TRUE(intel::parse_request("all,driver=intel").all);
}

TEST(IntelCdi, OneDevicePerGpuByIndexAndCardPlusAll) {
    unit_support::TempDir t("intel-cdi");
    tree_build(t.path, tree_mixed());
    auto h = discover_at(t.path);
    // stand-in nodes are regular files: every GPU is left out with a warning
    std::vector<std::string> warnings;
    intel::UserSpace none;
    EXPECT_THROW(intel::generate_cdi(h, none, {{}, "/usr/bin/gantry"}, &warnings), Error);
    EXPECT_EQ(warnings.size(), 3u);
    // as char nodes: make them look like ones
    for (auto& g : h.gpus) {
        g.render.type = g.card.type = 'c';
        g.render.major = g.card.major = 226;
    }
    warnings.clear();
    auto spec = intel::generate_cdi(h, none, {{"index", "uuid"}, "/usr/bin/gantry"}, &warnings);
    EXPECT_EQ(spec.kind, "intel.com/gpu");
    std::vector<std::string> names;
    for (auto& d : spec.devices) names.push_back(d.name);
    std::vector<std::string> want{
        "0", "card3", "0000-03-00-0-0x56a0", "1",  "card2", "0000-18-00-0-0x0bd5",
        "2", "card1", "0000-b1-00-0-0x0bd5", "all"};
    EXPECT_EQ(names, want);
    EXPECT_EQ(spec.devices[0].edits.device_nodes.size(), 2u);
    EXPECT_EQ(spec.devices.back().edits.device_nodes.size(), 6u);
    ASSERT_EQ(warnings.size(), 1u); // no user space
    EXPECT_THROW(intel::generate_cdi(h, none, {{"name"}, "/usr/bin/gantry"}, nullptr), Error);
}

TEST(IntelUserSpace, FindsLibrariesAndTheIcdInTheUsualDirectories) {
    unit_support::TempDir t("intel-us");
    auto lib = t.path / "usr/lib/x86_64-linux-gnu";
    for (auto [so, real] : {std::pair{"libze_loader.so.1", "libze_loader.so.1.17.6"},
                            std::pair{"libze_intel_gpu.so.1", "libze_intel_gpu.so.1.6.1"},
                            std::pair{"libigc.so.2", "libigc.so.2.5.6"}}) {
        intel_unit::tree_write(lib / real, "x");
        intel_unit::tree_link(lib / so, real);
    }
    intel_unit::tree_write(lib / "intel-opencl/libigdrcl.so", "x");
    intel_unit::tree_write(t.path / "etc/OpenCL/vendors/intel.icd", "libigdrcl.so\n");
    auto u = intel::find_user_space(t.path.string());
    EXPECT_TRUE(u.has("libze_loader.so.1"));
    EXPECT_TRUE(u.has("libze_intel_gpu.so.1"));
    EXPECT_TRUE(u.has("libigc.so.2"));
    EXPECT_TRUE(u.has("libigdrcl.so"));
    ASSERT_EQ(u.missing.size(), 1u);
    EXPECT_EQ(u.missing[0], "libigdfcl.so.*");
    ASSERT_EQ(u.icds.size(), 1u);
    auto dirs = intel::library_dirs(u);
    EXPECT_EQ(dirs.size(), 2u); // the lib dir and intel-opencl/
    const auto& ze = u.libraries[0];
    EXPECT_EQ(ze.path, "/usr/lib/x86_64-linux-gnu/libze_loader.so.1");
    EXPECT_EQ(ze.real_path, "/usr/lib/x86_64-linux-gnu/libze_loader.so.1.17.6");
}

TEST(IntelDoctor, HostRules) {
    unit_support::TempDir t("intel-doc");
    tree_build(t.path, {{"0000:18:00.0", 0x0bd5, "i915", 2, 1, 128},
                        {"0000:42:00.0", 0x9a49, "i915", 1, 2, -1}});
    auto h = discover_at(t.path);
    intel::UserSpace none;
    none.driver_root = "/nowhere";
    none.missing = {"libze_loader.so.1"};
    gantry::gpu_vendors::CallerIds root{true, 0, 0, false};
    auto f = intel::host_findings(h, none, root);
    auto has = [&](const char* id, findings::Severity sev) {
        for (const auto& x : f)
            if (x.id == id && x.severity == sev) return true;
        return false;
    };
    EXPECT_TRUE(has("INTEL-GPU", findings::Severity::pass));
    EXPECT_TRUE(has("INTEL-RENDER-NODE", findings::Severity::fail)); // the second has none
    EXPECT_TRUE(has("INTEL-USER-SPACE", findings::Severity::warn));
    EXPECT_FALSE(has("INTEL-DEVICE-UNKNOWN", findings::Severity::info)); // not reached: no node
    h.gpus.erase(h.gpus.begin() + 1);
    f = intel::host_findings(h, none, root);
    EXPECT_EQ(findings::worst(f), findings::Severity::warn);
    h.gpus.clear();
    f = intel::host_findings(h, none, root);
    ASSERT_EQ(f.size(), 1u);
    EXPECT_EQ(f[0].id, "INTEL-NO-GPU");
}

} // namespace intel_topology_test
