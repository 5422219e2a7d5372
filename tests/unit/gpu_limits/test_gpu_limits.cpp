// gpu_limits/: the placement next to a GPU (placement.hpp), dmem's regions and limit lines
// (dmem.hpp) and the flags' values (share.hpp), on simulated sysfs trees.
#include "gpu_limits/dmem.hpp"
#include "gpu_limits/placement.hpp"
#include "gpu_limits/share.hpp"
#include "util/error.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <gtest/gtest.h>
#include <string>
#include <unistd.h>

namespace gpu_limits_test {

using gantry::Errc;
using gantry::Error;
namespace gl = gantry::gpu_limits;
namespace stdfs = std::filesystem;

namespace {

struct TempDir {
    stdfs::path path;
    TempDir() {
        std::string t = (stdfs::temp_directory_path() / "gantry-gpu-limits-XXXXXX").string();
        path = ::mkdtemp(t.data());
    }
    ~TempDir() { stdfs::remove_all(path); }
};

void put(const stdfs::path& p, const std::string& text) {
    stdfs::create_directories(p.parent_path());
    std::ofstream(p) << text;
}

Errc code_of(const std::function<void()>& f, std::string* message = nullptr) {
    try {
        f();
    } catch (const Error& e) {
        if (message) *message = e.message();
        return e.code();
    }
    return Errc::internal;
}

} // namespace

TEST(GpuLimitsPlacement, ReadsNodeAndLocalCpusUnderTheSysRoot) {
    TempDir t;
    put(t.path / "sys/bus/pci/devices/0000:3b:00.0/numa_node", "1\n");
    put(t.path / "sys/bus/pci/devices/0000:3b:00.0/local_cpulist", "8-15,24-31\n");
    auto g = gl::read_locality(t.path.string(), "0000:3b:00.0");
    EXPECT_EQ(g.node, 1);
    EXPECT_EQ(g.local_cpus, "8-15,24-31");
    std::string msg;
    EXPECT_EQ(code_of([&] { gl::read_locality(t.path.string(), "0000:af:00.0"); }, &msg),
              Errc::run_failed);
    EXPECT_NE(msg.find("0000:af:00.0"), std::string::npos) << msg;
    put(t.path / "sys/bus/pci/devices/0000:3b:00.0/numa_node", "one\n");
    EXPECT_EQ(code_of([&] { gl::read_locality(t.path.string(), "0000:3b:00.0"); }),
              Errc::run_failed);
}

TEST(GpuLimitsPlacement, IntersectsWithWhatTheCallerMayUse) {
    std::vector<gl::GpuLocality> one{{"0000:3b:00.0", 1, "8-15"}};
    auto p = gl::place_near(one, "0-11", "0-1");
    EXPECT_EQ(p.cpus, "8-11");
    EXPECT_EQ(p.mems, "1");
    EXPECT_TRUE(p.warnings.empty());
    // two nodes: both, with a warning
    std::vector<gl::GpuLocality> two{{"0000:3b:00.0", 0, "0-3"}, {"0000:af:00.0", 1, "4-7"}};
    p = gl::place_near(two, "0-7", "0-1");
    EXPECT_EQ(p.cpus, "0-7");
    EXPECT_EQ(p.mems, "0-1");
    ASSERT_EQ(p.warnings.size(), 1u);
    EXPECT_NE(p.warnings[0].find("span NUMA nodes 0-1"), std::string::npos) << p.warnings[0];
    // no node reported: CPUs pinned, memory not, said
    p = gl::place_near({{"0000:3b:00.0", -1, "0-3"}}, "0-7", "0");
    EXPECT_EQ(p.cpus, "0-3");
    EXPECT_EQ(p.mems, "");
    ASSERT_EQ(p.warnings.size(), 1u);
    EXPECT_NE(p.warnings[0].find("numa_node -1"), std::string::npos);
    // nothing left: refused, naming both sides
    std::string msg;
    EXPECT_EQ(code_of([&] { gl::place_near(one, "0-7", "0-1"); }, &msg), Errc::run_failed);
    EXPECT_NE(msg.find("(8-15)"), std::string::npos) << msg;
    EXPECT_NE(msg.find("(0-7)"), std::string::npos) << msg;
    EXPECT_EQ(code_of([&] { gl::place_near(one, "8-15", "0"); }, &msg), Errc::run_failed);
    EXPECT_NE(msg.find("NUMA nodes"), std::string::npos) << msg;
}

TEST(GpuLimitsDmem, RegionsByPciAddress) {
    auto regions = gl::parse_dmem_capacity("drm/0000:03:00.0/vram0 17163091968\n"
                                           "nvidia/0000:3b:00.0/vidmem 85899345920\n"
                                           "garbage\n"
                                           "drm/0000:04:00.0/vram 8573157376\n");
    ASSERT_EQ(regions.size(), 3u);
    auto r = gl::dmem_region_of(regions, "0000:3b:00.0");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->name, "nvidia/0000:3b:00.0/vidmem");
    EXPECT_EQ(r->capacity, 85899345920u);
    EXPECT_FALSE(gl::dmem_region_of(regions, "0000:af:00.0"));
    // xe with two tiles: one size cannot be split
    auto tiles = gl::parse_dmem_capacity("drm/0000:03:00.0/vram0 1\ndrm/0000:03:00.0/vram1 1\n");
    EXPECT_EQ(code_of([&] { gl::dmem_region_of(tiles, "0000:03:00.0"); }), Errc::run_failed);
    EXPECT_EQ(gl::dmem_limit_lines({{regions[0], 1024}, {regions[1], 2048}}),
              "drm/0000:03:00.0/vram0 1024\nnvidia/0000:3b:00.0/vidmem 2048");
    TempDir t;
    EXPECT_TRUE(gl::read_dmem_capacity(t.path.string()).empty()); // no dmem: none
    EXPECT_TRUE(gl::read_dmem_capacity("").empty());
}

