// analyze's AMD side: HIP code-object bytes per gfx target from real clang objects and from
// bundles built byte by byte (uncompressed, and compressed CCOB whose bytes are shared among its
// code objects), damaged bundles that leave the report alone, and the HIP-FATBIN-ARCHES and
// ROCM-DEVEL findings with their near misses.
#include "../gpu_vendors/amd/hip_bundle_builders.hpp"
#include "analyze/analyze.hpp"
#include "gpu_vendors/amd/device_code.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>

namespace analyze_rocm_test {

using namespace gantry::analyze;
using namespace hip_bundle_test;
using gantry::gpu_vendors::amd::hip_target_bytes;

namespace {

gantry::analyze::Entry file(const std::string& p, std::uint64_t size) {
    gantry::analyze::Entry e;
    e.path = p, e.kind = Kind::file, e.size = size;
    return e;
}

std::map<std::string, Finding> findings(std::vector<gantry::analyze::Entry> es) {
    LayerScan l;
    l.entries = std::move(es);
    std::vector<const LayerScan*> p{&l};
    std::map<std::string, Finding> by;
    for (auto& f : find(p, merge(p), nlohmann::json::object(), FindOptions{})) by[f.id] = f;
    return by;
}

} // namespace

TEST(AnalyzeHip, UncompressedBundleBytesPerTarget) {
    std::string co1 = code_object(0x63f, 0x2300), co2 = code_object(0x36, 0x1100);
    std::string elf = host_elf(bundle({{"host-x86_64-unknown-linux", ""},
                                       {kPrefix + "gfx90a:xnack-", co1},
                                       {kPrefix + "gfx1030", co2}}));
    auto m = hip_target_bytes(elf, "libk.so");
    EXPECT_EQ(
        m, (std::map<std::string, std::uint64_t>{{"gfx90a:xnack-", 0x2300}, {"gfx1030", 0x1100}}));
}

TEST(AnalyzeHip, CompressedBundleSharesItsBytes) {
    std::string inner = bundle({{"host-x86_64-unknown-linux", ""},
                                {kPrefix + "gfx90a", code_object(0x53f, 0x3000)},
                                {kPrefix + "gfx1100", code_object(0x41, 0x1000)}});
    for (unsigned method : {0u, 1u}) {
        SCOPED_TRACE(method);
        std::string c = ccob(3, method, inner);
        auto m = hip_target_bytes(host_elf(c), "libk.so");
        ASSERT_EQ(m.size(), 2u);
        // on disk the bundle is c.size() bytes, shared 3:1 as the code objects inflate
        EXPECT_EQ(m["gfx90a"], c.size() * 3 / 4);
        EXPECT_EQ(m["gfx1100"], c.size() / 4);
        EXPECT_LT(m["gfx90a"] + m["gfx1100"], inner.size()); // compressed, not inflated bytes
    }
}

TEST(AnalyzeHip, NoBundleOrDamagedBundleGivesNothing) {
    EXPECT_TRUE(hip_target_bytes(host_elf(""), "x").empty());
    std::string plain = host_elf("not a bundle");
    EXPECT_TRUE(hip_target_bytes(plain, "x").empty());
    std::string b = bundle({{kPrefix + "gfx90a", code_object(0x53f, 0x100)}});
    put64(b, 24, 1u << 30); // an entry count far past the end
    EXPECT_TRUE(hip_target_bytes(host_elf(b), "x").empty());
    std::string c = ccob(2, 1, b).substr(0, 40); // truncated compressed bundle
    EXPECT_TRUE(hip_target_bytes(host_elf(c), "x").empty());
}

// Real bytes: a shared library Debian's clang builds for three targets (no ROCm needed).
TEST(AnalyzeHip, RealClangSharedLibrary) {
    std::string dir = temp_dir();
    write_file(dir + "/k.hip",
               "struct dim3 { unsigned x, y, z; };\n"
               "typedef struct ihipStream_t* hipStream_t;\n"
               "extern \"C\" int hipLaunchKernel(const void*, dim3, dim3, void**, unsigned long,"
               " hipStream_t);\n"
               "__attribute__((global)) void k(float* x) { x[0] = 1; }\n");
    std::string cmd = "cd " + dir + " && TMPDIR=" + dir +
                      " clang++ -x hip --offload-arch=gfx90a:xnack- --offload-arch=gfx1030 "
                      "--offload-arch=gfx908 -nogpulib -nogpuinc -fPIC -shared k.hip -o libk.so "
                      ">clang.log 2>&1";
    int rc = std::system(cmd.c_str());
    if (rc != 0) {
        std::ifstream log(dir + "/clang.log");
        std::stringstream why;
        why << log.rdbuf();
        GTEST_SKIP() << "clang cannot build a HIP library here (rc " << rc << "): " << why.str();
    }
    std::ifstream in(dir + "/libk.so", std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::filesystem::remove_all(dir); // clang's temporary directories (TMPDIR) with it
    auto m = hip_target_bytes(bytes, "libk.so");
    ASSERT_EQ(m.size(), 3u);
    std::uint64_t total = 0;
    for (auto& [t, n] : m) {
        EXPECT_GT(n, 1000u) << t; // a code object with one kernel: a few KiB
        // each code object is an AMD GPU ELF inside the library's bytes
        total += n;
    }
    EXPECT_TRUE(m.count("gfx90a:xnack-") && m.count("gfx1030") && m.count("gfx908"));
    EXPECT_LT(total, bytes.size());
}

TEST(AnalyzeHip, FatbinArchesFindingAndNearMiss) {
    auto a = file("opt/app/lib/liba.so", 50'000), b = file("opt/app/lib/libb.so", 30'000);
    a.device_code["hip"] = {{"gfx90a:xnack-", 10'000}, {"gfx942", 20'000}, {"gfx1100", 5'000}};
    b.device_code["hip"] = {{"gfx942", 8'000}, {"gfx1100", 4'000}};
    auto by = findings({a, b});
    ASSERT_TRUE(by.count("HIP-FATBIN-ARCHES"));
    const auto& f = by["HIP-FATBIN-ARCHES"];
    // gfx942 is in both files (as is gfx1100, with fewer bytes): keeping it saves the rest
    EXPECT_EQ(f.subject.bytes, 47'000u - 28'000u);
    EXPECT_EQ(f.subject.count, 2u);
    EXPECT_NE(f.message.find("keeping only gfx942 saves"), std::string::npos) << f.message;
    EXPECT_EQ(f.subject.details["bytes_per_target"]["gfx90a:xnack-"], 10'000u);
    EXPECT_EQ(f.subject.details["saves_keeping_only"]["gfx1100"], 47'000u - 9'000u);
    EXPECT_EQ(f.subject.details["files_per_target"]["gfx942"], 2u);
    EXPECT_FALSE(by.count("FATBIN-ARCHES")); // the CUDA finding stays out of it
    // near miss: one target only
    a.device_code["hip"] = {{"gfx942", 20'000}};
    b.device_code["hip"] = {{"gfx942", 8'000}};
    EXPECT_FALSE(findings({a, b}).count("HIP-FATBIN-ARCHES"));
}

TEST(AnalyzeHip, RocmDevelFindingAndNearMiss) {
    auto by = findings({file("opt/rocm-6.1.2/llvm/bin/clang-17", 90'000'000),
                        file("opt/rocm-6.1.2/llvm/lib/libLLVM.so.17", 60'000'000),
                        file("opt/rocm-6.1.2/include/hip/hip_runtime.h", 4'000),
                        file("opt/rocm-6.1.2/include/rocblas/internal/x.inc", 1'000),
                        file("opt/rocm-6.1.2/lib/libamdhip64_static.a", 7'000),
                        file("opt/rocm/lib/librocblas.a", 3'000),
                        file("opt/rocm-6.1.2/lib/libamdhip64.so.6", 20'000'000)});
    ASSERT_TRUE(by.count("ROCM-DEVEL"));
    const auto& f = by["ROCM-DEVEL"];
    EXPECT_EQ(f.subject.bytes, 150'000'000u + 5'000u + 10'000u);
    EXPECT_EQ(f.subject.count, 6u);
    EXPECT_EQ(f.severity, gantry::findings::Severity::warn);
    EXPECT_EQ(f.subject.details["llvm"]["bytes"], 150'000'000u);
    EXPECT_EQ(f.subject.details["headers"]["bytes"], 5'000u);
    EXPECT_EQ(f.subject.details["headers"]["files"], 2u);
    EXPECT_EQ(f.subject.details["static"]["bytes"], 10'000u);
    EXPECT_NE(f.message.find("/opt/rocm, /opt/rocm-6.1.2"), std::string::npos) << f.message;
    // the generic classes still count their part
    EXPECT_EQ(by["DEVEL-STATIC-LIBS"].subject.bytes, 10'000u);
    // near misses: run-time ROCm libraries, a look-alike directory, llvm elsewhere
    by = findings({file("opt/rocm-6.1.2/lib/libamdhip64.so.6", 20'000'000),
                   file("opt/rocmfoo/llvm/bin/clang", 1'000), file("usr/lib/llvm-14/bin/clang", 1),
                   file("opt/rocm-6.1.2/share/doc/x.txt", 10)});
    EXPECT_FALSE(by.count("ROCM-DEVEL"));
}

} // namespace analyze_rocm_test
