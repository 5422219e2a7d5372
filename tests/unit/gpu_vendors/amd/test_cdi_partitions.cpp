// `gantry cdi generate --vendor amd` on discovered simulated hosts (tests/fixtures/amdhost): the
// MI300X in CPX mode (a device per partition, each with its own card and render node) and an
// unpartitioned host, read through gpu_vendors::amd::discover as the CLI does. Device nodes are
// real char nodes when the builder runs as root; as another user they are stand-in files, which the
// generator must refuse to describe.
#include "amdhost_fixture.hpp"
#include "cdi/spec_read.hpp"
#include "gpu_vendors/amd/cdi.hpp"
#include "util/error.hpp"

#include <gtest/gtest.h>
#include <set>
#include <string>

namespace vendor_amd_cdi_partitions_test {

using namespace gantry;
namespace amd = gantry::gpu_vendors::amd;
using gantry::testing::AmdHostFixture;

namespace {

gpu_vendors::CdiOptions opts() {
    return {{}, "/usr/bin/gantry"};
}

} // namespace

TEST(AmdCdiPartitions, ADevicePerPartitionWithItsOwnNodes) {
    if (auto why = AmdHostFixture::unavailable(); !why.empty()) GTEST_SKIP() << why;
    AmdHostFixture f("mi300x-cpx", "--kfd-major 243");
    ASSERT_TRUE(f.ok());
    auto host = amd::discover({f.sys(), f.dev()});
    if (!f.real_nodes()) { // stand-in files: nothing to describe
        try {
            gpu_vendors::amd::generate_cdi(host, opts(), nullptr);
            ADD_FAILURE() << "stand-in nodes were described";
        } catch (const Error& e) {
            EXPECT_EQ(e.code(), Errc::not_found);
            EXPECT_NE(e.message().find("is not a character device"), std::string::npos);
        }
        return;
    }
    std::vector<std::string> warnings;
    auto s = gpu_vendors::amd::generate_cdi(host, opts(), &warnings);
    EXPECT_TRUE(warnings.empty()) << warnings.front();
    EXPECT_TRUE(cdi::validate(s).empty());
    ASSERT_EQ(s.devices.size(), 65u);
    const auto& want = f.desc()["gpus"];
    std::set<std::string> cards;
    for (std::size_t i = 0; i < 64; ++i) {
        const auto& d = s.devices[i];
        const auto& w = want[i];
        EXPECT_EQ(d.name, std::to_string(i));
        ASSERT_EQ(d.edits.device_nodes.size(), 3u) << d.name;
        const auto& card = d.edits.device_nodes[0];
        const auto& render = d.edits.device_nodes[1];
        EXPECT_EQ(card.path, w["card"].get<std::string>()) << d.name;
        EXPECT_EQ(render.path, w["render"].get<std::string>()) << d.name;
        EXPECT_EQ(render.minor,
                  std::stoi(render.path.substr(std::string("/dev/dri/renderD").size())));
        EXPECT_EQ(card.major, 226);
        EXPECT_EQ(d.edits.device_nodes[2].path, "/dev/kfd");
        EXPECT_EQ(d.edits.device_nodes[2].major, 243);
        cards.insert(card.path);
    }
    EXPECT_EQ(cards.size(), 64u); // partitions 1-7 have their platform device's own card node
    const auto& all = s.devices[64];
    EXPECT_EQ(all.name, "all");
    EXPECT_EQ(all.edits.device_nodes.size(), 129u);
    EXPECT_EQ(all.edits.device_nodes.back().path, "/dev/kfd");
}

TEST(AmdCdiPartitions, UnpartitionedHostMatchesItsDescription) {
    if (auto why = AmdHostFixture::unavailable(); !why.empty()) GTEST_SKIP() << why;
    AmdHostFixture f("rx7900");
    ASSERT_TRUE(f.ok());
    if (!f.real_nodes()) GTEST_SKIP() << "device nodes need root (mknod); covered above";
    auto s = gpu_vendors::amd::generate_cdi(amd::discover({f.sys(), f.dev()}), opts(), nullptr);
    const auto& want = f.desc()["gpus"];
    ASSERT_EQ(s.devices.size(), want.size() + 1);
    for (std::size_t i = 0; i < want.size(); ++i) {
        const auto& n = s.devices[i].edits.device_nodes;
        ASSERT_EQ(n.size(), 3u);
        EXPECT_EQ(n[0].path, want[i]["card"].get<std::string>());
        EXPECT_EQ(n[0].gid, 44u); // video
        EXPECT_EQ(n[1].path, want[i]["render"].get<std::string>());
        EXPECT_EQ(n[1].gid, 109u); // render
        EXPECT_EQ(n[1].host_path, f.dev() + n[1].path);
        EXPECT_EQ(n[2].major, 509);
    }
}

TEST(AmdCdiPartitions, StandInFilesAreNotDescribed) {
    if (auto why = AmdHostFixture::unavailable(); !why.empty()) GTEST_SKIP() << why;
    AmdHostFixture f("mi300x-cpx", "--devices files");
    ASSERT_TRUE(f.ok());
    auto host = amd::discover({f.sys(), f.dev()});
    try {
        gpu_vendors::amd::generate_cdi(host, opts(), nullptr);
        ADD_FAILURE() << "stand-in nodes were described";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::not_found);
        EXPECT_NE(e.message().find(f.dev() + "/dev/kfd is not a character device"),
                  std::string::npos)
            << e.message();
    }
}

} // namespace vendor_amd_cdi_partitions_test
