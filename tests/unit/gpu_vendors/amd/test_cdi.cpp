// Tests of `gantry cdi generate --vendor amd` (gpu_vendors::amd::generate_cdi) on hosts described
// in memory: the spec's shape (devices by index, "all", nodes and their numbers, nothing but device
// nodes), hostPath only for simulated dev roots, the lowest cdiVersion, uuid naming, and the
// warnings and errors for GPUs or hosts that cannot be described. Partitions on a discovered
// simulated host: test_cdi_partitions.cpp.
#include "cdi/spec_read.hpp"
#include "cdi/spec_versions.hpp"
#include "cdi/spec_write.hpp"
#include "gpu_vendors/amd/cdi.hpp"
#include "util/error.hpp"

#include <algorithm>
#include <gtest/gtest.h>
#include <string>
#include <vector>

namespace vendor_amd_cdi_test {

using namespace gantry;
namespace amd = gantry::gpu_vendors::amd;

namespace {

gpu_host::DeviceNode node(const std::string& dev_root, const std::string& path, long major,
                          long minor, std::uint32_t gid, std::uint32_t mode = 0660) {
    gpu_host::DeviceNode n;
    n.path = path;
    n.host_path = dev_root == "/" ? path : dev_root + path;
    n.type = 'c';
    n.major = major;
    n.minor = minor;
    n.mode = mode;
    n.uid = 0;
    n.gid = gid;
    n.present = true;
    return n;
}

// A usable host: /dev/kfd (major KFD_MAJOR) and N GPUs, GPU i on card<i> and renderD<128+i>.
amd::Host host(int n, const std::string& dev_root = "/sim/dev", long kfd_major = 242) {
    amd::Host h;
    h.sys_root = "/sim/sys";
    h.dev_root = dev_root;
    h.usable = true;
    h.kfd = node(dev_root, "/dev/kfd", kfd_major, 0, 109);
    for (int i = 0; i < n; ++i) {
        amd::Gpu g;
        g.index = i;
        g.node = static_cast<std::uint32_t>(2 + i);
        g.unique_id = 0x1000 + static_cast<std::uint64_t>(i);
        g.uuid = amd::uuid_of(*g.unique_id);
        g.gfx_target = "gfx942";
        g.pci_bus_id = amd::pci_bdf(0, static_cast<std::uint32_t>(0x10 + i) << 8);
        g.drm_render_minor = 128 + static_cast<std::uint32_t>(i);
        g.render = node(dev_root, "/dev/dri/renderD" + std::to_string(128 + i), 226, 128 + i, 109);
        g.card = node(dev_root, "/dev/dri/card" + std::to_string(i), 226, i, 44);
        g.card_matched = true;
        h.gpus.push_back(g);
    }
    return h;
}

std::vector<std::string> names(const cdi::Spec& s) {
    std::vector<std::string> out;
    for (const auto& d : s.devices) out.push_back(d.name);
    return out;
}

std::vector<std::string> paths(const cdi::Device& d) {
    std::vector<std::string> out;
    for (const auto& n : d.edits.device_nodes) out.push_back(n.path);
    return out;
}

gpu_vendors::CdiOptions opts(std::vector<std::string> naming = {}) {
    return {std::move(naming), "/usr/bin/gantry"};
}

Error error_of(const amd::Host& h, const gpu_vendors::CdiOptions& o = opts()) {
    try {
        gpu_vendors::amd::generate_cdi(h, o, nullptr);
    } catch (const Error& e) {
        return e;
    }
    ADD_FAILURE() << "no Error thrown";
    return Error(Errc::internal, "");
}

} // namespace

TEST(AmdCdi, OneDevicePerGpuByIndexPlusAll) {
    std::vector<std::string> warnings;
    auto s = gpu_vendors::amd::generate_cdi(host(3), opts(), &warnings);
    EXPECT_TRUE(warnings.empty());
    EXPECT_EQ(s.kind, "amd.com/gpu");
    EXPECT_EQ(names(s), (std::vector<std::string>{"0", "1", "2", "all"}));
    // each GPU: its card, its render node, then /dev/kfd (amd-ctk's order)
    EXPECT_EQ(paths(s.devices[1]),
              (std::vector<std::string>{"/dev/dri/card1", "/dev/dri/renderD129", "/dev/kfd"}));
    // all: every GPU's DRM nodes once, /dev/kfd once and last
    EXPECT_EQ(paths(s.devices[3]),
              (std::vector<std::string>{"/dev/dri/card0", "/dev/dri/renderD128", "/dev/dri/card1",
                                        "/dev/dri/renderD129", "/dev/dri/card2",
                                        "/dev/dri/renderD130", "/dev/kfd"}));
    // device nodes only: no mounts, env, hooks, gids; no spec-level edits
    EXPECT_TRUE(s.edits.empty());
    for (const auto& d : s.devices) {
        EXPECT_TRUE(d.edits.mounts.empty() && d.edits.env.empty() && d.edits.hooks.empty() &&
                    d.edits.additional_gids.empty() && d.annotations.empty())
            << d.name;
    }
    EXPECT_TRUE(cdi::validate(s).empty());
}

TEST(AmdCdi, NodesCarryLiveNumbersModeAndOwner) {
    auto h = host(2, "/sim/dev", 509);
    h.gpus[1].render.mode = 0666;
    h.gpus[1].render.uid = 7;
    auto s = gpu_vendors::amd::generate_cdi(h, opts(), nullptr);
    const auto& n = s.devices[1].edits.device_nodes;
    ASSERT_EQ(n.size(), 3u);
    EXPECT_EQ(n[0].type, "c");
    EXPECT_EQ(n[0].major, 226);
    EXPECT_EQ(n[0].minor, 1);
    EXPECT_EQ(n[0].gid, 44u);
    EXPECT_EQ(n[0].file_mode, 0660u);
    EXPECT_EQ(n[1].minor, 129);
    EXPECT_EQ(n[1].file_mode, 0666u);
    EXPECT_EQ(n[1].uid, 7u);
    EXPECT_EQ(n[1].gid, 109u);
    EXPECT_EQ(n[1].permissions, "rwm");
    // the kfd major is the host's (dynamic), never a constant
    EXPECT_EQ(n[2].path, "/dev/kfd");
    EXPECT_EQ(n[2].major, 509);
    EXPECT_EQ(n[2].minor, 0);
    EXPECT_EQ(s.devices[0].edits.device_nodes[2].major, 509);
    EXPECT_EQ(gpu_vendors::amd::generate_cdi(host(1, "/sim/dev", 243), opts(), nullptr)
                  .devices[0]
                  .edits.device_nodes[2]
                  .major,
              243);
}

TEST(AmdCdi, HostPathOnlyForASimulatedDevRootAndLowestVersion) {
    auto sim = gpu_vendors::amd::generate_cdi(host(1, "/sim/dev"), opts(), nullptr);
    EXPECT_EQ(sim.devices[0].edits.device_nodes[1].host_path, "/sim/dev/dev/dri/renderD128");
    EXPECT_EQ(sim.cdi_version, "0.5.0"); // hostPath and names starting with a digit
    auto real = gpu_vendors::amd::generate_cdi(host(1, "/"), opts(), nullptr);
    for (const auto& d : real.devices)
        for (const auto& n : d.edits.device_nodes) EXPECT_TRUE(n.host_path.empty()) << n.path;
    EXPECT_EQ(real.cdi_version, "0.5.0"); // "0" starts with a digit
    // UUID names only on a real root: nothing needs more than the format itself
    auto uuid = gpu_vendors::amd::generate_cdi(host(1, "/"), opts({"uuid"}), nullptr);
    EXPECT_EQ(names(uuid), (std::vector<std::string>{"GPU-0000000000001000", "all"}));
    EXPECT_EQ(uuid.cdi_version, "0.3.0");
    EXPECT_TRUE(cdi::check_version(uuid).empty());
    // and the written spec reads back as the same thing
    auto text = cdi::serialize(sim, cdi::Format::json);
    auto back = cdi::parse(text, cdi::Format::json, "amd.json");
    EXPECT_EQ(names(back), names(sim));
    EXPECT_EQ(back.devices[0].edits.device_nodes[2].major, 242);
}

TEST(AmdCdi, UuidNamingBesideIndexAndUnknownStrategy) {
    auto s = gpu_vendors::amd::generate_cdi(host(2), opts({"index", "uuid"}), nullptr);
    EXPECT_EQ(names(s), (std::vector<std::string>{"0", "GPU-0000000000001000", "1",
                                                  "GPU-0000000000001001", "all"}));
    EXPECT_EQ(paths(*s.find("GPU-0000000000001001")), paths(*s.find("1")));
    auto e = error_of(host(1), opts({"serial"}));
    EXPECT_EQ(e.code(), Errc::usage);
    EXPECT_NE(e.message().find("serial"), std::string::npos);
}

TEST(AmdCdi, GpuWithoutUuidIsNamedByIndex) {
    auto h = host(2);
    h.gpus[0].unique_id.reset();
    h.gpus[0].uuid.clear();
    std::vector<std::string> warnings;
    auto s = gpu_vendors::amd::generate_cdi(h, opts({"uuid"}), &warnings);
    EXPECT_EQ(names(s), (std::vector<std::string>{"0", "GPU-0000000000001001", "all"}));
    ASSERT_EQ(warnings.size(), 1u);
    EXPECT_NE(warnings[0].find("GPU 0 has no UUID"), std::string::npos) << warnings[0];
}

TEST(AmdCdi, MissingRenderNodeLeavesTheGpuOutWithAWarning) {
    auto h = host(3);
    h.gpus[1].render.present = false;
    std::vector<std::string> warnings;
    auto s = gpu_vendors::amd::generate_cdi(h, opts(), &warnings);
    EXPECT_EQ(names(s), (std::vector<std::string>{"0", "2", "all"})); // indices stay discovery's
    ASSERT_EQ(warnings.size(), 1u);
    EXPECT_NE(warnings[0].find("GPU 1: /sim/dev/dev/dri/renderD129 does not exist"),
              std::string::npos)
        << warnings[0];
    auto all = paths(*s.find("all"));
    EXPECT_EQ(std::count(all.begin(), all.end(), "/dev/dri/card1"), 0);
    EXPECT_EQ(all.size(), 5u);
}

TEST(AmdCdi, StandInFileIsNotACharDevice) {
    auto h = host(2);
    h.gpus[0].render.type = '-'; // a regular file standing in for the node
    std::vector<std::string> warnings;
    auto s = gpu_vendors::amd::generate_cdi(h, opts(), &warnings);
    EXPECT_EQ(names(s), (std::vector<std::string>{"1", "all"}));
    ASSERT_EQ(warnings.size(), 1u);
    EXPECT_NE(warnings[0].find("is not a character device"), std::string::npos);
}

TEST(AmdCdi, UnmatchedOrMissingCardKeepsRenderAndKfd) {
    auto h = host(3);
    h.gpus[0].card_matched = false;
    h.gpus[1].card.present = false;
    std::vector<std::string> warnings;
    auto s = gpu_vendors::amd::generate_cdi(h, opts(), &warnings);
    EXPECT_EQ(paths(s.devices[0]), (std::vector<std::string>{"/dev/dri/renderD128", "/dev/kfd"}));
    EXPECT_EQ(paths(s.devices[1]), (std::vector<std::string>{"/dev/dri/renderD129", "/dev/kfd"}));
    EXPECT_EQ(paths(s.devices[2]).size(), 3u);
    EXPECT_EQ(warnings.size(), 2u);
}

TEST(AmdCdi, NoUsableGpuIsNotFoundWithDiscoverysReason) {
    amd::Host none;
    none.dev_root = "/sim/dev";
    none.unusable_reason = "no KFD topology at /sim/sys/sys/class/kfd/kfd/topology/nodes";
    auto e = error_of(none);
    EXPECT_EQ(e.code(), Errc::not_found);
    EXPECT_NE(e.message().find(none.unusable_reason), std::string::npos) << e.message();
    EXPECT_NE(e.hint().find("--sys-root"), std::string::npos);

    auto h = host(2);
    h.kfd.type = '-';
    EXPECT_EQ(error_of(h).code(), Errc::not_found);
    EXPECT_NE(error_of(h).message().find("/sim/dev/dev/kfd is not a character device"),
              std::string::npos);

    auto bare = host(2);
    for (auto& g : bare.gpus) g.render.present = false;
    e = error_of(bare);
    EXPECT_EQ(e.code(), Errc::not_found);
    EXPECT_NE(e.message().find("none of the 2 GPUs"), std::string::npos) << e.message();
}

TEST(AmdCdi, PartitionsSharingAUuidAreNamedByIndexOnce) {
    auto h = host(4);
    for (int i = 0; i < 4; ++i) {
        auto& g = h.gpus[static_cast<std::size_t>(i)];
        g.pci_bus_id = "0000:05:00.0";
        g.unique_id = 0x77;
        g.uuid = amd::uuid_of(0x77);
        g.partition = amd::Partition{};
        g.partition->index = i;
        g.partition->count = 4;
    }
    h.gpus[3].uuid = amd::uuid_of(0x78); // near miss: a UUID of its own keeps its name
    std::vector<std::string> warnings;
    auto s = gpu_vendors::amd::generate_cdi(h, opts({"index", "uuid"}), &warnings);
    EXPECT_EQ(names(s),
              (std::vector<std::string>{"0", "1", "2", "3", "GPU-0000000000000078", "all"}));
    ASSERT_EQ(warnings.size(), 1u);
    EXPECT_NE(warnings[0].find("GPUs 0,1,2 (partitions of 0000:05:00.0) share UUID"),
              std::string::npos)
        << warnings[0];
}

} // namespace vendor_amd_cdi_test