TEST(GpuLimitsShare, FlagValues) {
    auto every = gl::parse_memory_share("8g", "--gpu-memory");
    EXPECT_EQ(every.every, 8ull << 30);
    auto per = gl::parse_memory_share("0=8g,1=512m", "--gpu-memory");
    EXPECT_EQ(per.per_gpu.at(0), 8ull << 30);
    EXPECT_EQ(per.per_gpu.at(1), 512ull << 20);
    for (const char* bad : {"0", "x=1g", "0=1g,0=2g", "=1g", "0=", "512k"})
        EXPECT_EQ(code_of([&] { gl::parse_memory_share(bad, "--gpu-memory"); }), Errc::usage)
            << bad;
    auto sizes = gl::per_gpu(per, 3, "--gpu-memory");
    EXPECT_EQ(sizes[0], 8ull << 30);
    EXPECT_FALSE(sizes[2]);
    std::string msg;
    EXPECT_EQ(code_of([&] { gl::per_gpu(per, 1, "--gpu-memory"); }, &msg), Errc::usage);
    EXPECT_NE(msg.find("not GPU 1"), std::string::npos) << msg;
    EXPECT_EQ(gl::parse_compute_percent("25"), 25u);
    EXPECT_EQ(gl::parse_compute_percent("100%"), 100u);
    for (const char* bad : {"0", "101", "", "1.5", "-3"})
        EXPECT_EQ(code_of([&] { gl::parse_compute_percent(bad); }), Errc::usage) << bad;
}

TEST(GpuLimitsPlacement, FarCpuFindings) {
    std::vector<gl::GpuLocality> gpus{{"0000:07:00.0", 0, "0-7"}, {"0000:0f:00.0", 1, "8-15"}};
    auto f = gl::far_cpu_findings(gpus, "0-3", "--cpuset-cpus");
    ASSERT_EQ(f.size(), 1u);
    EXPECT_EQ(f[0].id, "GPU-NUMA-FAR");
    EXPECT_EQ(f[0].message, "GPU 0000:0f:00.0 is on NUMA node 1 (its CPUs 8-15), and none of "
                            "--cpuset-cpus (0-3) is: its memory copies cross NUMA nodes");
    EXPECT_EQ(f[0].fix, "--gpu-numa auto (the GPUs' CPUs and memory), or --cpuset-cpus 8-15");
    EXPECT_TRUE(gl::far_cpu_findings(gpus, "7-8", "--cpuset-cpus").empty()); // near both
    gpus[1].local_cpus.clear(); // not known: nothing said
    EXPECT_TRUE(gl::far_cpu_findings(gpus, "0", "--cpuset-cpus").empty());
}

} // namespace gpu_limits_test
