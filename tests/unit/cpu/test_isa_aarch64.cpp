// cpu/isa on aarch64 hosts: the Features line of /proc/cpuinfo, the architecture versions and
// cores of --cpu-arch, and the run check against a simulated Grace (Neoverse V2) and Jetson AGX
// Orin (Cortex-A78AE), whichever architecture this test runs on.
#include "cpu/isa.hpp"
#include "engine/cpu_check.hpp"
#include "util/error.hpp"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <set>
#include <string>
#include <unistd.h>

namespace cpu_isa_aarch64_test {

using namespace gantry;

namespace {

// /proc/cpuinfo as arm64 Linux writes it (one block per CPU; the first is read)
std::string cpuinfo(const std::string& features, const std::string& part) {
    std::string block = "processor\t: 0\nBogoMIPS\t: 2000.00\nFeatures\t: " + features +
                        "\nCPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x0\n"
                        "CPU part\t: " +
                        part + "\nCPU revision\t: 0\n\n";
    return block + "processor\t: 1\nFeatures\t: fp asimd\n\n";
}

// NVIDIA Grace (Neoverse V2, CPU part 0xd4f)
const std::string kGrace = cpuinfo(
    "fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm jscvt fcma "
    "lrcpc dcpop sha3 sm3 sm4 asimddp sha512 sve asimdfhm dit uscat ilrcpc flagm ssbs sb paca "
    "pacg dcpodp sve2 sveaes svepmull svebitperm svesha3 svesm4 flagm2 frint svei8mm svebf16 "
    "i8mm bf16 dgh bti",
    "0xd4f");
// Jetson AGX Orin (Cortex-A78AE, CPU part 0xd42)
const std::string kOrin = cpuinfo("fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp "
                                  "asimdhp cpuid asimdrdm lrcpc dcpop asimddp uscat ilrcpc flagm "
                                  "paca pacg",
                                  "0xd42");

bool has(const std::vector<std::string>& v, const std::string& f) {
    return std::find(v.begin(), v.end(), f) != v.end();
}

// GANTRY_PROC_ROOT pointing at a directory whose cpuinfo is TEXT, for the scope's life
struct SimulatedHost {
    std::filesystem::path dir;
    explicit SimulatedHost(const std::string& text) {
        char tmpl[] = "/tmp/gantry-cpuinfo-XXXXXX";
        dir = ::mkdtemp(tmpl);
        std::ofstream(dir / "cpuinfo") << text;
        ::setenv("GANTRY_PROC_ROOT", dir.c_str(), 1);
    }
    ~SimulatedHost() {
        ::unsetenv("GANTRY_PROC_ROOT");
        std::filesystem::remove_all(dir);
    }
};

} // namespace

TEST(CpuIsaAarch64, FeaturesLineAndVersions) {
    auto grace = cpu::parse_cpuinfo(kGrace);
    EXPECT_EQ(cpu::cpuinfo_family(kGrace), cpu::Family::aarch64);
    EXPECT_TRUE(grace.count("sve2") && grace.count("bf16"));
    EXPECT_FALSE(grace.count("CPU")); // the first block's Features line only
    EXPECT_EQ(cpu::arm_level_of(grace), "armv9-a");
    EXPECT_EQ(cpu::describe(cpu::Family::aarch64, grace), "armv9-a with SVE2");
    auto orin = cpu::parse_cpuinfo(kOrin);
    // 8.3's complex numbers and JavaScript conversion are what the A78AE lacks
    EXPECT_EQ(cpu::arm_level_of(orin), "armv8.2-a");
    EXPECT_EQ(cpu::describe(cpu::Family::aarch64, orin), "armv8.2-a");
    EXPECT_EQ(cpu::arm_level_of({"fp", "asimd"}), "armv8-a");
    EXPECT_EQ(cpu::arm_level_of({"fp"}), "");
    // x86's flags line is the other family
    EXPECT_EQ(cpu::cpuinfo_family("processor : 0\nflags : fpu sse sse2\n"), cpu::Family::x86_64);
}

TEST(CpuIsaAarch64, VersionsAndCoresAsTargets) {
    auto v81 = cpu::resolve_target("armv8.1-a");
    EXPECT_EQ(v81.family, cpu::Family::aarch64);
    EXPECT_FALSE(v81.core);
    EXPECT_EQ(v81.features,
              (std::vector<std::string>{"asimd", "asimdrdm", "atomics", "crc32", "fp"}));
    auto env = cpu::build_env(v81);
    EXPECT_EQ(env.at("CFLAGS"), "-march=armv8.1-a");
    EXPECT_EQ(env.at("RUSTFLAGS"), "-C target-feature=+v8.1a");
    EXPECT_EQ(cpu::build_env(cpu::resolve_target("armv9-a")).at("RUSTFLAGS"),
              "-C target-feature=+v9a");
    EXPECT_EQ(cpu::build_env(cpu::resolve_target("armv8-a")).at("RUSTFLAGS"),
              "-C target-cpu=generic");
    // GCC's aarch64 -march takes versions only: a core is -mcpu
    auto grace = cpu::resolve_target("neoverse-v2");
    EXPECT_TRUE(grace.core);
    EXPECT_EQ(cpu::build_env(grace).at("CXXFLAGS"), "-mcpu=neoverse-v2");
    EXPECT_EQ(cpu::build_env(grace).at("RUSTFLAGS"), "-C target-cpu=neoverse-v2");
    EXPECT_TRUE(has(grace.features, "sve2") && has(grace.features, "i8mm"));
    EXPECT_TRUE(std::is_sorted(grace.features.begin(), grace.features.end()));
    auto orin = cpu::resolve_target("cortex-a78ae");
    EXPECT_EQ(cpu::build_env(orin).at("CMAKE_C_FLAGS"), "-mcpu=cortex-a78ae");
    // what each host has of the other's target
    EXPECT_TRUE(cpu::missing(grace.features, cpu::parse_cpuinfo(kGrace)).empty());
    EXPECT_TRUE(cpu::missing(orin.features, cpu::parse_cpuinfo(kOrin)).empty());
    EXPECT_TRUE(cpu::missing(orin.features, cpu::parse_cpuinfo(kGrace)).empty());
    auto lacks = cpu::missing(grace.features, cpu::parse_cpuinfo(kOrin));
    EXPECT_TRUE(has(lacks, "sve2") && has(lacks, "bf16") && has(lacks, "fcma")) << lacks.size();
    EXPECT_FALSE(has(lacks, "atomics"));
    try {
        cpu::resolve_target("armv7-a");
        FAIL() << "accepted";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::usage);
        EXPECT_NE(e.hint().find("neoverse-v2"), std::string::npos) << e.hint();
        EXPECT_NE(e.hint().find("armv9-a"), std::string::npos) << e.hint();
    }
}

