#include "gpu_vendors/nvidia/host_cache.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>

namespace gpu_cache_test {

using namespace gantry;

namespace {

gpu_vendors::nvidia::Host sample_host(const std::string& root) {
    gpu_vendors::nvidia::Host h;
    h.driver_root = root;
    h.driver_version = "580.95.05";
    h.cuda_version = 13000;
    h.nvml_loaded = true;
    gpu_vendors::nvidia::Device d;
    d.index = 1;
    d.minor = 3;
    d.uuid = "GPU-1234";
    d.name = "NVIDIA A100";
    d.cc_major = 8;
    d.memory = 42;
    d.mig_enabled = true;
    gpu_vendors::nvidia::MigDevice m;
    m.gi = 2;
    m.ci = 0;
    m.uuid = "MIG-9";
    m.gi_cap.path = "/dev/nvidia-caps/nvidia-cap21";
    m.gi_cap.present = true;
    d.migs.push_back(m);
    d.node.path = "/dev/nvidia3";
    d.node.major = 195;
    d.node.minor = 3;
    h.devices.push_back(d);
    h.libraries.push_back({root + "/lib/libcuda.so.580.95.05",
                           "libcuda.so.580.95.05",
                           "libcuda.so.1",
                           false,
                           {gpu_vendors::nvidia::Capability::compute}});
    h.ipc.push_back({"/run/x", "/run/x", gpu_vendors::nvidia::Capability::utility});
    h.ctl.path = "/dev/nvidiactl";
    h.ctl.present = true;
    h.notes = {"a note"};
    return h;
}

} // namespace

TEST(GpuCache, JsonRoundTripKeepsEverything) {
    auto h = sample_host("/drv");
    auto back = gpu_vendors::nvidia::host_from_json(gpu_vendors::nvidia::host_to_json(h));
    EXPECT_EQ(gpu_vendors::nvidia::host_to_json(back), gpu_vendors::nvidia::host_to_json(h));
    EXPECT_EQ(back.devices.at(0).migs.at(0).uuid, "MIG-9");
    EXPECT_EQ(back.libraries.at(0).soname, "libcuda.so.1");
    EXPECT_TRUE(back.libraries.at(0).caps.count(gpu_vendors::nvidia::Capability::compute));
    EXPECT_EQ(back.ipc.at(0).cap, gpu_vendors::nvidia::Capability::utility);
    EXPECT_THROW(gpu_vendors::nvidia::host_from_json("{\"driver_root\": 1}"), Error);
}

TEST(GpuCache, EntryIsKeyedByTheDriverFiles) {
    namespace stdfs = std::filesystem;
    auto dir = stdfs::temp_directory_path() / ("gantry-gpucache-" + fs::unique_name());
    auto root = dir / "driver";
    stdfs::create_directories(root / "proc/driver/nvidia");
    stdfs::create_directories(root / "etc");
    std::ofstream(root / "proc/driver/nvidia/version")
        << "NVRM version: NVIDIA UNIX x86_64 Kernel Module  580.95.05  Thu Sep 25 2025\n";
    std::ofstream(root / "etc/ld.so.cache") << "x";
    gpu_vendors::nvidia::DiscoverOptions opt{root.string(), (dir / "devroot").string(), false};
    auto cache = (dir / "cache").string();
    auto first = gpu_vendors::nvidia::discover_cached(opt, cache);
    ASSERT_EQ(first.driver_version, "580.95.05");
    auto entries = [&] {
        size_t n = 0;
        for (auto& e : stdfs::directory_iterator(cache)) n += e.is_regular_file();
        return n;
    };
    EXPECT_EQ(entries(), 1u);
    gpu_vendors::nvidia::discover_cached(opt, cache); // a hit: no new entry
    EXPECT_EQ(entries(), 1u);
    // A driver upgrade changes the version file: a new entry, and the new version.
    std::ofstream(root / "proc/driver/nvidia/version")
        << "NVRM version: NVIDIA UNIX x86_64 Kernel Module  590.48.01  Thu Nov 20 2025\n";
    auto second = gpu_vendors::nvidia::discover_cached(opt, cache);
    EXPECT_EQ(second.driver_version, "590.48.01");
    EXPECT_EQ(entries(), 2u);
    // A damaged entry is rediscovered, not trusted.
    for (auto& e : stdfs::directory_iterator(cache)) std::ofstream(e.path()) << "{broken";
    EXPECT_EQ(gpu_vendors::nvidia::discover_cached(opt, cache).driver_version, "590.48.01");
    fs::remove_tree(dir);
}

} // namespace gpu_cache_test
