// Tests of gpu_host::amd topology discovery on sysfs/dev trees built in a temp directory in the
// shapes of real machines (8x MI300X, 4x MI250X = 8 GCDs, RX 7900 XTX + iGPU, CPU nodes mixed in)
// and on damaged or hostile trees. Device nodes are real char nodes when mknod works (root), else
// regular files standing in for them.
#include "gpu_vendors/amd/topology.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <string>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <vector>

namespace gpu_amd_topology_test {

using namespace gantry;
namespace amd = gantry::gpu_vendors::amd;
namespace stdfs = std::filesystem;

namespace {

struct NodeDesc {
    std::uint64_t simd_count = 0; // 0: a CPU node
    std::uint64_t gfx = 0, device_id = 0, location_id = 0, domain = 0, render_minor = 0;
    std::uint64_t unique_id = 0, num_xcc = 1, gpu_id = 0;
    std::uint64_t capability = 0x2807a280; // SVM, debug firmware; | 0x04000000: SRAM ECC on
    int card = -1;                         // card<M> under the PCI device's drm/, -1: none
    std::string name;
};

void write(const stdfs::path& p, const std::string& content) {
    stdfs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << content;
}

// A properties file with the keys in the kernel's order (rocm.md §2, kfd_topology.c node_show).
std::string properties(const NodeDesc& n) {
    bool gpu = n.simd_count != 0;
    std::string s;
    auto line = [&](const char* key, std::uint64_t v) {
        s += std::string(key) + " " + std::to_string(v) + "\n";
    };
    line("cpu_cores_count", gpu ? 0 : 96);
    line("simd_count", n.simd_count);
    for (const char* k :
         {"mem_banks_count", "caches_count", "io_links_count", "p2p_links_count",
          "cpu_core_id_base", "simd_id_base", "max_waves_per_simd", "lds_size_in_kb",
          "gds_size_in_kb", "num_gws", "wave_front_size", "array_count", "simd_arrays_per_engine",
          "cu_per_simd_array", "simd_per_cu", "max_slots_scratch_cu"})
        line(k, gpu ? 4 : 0);
    line("gfx_target_version", n.gfx);
    line("vendor_id", gpu ? 4098 : 0);
    line("device_id", n.device_id);
    line("location_id", n.location_id);
    line("domain", n.domain);
    line("drm_render_minor", n.render_minor);
    for (const char* k : {"hive_id", "num_sdma_engines", "num_sdma_xgmi_engines",
                          "num_sdma_queues_per_engine", "num_cp_queues"})
        line(k, gpu ? 2 : 0);
    if (gpu) {
        for (const char* k : {"max_engine_clk_fcompute", "local_mem_size", "fw_version"})
            line(k, 1);
        line("capability", n.capability);
        for (const char* k : {"capability2", "debug_prop", "sdma_fw_version"}) line(k, 1);
        line("unique_id", n.unique_id);
        line("num_xcc", n.num_xcc);
    }
    line("max_engine_clk_ccompute", 2100);
    return s;
}

// Makes a char node (root) or a regular stand-in.
void make_node(const stdfs::path& p, unsigned major, unsigned minor) {
    stdfs::create_directories(p.parent_path());
    if (::mknod(p.c_str(), S_IFCHR | 0660, makedev(major, minor)) != 0) write(p, "");
}

struct TempTree {
    stdfs::path dir;
    TempTree() {
        dir = stdfs::temp_directory_path() / ("gantry-amd-" + fs::unique_name());
        stdfs::create_directories(dir);
    }
    ~TempTree() { fs::remove_tree(dir); }
    stdfs::path sys() const { return dir / "sys-root"; }
    stdfs::path dev() const { return dir / "dev-root"; }
    stdfs::path topo() const { return sys() / "sys/devices/virtual/kfd/kfd/topology"; }

