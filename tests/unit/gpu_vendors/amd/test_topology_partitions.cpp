// Tests of MI300 compute partitions in gpu_host::amd discovery, on hosts the Python builder makes
// (amdhost.py --shape mi300x-cpx: 8 MI300X in CPX mode, 64 KFD GPU nodes; partition 0 on the
// PCI device, partitions 1-7 on amdgpu_xcp_<k> platform devices), with the partitions sharing
// their GPU's unique_id (older kernels) or each having its own (--xcp-uids, newer kernels).
#include "amdhost_fixture.hpp"
#include "gpu_vendors/amd/topology.hpp"

#include <filesystem>
#include <gtest/gtest.h>
#include <set>
#include <string>

namespace gpu_amd_topology_partitions_test {

using namespace gantry;
namespace amd = gantry::gpu_vendors::amd;
using gantry::testing::AmdHostFixture;

namespace {

// Discovery reads the partitions as host.json describes them.
void expect_matches_description(const AmdHostFixture& f) {
    auto h = amd::discover({f.sys(), f.dev()});
    ASSERT_TRUE(h.usable) << h.unusable_reason;
    const auto& want = f.desc()["gpus"];
    ASSERT_EQ(h.gpus.size(), want.size());
    for (std::size_t i = 0; i < h.gpus.size(); ++i) {
        const auto& g = h.gpus[i];
        const auto& w = want[i];
        SCOPED_TRACE("GPU " + std::to_string(i));
        EXPECT_EQ(g.index, w["index"].get<int>());
        EXPECT_EQ(g.node, w["node"].get<unsigned>());
        EXPECT_EQ(g.pci_bus_id, w["bdf"].get<std::string>());
        EXPECT_EQ(g.uuid, w["uuid"].get<std::string>());
        EXPECT_EQ(g.num_xcc, 1u);
        EXPECT_EQ(g.render.path, w["render"].get<std::string>());
        EXPECT_TRUE(g.render.present);
        ASSERT_TRUE(g.card_matched);
        EXPECT_EQ(g.card.path, w["card"].get<std::string>());
        ASSERT_TRUE(g.partition.has_value());
        const auto& p = *g.partition;
        const auto& wp = w["partition"];
        EXPECT_EQ(p.index, wp["index"].get<int>());
        EXPECT_EQ(p.count, 8);
        EXPECT_EQ(p.platform_device,
                  wp["platform_device"].is_null() ? "" : wp["platform_device"].get<std::string>());
        EXPECT_EQ(p.parent_card.path, wp["parent_card"].get<std::string>());
        EXPECT_TRUE(p.parent_card.present);
        EXPECT_EQ(p.compute_mode, "CPX");
        EXPECT_EQ(p.memory_mode, "NPS4");
    }
}

} // namespace

TEST(AmdPartitions, CpxPartitionsSharingTheirGpusUniqueId) {
    if (auto why = AmdHostFixture::unavailable(); !why.empty()) GTEST_SKIP() << why;
    AmdHostFixture f("mi300x-cpx");
    ASSERT_TRUE(f.ok());
    expect_matches_description(f);
    auto h = amd::discover({f.sys(), f.dev()});
    // eight GPUs of eight partitions, each GPU's together, partition 0 first
    std::set<std::string> uuids;
    for (std::size_t i = 0; i < h.gpus.size(); ++i) {
        EXPECT_EQ(h.gpus[i].partition->index, static_cast<int>(i % 8));
        EXPECT_EQ(h.gpus[i].pci_bus_id, h.gpus[i - i % 8].pci_bus_id);
        uuids.insert(h.gpus[i].uuid);
    }
    EXPECT_EQ(uuids.size(), 8u);
    std::size_t shared = 0;
    for (const auto& n : h.notes) shared += n.find("is shared with another partition") != n.npos;
    EXPECT_EQ(shared, 64u);
}

TEST(AmdPartitions, CpxPartitionsWithTheirOwnUniqueIdsStayTogether) {
    if (auto why = AmdHostFixture::unavailable(); !why.empty()) GTEST_SKIP() << why;
    AmdHostFixture f("mi300x-cpx", "--xcp-uids");
    ASSERT_TRUE(f.ok());
    expect_matches_description(f);
    auto h = amd::discover({f.sys(), f.dev()});
    std::set<std::string> uuids;
    for (const auto& g : h.gpus) uuids.insert(g.uuid);
    EXPECT_EQ(uuids.size(), 64u);
    // by unique_id alone partition 0 of every GPU would come first; grouped, GPU 0 fills 0-7
    for (std::size_t i = 0; i < 8; ++i) EXPECT_EQ(h.gpus[i].pci_bus_id, h.gpus[0].pci_bus_id);
    for (const auto& n : h.notes) EXPECT_EQ(n.find("is shared"), n.npos) << n;
}

TEST(AmdPartitions, UnpartitionedShapesHaveNoPartitions) {
    if (auto why = AmdHostFixture::unavailable(); !why.empty()) GTEST_SKIP() << why;
    // near miss: the MI250X's two GCDs per board are two PCI functions, not partitions
    for (const char* shape : {"mi300x", "mi250x", "rx7900"}) {
        AmdHostFixture f(shape);
        ASSERT_TRUE(f.ok()) << shape;
        auto h = amd::discover({f.sys(), f.dev()});
        ASSERT_FALSE(h.gpus.empty());
        for (const auto& g : h.gpus) EXPECT_FALSE(g.partition.has_value()) << shape;
    }
}

// Mainline kernels give even an unpartitioned (SPX) MI300 its render node on an amdgpu_xcp_<k>
// platform device: its card is found there, and one node on its PCI device is no partition. A
// platform device of another name is not trusted (near miss).
TEST(AmdPartitions, RenderNodeOnAPlatformDevice) {
    if (auto why = AmdHostFixture::unavailable(); !why.empty()) GTEST_SKIP() << why;
    namespace stdfs = std::filesystem;
    for (const std::string name : {"amdgpu_xcp_3", "amdgpu_xcpX"}) {
        AmdHostFixture f("rx7900", "--devices files");
        ASSERT_TRUE(f.ok());
        const stdfs::path sys = f.sys();
        auto plat = sys / "sys/devices/platform" / name / "drm";
        stdfs::create_directories(plat / "renderD128");
        stdfs::create_directories(plat / "card9");
        stdfs::create_directory_symlink("../../../" + name, plat / "renderD128" / "device");
        stdfs::remove(sys / "sys/class/drm/renderD128");
        stdfs::create_directory_symlink("../../devices/platform/" + name + "/drm/renderD128",
                                        sys / "sys/class/drm/renderD128");
        auto h = amd::discover({f.sys(), f.dev()});
        const amd::Gpu* g = nullptr;
        for (const auto& x : h.gpus)
            if (x.drm_render_minor == 128) g = &x;
        ASSERT_NE(g, nullptr);
        EXPECT_FALSE(g->partition.has_value()) << name;
        if (name == "amdgpu_xcp_3") {
            EXPECT_TRUE(g->card_matched);
            EXPECT_EQ(g->card.path, "/dev/dri/card9");
        } else {
            EXPECT_FALSE(g->card_matched);
        }
    }
}

} // namespace gpu_amd_topology_partitions_test
