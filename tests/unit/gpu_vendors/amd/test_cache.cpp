// Tests of the AMD host cache (gpu_vendors/amd/cache.hpp) on simulated hosts
// (tests/fixtures/amdhost): a JSON round trip, a hit that reads no topology, and the key following
// what can change (generation_id, amdgpu's version, /dev/kfd and /dev/dri nodes) while staying put
// otherwise.
#include "amdhost_tree.hpp"
#include "gpu_vendors/amd/cache.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <sys/stat.h>

namespace gpu_amd_cache_test {

using namespace gantry;
namespace amd = gantry::gpu_vendors::amd;
namespace stdfs = std::filesystem;

namespace {

void write(const stdfs::path& p, const std::string& s) {
    std::ofstream(p, std::ios::trunc) << s;
}

// The GPU node whose properties name drm_render_minor 128 (GPU 7 of mi300x by unique_id).
std::string props_of_first_gpu_node(const amdtest::AmdHostTree& t) {
    return t.topology() + "/nodes/2/properties";
}

} // namespace

TEST(AmdCache, JsonRoundTrip) {
    amdtest::AmdHostTree t("mi250x");
    if (!t.available()) GTEST_SKIP() << "needs /usr/bin/python3 and amdhost.py";
    auto h = amd::discover({t.sys_root(), t.dev_root()});
    ASSERT_TRUE(h.usable);
    auto back = amd::host_from_json(amd::host_to_json(h));
    EXPECT_EQ(amd::host_to_json(back), amd::host_to_json(h));
    ASSERT_EQ(back.gpus.size(), 8u);
    EXPECT_EQ(back.gpus[3].uuid, h.gpus[3].uuid);
    EXPECT_EQ(back.gpus[3].sramecc, h.gpus[3].sramecc);
    EXPECT_EQ(back.gpus[3].card.path, h.gpus[3].card.path);
    EXPECT_EQ(back.kfd.major, h.kfd.major);
    EXPECT_EQ(back.generation_id, h.generation_id);
    EXPECT_THROW(amd::host_from_json("{\"sys_root\": 1}"), Error);
    EXPECT_THROW(amd::host_from_json("not json"), Error);
}

TEST(AmdCache, PartitionsSurviveTheRoundTrip) {
    amdtest::AmdHostTree t("mi300x-cpx");
    if (!t.available()) GTEST_SKIP() << "needs /usr/bin/python3 and amdhost.py";
    auto h = amd::discover({t.sys_root(), t.dev_root()});
    ASSERT_TRUE(h.usable);
    auto back = amd::host_from_json(amd::host_to_json(h));
    ASSERT_EQ(back.gpus.size(), h.gpus.size());
    for (std::size_t i = 0; i < h.gpus.size(); ++i) {
        ASSERT_EQ(back.gpus[i].partition.has_value(), h.gpus[i].partition.has_value()) << i;
        if (!h.gpus[i].partition) continue;
        const auto &a = *h.gpus[i].partition, &b = *back.gpus[i].partition;
        EXPECT_EQ(b.index, a.index);
        EXPECT_EQ(b.count, a.count);
        EXPECT_EQ(b.platform_device, a.platform_device);
        EXPECT_EQ(b.compute_mode, a.compute_mode);
        EXPECT_EQ(b.memory_mode, a.memory_mode);
        EXPECT_EQ(b.parent_card.path, a.parent_card.path);
    }
    EXPECT_TRUE(back.gpus[9].partition); // CPX: every GPU node is a partition
    EXPECT_EQ(back.gpus[9].partition->index, 1);
}

TEST(AmdCache, HitReadsNoTopologyUntilGenerationChanges) {
    amdtest::AmdHostTree t("mi300x");
    if (!t.available()) GTEST_SKIP() << "needs /usr/bin/python3 and amdhost.py";
    const std::string cache = t.base() + "/cache";
    amd::DiscoverOptions opt{t.sys_root(), t.dev_root()};
    auto first = amd::discover_cached(opt, cache);
    ASSERT_TRUE(first.usable);
    ASSERT_TRUE(stdfs::exists(cache + "/" + amd::cache_entry_name(opt)));
    // A change the key does not cover is not seen: the entry answered, not the topology.
    std::string props = fs::read_file(props_of_first_gpu_node(t));
    auto pos = props.find("num_xcc 8");
    ASSERT_NE(pos, std::string::npos);
    write(props_of_first_gpu_node(t), props.replace(pos, 9, "num_xcc 4"));
    auto cached = amd::discover_cached(opt, cache);
    EXPECT_EQ(amd::host_to_json(cached), amd::host_to_json(first));
    // The kernel bumps generation_id when the topology changes (a partition mode switch).
    write(t.topology() + "/generation_id", "2\n");
    auto fresh = amd::discover_cached(opt, cache);
    EXPECT_EQ(fresh.generation_id, std::optional<std::uint64_t>(2));
    bool seen = false;
    for (auto& g : fresh.gpus) seen |= g.num_xcc == 4;
    EXPECT_TRUE(seen);
    // no cache dir: always discovered
    EXPECT_EQ(amd::discover_cached(opt, "").generation_id, std::optional<std::uint64_t>(2));
}

TEST(AmdCache, KeyFollowsNodesAndDriverVersion) {
    amdtest::AmdHostTree t("rx7900");
    if (!t.available()) GTEST_SKIP() << "needs /usr/bin/python3 and amdhost.py";
    amd::DiscoverOptions opt{t.sys_root(), t.dev_root()};
    const std::string key = amd::cache_entry_name(opt);
    EXPECT_EQ(amd::cache_entry_name(opt), key); // stable
    ASSERT_EQ(::chmod((t.dev_root() + "/dev/kfd").c_str(), 0666), 0);
    const std::string after_chmod = amd::cache_entry_name(opt);
    EXPECT_NE(after_chmod, key);
    write(t.sys_root() + "/sys/module/amdgpu/version", "6.14.14\n");
    const std::string after_version = amd::cache_entry_name(opt);
    EXPECT_NE(after_version, after_chmod);
    // a render node goes away: the key changes and discovery sees it missing
    const std::string cache = t.base() + "/cache";
    ASSERT_TRUE(amd::discover_cached(opt, cache).gpus.at(0).render.present);
    stdfs::remove(t.dev_root() + "/dev/dri/renderD128");
    EXPECT_NE(amd::cache_entry_name(opt), after_version);
    bool missing = false;
    for (auto& g : amd::discover_cached(opt, cache).gpus)
        missing |= g.drm_render_minor == 128 && !g.render.present;
    EXPECT_TRUE(missing);
    // another dev root is another host
    EXPECT_NE(amd::cache_entry_name({t.sys_root(), t.base()}), amd::cache_entry_name(opt));
}

TEST(AmdCache, DamagedEntryIsRediscoveredAndUnusableHostsAreNotStored) {
    amdtest::AmdHostTree t("rx7900");
    if (!t.available()) GTEST_SKIP() << "needs /usr/bin/python3 and amdhost.py";
    const std::string cache = t.base() + "/cache";
    amd::DiscoverOptions opt{t.sys_root(), t.dev_root()};
    ASSERT_TRUE(amd::discover_cached(opt, cache).usable);
    write(cache + "/" + amd::cache_entry_name(opt), "{damaged");
    auto h = amd::discover_cached(opt, cache);
    EXPECT_TRUE(h.usable);
    EXPECT_EQ(h.gpus.size(), 2u);
    stdfs::create_directories(t.base() + "/nothing");
    amd::DiscoverOptions none{t.base() + "/nothing", t.base() + "/nothing"};
    EXPECT_FALSE(amd::discover_cached(none, cache).usable);
    EXPECT_FALSE(stdfs::exists(cache + "/" + amd::cache_entry_name(none)));
}

} // namespace gpu_amd_cache_test