    // The host: KFD topology (reached through the class/kfd/kfd link, as on a real system),
    // PCI devices with their drm/ directories and class/drm links, dev/kfd and dev/dri nodes.
    void build(const std::vector<NodeDesc>& nodes, unsigned kfd_major = 509) {
        stdfs::create_directories(sys() / "sys/class/kfd");
        stdfs::create_directory_symlink("../../devices/virtual/kfd/kfd",
                                        sys() / "sys/class/kfd/kfd");
        write(topo() / "generation_id", "1\n");
        write(topo() / "system_properties", "platform_oem 0\n");
        write(sys() / "sys/module/amdgpu/version", "6.12.12\n");
        make_node(dev() / "dev/kfd", kfd_major, 0);
        for (std::size_t i = 0; i < nodes.size(); ++i) {
            const NodeDesc& n = nodes[i];
            auto nd = topo() / "nodes" / std::to_string(i);
            write(nd / "properties", properties(n));
            write(nd / "gpu_id", std::to_string(n.gpu_id) + "\n");
            write(nd / "name",
                  (n.name.empty() ? std::string(n.simd_count ? "ip discovery" : "") : n.name) +
                      "\n");
            if (!n.simd_count) continue;
            auto bdf = amd::pci_bdf(static_cast<std::uint32_t>(n.domain),
                                    static_cast<std::uint32_t>(n.location_id));
            auto pci = sys() / "sys/devices/pci0000:00" / bdf;
            auto render = "renderD" + std::to_string(n.render_minor);
            stdfs::create_directories(pci / "drm" / render);
            stdfs::create_directories(sys() / "sys/class/drm");
            stdfs::create_directory_symlink("../../devices/pci0000:00/" + bdf + "/drm/" + render,
                                            sys() / "sys/class/drm" / render);
            stdfs::create_directory_symlink("../../../" + bdf, pci / "drm" / render / "device");
            make_node(dev() / "dev/dri" / render, 226, static_cast<unsigned>(n.render_minor));
            if (n.card >= 0) {
                auto card = "card" + std::to_string(n.card);
                stdfs::create_directories(pci / "drm" / card);
                make_node(dev() / "dev/dri" / card, 226, static_cast<unsigned>(n.card));
            }
        }
    }
    amd::Host discover() const { return amd::discover({sys().string(), dev().string()}); }
};

NodeDesc cpu() {
    return NodeDesc{};
}

std::vector<NodeDesc> mi300x() {
    // Two CPU sockets, then eight gfx942 GPUs; PCI addresses deliberately not in node order.
    std::vector<NodeDesc> nodes{cpu(), cpu()};
    const unsigned buses[] = {0xf5, 0xe5, 0x95, 0x85, 0x75, 0x65, 0x15, 0x05};
    for (int i = 0; i < 8; ++i) {
        NodeDesc g;
        g.simd_count = 1216;
        g.gfx = 90402;
        g.device_id = 0x74a1;
        g.location_id = buses[i] << 8;
        g.render_minor = 128 + static_cast<unsigned>(i);
        g.card = i;
        g.unique_id = 0x9000000000000000ull - static_cast<std::uint64_t>(i) * 0x1111;
        g.num_xcc = 8;
        g.capability |= 0x04000000;
        g.gpu_id = 1000 + static_cast<unsigned>(i);
        nodes.push_back(g);
    }
    return nodes;
}

std::vector<NodeDesc> mi250x() {
    // One CPU node; four MI250X, two GCDs each (two KFD nodes on neighbouring PCI functions).
    std::vector<NodeDesc> nodes{cpu()};
    for (int i = 0; i < 8; ++i) {
        NodeDesc g;
        g.simd_count = 440;
        g.gfx = 90010;
        g.device_id = 0x740c;
        g.location_id = static_cast<unsigned>(0xc1 + i / 2 * 0x10 + i % 2) << 8;
        g.render_minor = 128 + static_cast<unsigned>(i);
        g.card = i;
        g.unique_id = 0x1000 + static_cast<std::uint64_t>(i);
        nodes.push_back(g);
    }
    return nodes;
}

std::vector<NodeDesc> rx7900() {
    // CPU node, the Raphael iGPU (gfx1036) and an RX 7900 XTX (gfx1100) on domain 0.
    NodeDesc igpu;
    igpu.simd_count = 4;
    igpu.gfx = 100306;
    igpu.device_id = 0x164e;
    igpu.location_id = 0x12 << 8;
    igpu.render_minor = 129;
    igpu.card = 1;
    igpu.unique_id = 0x2222;
    NodeDesc dgpu;
    dgpu.simd_count = 192;
    dgpu.gfx = 110000;
    dgpu.device_id = 29772;
    dgpu.location_id = 0x03 << 8;
    dgpu.render_minor = 128;
    dgpu.card = 0;
    dgpu.unique_id = 0x1111;
    return {cpu(), igpu, dgpu};
}

template <class F>
std::string error_of(F&& f) {
    try {
        f();
    } catch (const Error& e) {
        EXPECT_FALSE(e.hint().empty());
        return e.message();
    }
    ADD_FAILURE() << "no Error thrown";
    return {};
}

} // namespace

TEST(AmdTopology, GfxNames) {
    EXPECT_EQ(amd::gfx_name(90010), "gfx90a");
    EXPECT_EQ(amd::gfx_name(90402), "gfx942");
    EXPECT_EQ(amd::gfx_name(110000), "gfx1100");
    EXPECT_EQ(amd::gfx_name(90012), "gfx90c");
    EXPECT_EQ(amd::gfx_name(90008), "gfx908");
    EXPECT_EQ(amd::gfx_name(100300), "gfx1030");
    EXPECT_EQ(amd::gfx_name(120001), "gfx1201");
    EXPECT_FALSE(amd::gfx_name(0));
    EXPECT_FALSE(amd::gfx_name(91000)); // minor 10
    EXPECT_FALSE(amd::gfx_name(90016)); // stepping 16
    EXPECT_FALSE(amd::gfx_name(99));    // major 0
}

TEST(AmdTopology, BdfAndUuid) {
    EXPECT_EQ(amd::pci_bdf(0, 0xc100), "0000:c1:00.0");
    EXPECT_EQ(amd::pci_bdf(1, (0x3b << 8) | (2 << 3) | 1), "0001:3b:02.1");
    EXPECT_EQ(amd::uuid_of(0xecff3f5547b240c7ull), "GPU-ecff3f5547b240c7");
    EXPECT_EQ(amd::uuid_of(0x12), "GPU-0000000000000012");
}

TEST(AmdTopology, ParsePropertiesStrict) {
    auto p = amd::parse_properties("simd_count 4\nunique_id 18446744073709551615\n\n", "f");
    EXPECT_EQ(p.at("simd_count"), 4u);
    EXPECT_EQ(p.at("unique_id"), UINT64_MAX);
    EXPECT_NE(error_of([] {
                  amd::parse_properties("unique_id 18446744073709551616\n", "F");
              }).find("F line 1"),
              std::string::npos);
    error_of([] { amd::parse_properties("simd_count 12a\n", "f"); });
    error_of([] { amd::parse_properties("simd_count -1\n", "f"); });
    error_of([] { amd::parse_properties("simd_count\n", "f"); });
    error_of([] { amd::parse_properties("simd_count 1 2\n", "f"); });
    error_of([] { amd::parse_properties("Simd$ 1\n", "f"); });
    error_of([] { amd::parse_properties("a 1\na 2\n", "f"); });
}

TEST(AmdTopology, EightMi300x) {
    TempTree t;
    t.build(mi300x(), 509);
    auto h = t.discover();
    ASSERT_TRUE(h.usable) << h.unusable_reason;
    EXPECT_EQ(h.cpu_nodes, 2u);
    EXPECT_EQ(h.driver_version, "6.12.12");
    EXPECT_EQ(h.generation_id, 1u);
    ASSERT_EQ(h.gpus.size(), 8u);
    if (h.kfd.type == 'c') {
        EXPECT_EQ(h.kfd.major, 509); // dynamic major, read from stat
    }
    // PCI addresses fall with node number, so index 0 is the last node (amd-ctk's order).
    EXPECT_EQ(h.gpus[0].node, 9u);
    EXPECT_EQ(h.gpus[7].node, 2u);
    for (std::size_t i = 0; i < 8; ++i) {
        const auto& g = h.gpus[i];
        EXPECT_EQ(g.index, static_cast<int>(i));
        EXPECT_EQ(g.gfx_target, "gfx942");
        EXPECT_EQ(g.num_xcc, 8u);
        EXPECT_EQ(g.vendor_id, 0x1002u);
        EXPECT_EQ(g.marketing_name, "AMD Instinct MI300X");
        EXPECT_EQ(g.uuid, amd::uuid_of(*g.unique_id));
        EXPECT_TRUE(g.render.present);
        EXPECT_EQ(g.render.path, "/dev/dri/renderD" + std::to_string(g.drm_render_minor));
        EXPECT_TRUE(g.card_matched);
        EXPECT_EQ(g.card.path, "/dev/dri/card" + std::to_string(g.drm_render_minor - 128));
        EXPECT_FALSE(g.xnack.has_value());
        EXPECT_EQ(g.sramecc, true);
        if (g.render.type == 'c') {
            EXPECT_EQ(g.render.major, 226);
            EXPECT_EQ(g.render.minor, g.drm_render_minor);
        }
    }
    EXPECT_EQ(h.gpus[0].pci_bus_id, "0000:05:00.0");
    EXPECT_EQ(h.gpus[7].pci_bus_id, "0000:f5:00.0");
    EXPECT_EQ(h.gpus[7].gpu_id, 1000u);
}

TEST(AmdTopology, FourMi250xAreEightGcds) {
    TempTree t;
    t.build(mi250x());
    auto h = t.discover();
    ASSERT_TRUE(h.usable) << h.unusable_reason;
    ASSERT_EQ(h.gpus.size(), 8u);
    EXPECT_EQ(h.cpu_nodes, 1u);
    EXPECT_EQ(h.gpus[0].gfx_target, "gfx90a");
    EXPECT_EQ(h.gpus[0].pci_bus_id, "0000:c1:00.0");
    EXPECT_EQ(h.gpus[1].pci_bus_id, "0000:c2:00.0");
    EXPECT_EQ(h.gpus[0].num_xcc, 1u);
    EXPECT_EQ(h.gpus[0].sramecc, false); // gfx90a has the feature; this capability lacks the bit
    EXPECT_EQ(h.gpus[0].marketing_name, "AMD Instinct MI250X / MI250");
}

TEST(AmdTopology, Rx7900WithIgpu) {
    TempTree t;
    t.build(rx7900());
    auto h = t.discover();
    ASSERT_TRUE(h.usable);
    ASSERT_EQ(h.gpus.size(), 2u);
    // PCI order: the discrete card (bus 03) before the iGPU (bus 12), whose KFD node is first.
    EXPECT_EQ(h.gpus[0].gfx_target, "gfx1100");
    EXPECT_EQ(h.gpus[0].marketing_name, "AMD Radeon RX 7900 XTX");
    EXPECT_EQ(h.gpus[0].render.path, "/dev/dri/renderD128");
    EXPECT_FALSE(h.gpus[0].sramecc.has_value()); // gfx1100 has no sramecc feature
    EXPECT_EQ(h.gpus[1].gfx_target, "gfx1036");
    EXPECT_EQ(h.gpus[1].marketing_name, "");
    EXPECT_EQ(h.gpus[1].card.path, "/dev/dri/card1");
}

TEST(AmdTopology, NoKfdIsNotUsable) {
    TempTree t;
    t.build(rx7900());
    stdfs::remove(t.dev() / "dev/kfd");
    auto h = t.discover();
    EXPECT_FALSE(h.usable);
    EXPECT_NE(h.unusable_reason.find("/dev/kfd does not exist"), std::string::npos);
    EXPECT_EQ(h.gpus.size(), 2u);
}

TEST(AmdTopology, NoTopologyIsNotUsable) {
    TempTree t;
    stdfs::create_directories(t.sys() / "sys");
    stdfs::create_directories(t.dev() / "dev");
    auto h = t.discover();
    EXPECT_FALSE(h.usable);
    EXPECT_NE(h.unusable_reason.find("no KFD topology"), std::string::npos);
}

TEST(AmdTopology, CpuOnlyTopologyIsNotUsable) {
    TempTree t;
    t.build({cpu()});
    auto h = t.discover();
    EXPECT_FALSE(h.usable);
    EXPECT_NE(h.unusable_reason.find("no GPU node"), std::string::npos);
}

TEST(AmdTopology, InTreeDriverHasNoVersion) {
    TempTree t;
    t.build(rx7900());
    stdfs::remove(t.sys() / "sys/module/amdgpu/version");
    auto h = t.discover();
    EXPECT_TRUE(h.usable);
    EXPECT_EQ(h.driver_version, "");
    bool noted = false;
    for (const auto& n : h.notes) noted |= n.find("amdgpu/version") != std::string::npos;
    EXPECT_TRUE(noted);
}

TEST(AmdTopology, UnmatchedCardKeepsRenderNode) {
    TempTree t;
    auto nodes = rx7900();
    nodes[2].card = -1;
    t.build(nodes);
    auto h = t.discover();
    EXPECT_TRUE(h.gpus[0].render.present);
    EXPECT_FALSE(h.gpus[0].card_matched);
}

TEST(AmdTopology, CardOfAnotherPciDeviceIsNotMatched) {
    TempTree t;
    t.build(rx7900());
    // renderD128's device link points at the iGPU's PCI device: the BDFs disagree.
    auto link = t.sys() / "sys/devices/pci0000:00/0000:03:00.0/drm/renderD128/device";
    stdfs::remove(link);
    stdfs::create_directory_symlink("../../../0000:12:00.0", link);
    auto h = t.discover();
    EXPECT_TRUE(h.gpus[0].render.present);
    EXPECT_FALSE(h.gpus[0].card_matched);
    EXPECT_TRUE(h.gpus[1].card_matched);
}

TEST(AmdTopology, DuplicateRenderMinorRefused) {
    TempTree t;
    auto nodes = rx7900();
    t.build(nodes);
    nodes[1].render_minor = 128; // the iGPU claims the discrete card's render node
    write(t.topo() / "nodes/1/properties", properties(nodes[1]));
    auto msg = error_of([&] { t.discover(); });
    EXPECT_NE(msg.find("same drm_render_minor 128"), std::string::npos) << msg;
}

TEST(AmdTopology, MissingFieldNamesTheFile) {
    TempTree t;
    t.build(rx7900());
    auto file = t.topo() / "nodes/2/properties";
    write(file, "simd_count 192\ngfx_target_version 110000\n");
    auto msg = error_of([&] { t.discover(); });
    EXPECT_NE(msg.find("nodes/2/properties"), std::string::npos) << msg;
    EXPECT_NE(msg.find("vendor_id"), std::string::npos) << msg;
}

TEST(AmdTopology, JunkAndOverflow) {
    TempTree t;
    t.build(rx7900());
    auto file = t.topo() / "nodes/1/properties";
    auto good = properties(rx7900()[1]);
    write(file, good + "drm_render_minor x129\n");
    error_of([&] { t.discover(); });
    std::string big = good;
    big.replace(big.find("gfx_target_version 100306"), 25, "gfx_target_version 4294967296");
    write(file, big);
    EXPECT_NE(error_of([&] { t.discover(); }).find("32 bits"), std::string::npos);
    big = good;
    big.replace(big.find("gfx_target_version 100306"), 25, "gfx_target_version 91000");
    write(file, big);
    EXPECT_NE(error_of([&] { t.discover(); }).find("gfx_target_version"), std::string::npos);
    write(t.topo() / "generation_id", "one\n");
    write(file, good);
    EXPECT_NE(error_of([&] { t.discover(); }).find("generation_id"), std::string::npos);
}

TEST(AmdTopology, OversizedFileRefused) {
    TempTree t;
    t.build(rx7900());
    write(t.topo() / "nodes/0/properties", std::string(100000, '\n'));
    EXPECT_NE(error_of([&] { t.discover(); }).find("larger than"), std::string::npos);
}

TEST(AmdTopology, SymlinkOutOfRootIsNotFollowed) {
    TempTree t;
    t.build(rx7900());
    // A valid GPU properties file outside the sys root, linked absolutely and by "..": neither
    // may be read (RESOLVE_IN_ROOT confines both to the root, where nothing is there).
    auto outside = t.dir / "outside-properties";
    write(outside, properties(rx7900()[2]));
    auto file = t.topo() / "nodes/2/properties";
    stdfs::remove(file);
    stdfs::create_symlink(outside, file);
    EXPECT_NE(error_of([&] { t.discover(); }).find("does not exist"), std::string::npos);
    stdfs::remove(file);
    stdfs::create_symlink("../../../../../../../../../../../../outside-properties", file);
    EXPECT_NE(error_of([&] { t.discover(); }).find("does not exist"), std::string::npos);
}

// A tree made by the Python builder (tests/fixtures/amdhost/amdhost.py) reads as its host.json
// says. Python runs when the test runs, never at build time; no Python: skipped.
TEST(AmdTopology, SimulatedAmdHostFixture) {
    const stdfs::path script = stdfs::path(GANTRY_TESTS_DIR) / "fixtures/amdhost/amdhost.py";
    const std::string python =
        stdfs::exists("/usr/bin/python3") ? "/usr/bin/python3" : std::string("python3");
    if (!stdfs::exists(script) || std::system((python + " --version >/dev/null 2>&1").c_str()) != 0)
        GTEST_SKIP() << "no amdhost.py or python3";
    for (const char* shape : {"mi300x", "mi250x", "rx7900"}) {
        TempTree t;
        const std::string out = (t.dir / shape).string();
        const std::string cmd = python + " '" + script.string() + "' build --shape " + shape +
                                " --kfd-major 242 '" + out + "' >/dev/null 2>&1";
        ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
        auto want = nlohmann::json::parse(fs::read_file(out + "/host.json"));
        auto h = amd::discover({out + "/sys", out + "/dev"});
        ASSERT_TRUE(h.usable) << shape << ": " << h.unusable_reason;
        EXPECT_EQ(h.driver_version, "6.12.12");
        EXPECT_EQ(h.cpu_nodes, want["cpu_nodes"].get<unsigned>());
        if (want["real_nodes"].get<bool>()) {
            EXPECT_EQ(h.kfd.type, 'c');
            EXPECT_EQ(h.kfd.major, 242);
        }
        ASSERT_EQ(h.gpus.size(), want["gpus"].size()) << shape;
        for (std::size_t i = 0; i < h.gpus.size(); ++i) {
            const auto& g = h.gpus[i];
            const auto& w = want["gpus"][i];
            EXPECT_EQ(g.index, w["index"].get<int>());
            EXPECT_EQ(g.node, w["node"].get<unsigned>());
            EXPECT_EQ(g.uuid, w["uuid"].get<std::string>());
            EXPECT_EQ(g.gfx_target, w["gfx_target"].get<std::string>());
            EXPECT_EQ(g.pci_bus_id, w["bdf"].get<std::string>());
            EXPECT_EQ(g.num_xcc, w["num_xcc"].get<unsigned>());
            EXPECT_EQ(g.marketing_name, w["marketing_name"].get<std::string>());
            EXPECT_EQ(g.render.path, w["render"].get<std::string>());
            EXPECT_TRUE(g.render.present);
            EXPECT_TRUE(g.card_matched) << shape << " GPU " << i;
            EXPECT_EQ(g.card.path, w["card"].get<std::string>());
            EXPECT_EQ(g.render.mode, 0660u);
            if (w["sramecc"].is_null())
                EXPECT_FALSE(g.sramecc.has_value());
            else
                EXPECT_EQ(g.sramecc, w["sramecc"].get<bool>());
        }
    }
}

} // namespace gpu_amd_topology_test