TEST(CpuIsaAarch64, HostTargetAndTheRunCheckOnSimulatedHosts) {
    {
        SimulatedHost host(kOrin);
        auto cpu = cpu::host_cpu();
        EXPECT_EQ(cpu.family, cpu::Family::aarch64);
        auto t = cpu::resolve_target("host");
        EXPECT_EQ(cpu::build_env(t).at("CFLAGS"), "-mcpu=native");
        // the host's version and the code-generating extensions it has, not its hint bits
        EXPECT_TRUE(has(t.features, "asimddp") && has(t.features, "aes") &&
                    has(t.features, "fphp"));
        EXPECT_FALSE(has(t.features, "evtstrm") || has(t.features, "cpuid") ||
                     has(t.features, "paca"));
        // x86's level reader refuses an aarch64 host
        EXPECT_THROW(cpu::host_features(), Error);
        // an image built for Grace, run on Orin: refused with the features named
        nlohmann::json config = {
            {"config",
             {{"Labels",
               {{cpu::kLabelArch, "neoverse-v2"},
                {cpu::kLabelFeatures, "asimd atomics bf16 fp i8mm sve sve2"}}}}}};
        auto s = engine::cpu_shortfalls(config, nullptr, "", {});
        ASSERT_EQ(s.size(), 1u);
        EXPECT_EQ(s[0].missing, (std::vector<std::string>{"bf16", "i8mm", "sve", "sve2"}));
        EXPECT_NE(s[0].source.find("--cpu-arch neoverse-v2"), std::string::npos);
        auto f = engine::cpu_findings(nullptr, nullptr, "");
        ASSERT_FALSE(f.empty());
        EXPECT_EQ(f[0].message, "this host's CPU is armv8.2-a");
    }
    SimulatedHost host(kGrace);
    nlohmann::json config = {
        {"config", {{"Labels", {{cpu::kLabelFeatures, "asimd atomics bf16 fp i8mm sve sve2"}}}}}};
    EXPECT_TRUE(engine::cpu_shortfalls(config, nullptr, "", {}).empty());
    EXPECT_EQ(engine::cpu_findings(nullptr, nullptr, "")[0].message,
              "this host's CPU is armv9-a with SVE2");
}

} // namespace cpu_isa_aarch64_test
