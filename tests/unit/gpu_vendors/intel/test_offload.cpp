// The Intel offload reader and the device-code verdicts (gpu_vendors/intel/offload.hpp) on
// containers built in clang's layouts (offload_bytes.hpp), and on damaged ones.
#include "device_code/format.hpp"
#include "gpu_vendors/intel/device_code.hpp"
#include "gpu_vendors/intel/offload.hpp"
#include "offload_bytes.hpp"
#include "util/error.hpp"

#include <gtest/gtest.h>

namespace intel_offload_test {

using namespace gantry;
namespace intel = gantry::gpu_vendors::intel;
using namespace intel_unit;

TEST(IntelOffload, BundleSectionsOfAnObjectFile) {
    auto elf =
        elf_with({{".text", "xx"},
                  {"__CLANG_OFFLOAD_BUNDLE__host-x86_64-unknown-linux-gnu", ""},
                  {"__CLANG_OFFLOAD_BUNDLE__sycl-spir64_gen-unknown-unknown-pvc", zebin_image()},
                  {"__CLANG_OFFLOAD_BUNDLE__sycl-spir64-unknown-unknown", spirv_image()}});
    auto imgs = intel::read_offload_images(elf, "/app");
    ASSERT_EQ(imgs.size(), 2u);
    EXPECT_EQ(imgs[0].producer, "sycl");
    EXPECT_EQ(imgs[0].triple, "spir64_gen-unknown-unknown");
    EXPECT_EQ(imgs[0].arch, "pvc");
    EXPECT_EQ(imgs[0].format, intel::ImageFormat::native);
    EXPECT_EQ(imgs[1].format, intel::ImageFormat::spirv);
    EXPECT_EQ(imgs[1].arch, "");
    EXPECT_TRUE(imgs[1].for_intel_gpu());
}

TEST(IntelOffload, BinaryBundleWithEnvironmentField) {
    auto b =
        bundle({{"host-x86_64-unknown-linux-gnu", "h"},
                {"sycl-spir64_gen-unknown-unknown-sycldevice-intel_gpu_acm_g10", zebin_image()},
                {"sycl-spir64_x86_64-unknown-unknown", "cpu"}});
    auto imgs = intel::read_offload_images(b, "/b");
    ASSERT_EQ(imgs.size(), 2u);
    EXPECT_EQ(imgs[0].triple, "spir64_gen-unknown-unknown-sycldevice");
    EXPECT_EQ(intel::normalize_device_name(imgs[0].arch), "acm-g10");
    EXPECT_FALSE(imgs[1].for_intel_gpu()); // the CPU's AOT
}

TEST(IntelOffload, LlvmOffloadingSectionAndNestedSpirv) {
    auto aot = offload_binary(1, 4, {{"triple", "spir64_gen-unknown-unknown"}, {"arch", "pvc"}},
                              "not-an-elf");
    auto inner =
        offload_binary(6, 1, {{"triple", "spirv64-intel"}, {"arch", "unknown"}}, spirv_image());
    auto nested = offload_binary(6, 1, {{"triple", "spirv64-intel"}}, inner);
    std::string sec = aot;
    while (sec.size() % 8) sec.push_back('\0');
    sec += nested;
    auto imgs = intel::read_offload_images(elf_with({{".llvm.offloading", sec}}), "/omp");
    ASSERT_EQ(imgs.size(), 2u);
    EXPECT_EQ(imgs[0].producer, "sycl");
    EXPECT_EQ(imgs[0].format, intel::ImageFormat::native);
    EXPECT_EQ(imgs[0].arch, "pvc");
    EXPECT_EQ(imgs[1].producer, "openmp");
    EXPECT_EQ(imgs[1].format, intel::ImageFormat::spirv);
    EXPECT_EQ(imgs[1].triple, "spirv64-intel");
}

// LLVM's current writer: version 2 and 3 binaries with several entries, 24-byte string entries
// and the bit-flag offload kinds (8: SYCL); a compressed or unknown version is said to be so.
TEST(IntelOffload, OffloadBinaryVersions2And3) {
    std::vector<OffloadEntry> es = {
        {1, 8, {{"triple", "spir64_gen-unknown-unknown"}, {"arch", "intel_gpu_pvc"}}, "aot"},
        {6, 8, {{"arch", ""}, {"triple", "spirv64-intel"}}, spirv_image()}};
    for (std::uint32_t version : {2u, 3u}) {
        auto sec = offload_binary_v(version, es);
        auto imgs = intel::read_offload_images(elf_with({{".llvm.offloading", sec}}), "/v");
        ASSERT_EQ(imgs.size(), 2u) << version;
        EXPECT_EQ(imgs[0].producer, "sycl");
        EXPECT_EQ(imgs[0].triple, "spir64_gen-unknown-unknown");
        EXPECT_EQ(intel::normalize_device_name(imgs[0].arch), "pvc");
        EXPECT_EQ(imgs[0].format, intel::ImageFormat::native);
        EXPECT_EQ(imgs[0].size, 3u);
        EXPECT_EQ(imgs[1].triple, "spirv64-intel");
        EXPECT_EQ(imgs[1].format, intel::ImageFormat::spirv);
    }
    try {
        intel::read_offload_images(offload_binary_v(3, es, 4096), "/z");
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_NE(e.message().find("/z: compressed OffloadBinary"), std::string::npos);
        EXPECT_NE(e.hint().find("compression"), std::string::npos);
    }
    auto v4 = offload_binary_v(2, es);
    v4[4] = 4;
    EXPECT_THROW(intel::read_offload_images(v4, "/4"), Error);
    auto many = offload_binary_v(2, es);
    many[24] = '\x7f'; // entry count far past the binary
    EXPECT_THROW(intel::read_offload_images(many, "/m"), Error);
}

TEST(IntelOffload, NotOffloadDataIsNothing) {
    EXPECT_TRUE(intel::read_offload_images("hello", "/x").empty());
    EXPECT_TRUE(intel::read_offload_images(elf_with({{".text", "code"}}), "/x").empty());
}

TEST(IntelOffload, HostileContainersAreInvalid) {
    auto b = bundle({{"sycl-spir64-unknown-unknown", spirv_image()}});
    std::string bad = b;
    bad[24 + 8 + 8] = '\x7f'; // the entry's size: far past the end
    EXPECT_THROW(intel::read_offload_images(bad, "/b"), Error);
    EXPECT_THROW(intel::read_offload_images(b.substr(0, 30), "/b"), Error);
    auto ob = offload_binary(6, 4, {{"triple", "spir64"}}, spirv_image());
    std::string cut = ob.substr(0, 40);
    EXPECT_THROW(intel::read_offload_images(cut, "/o"), Error);
    std::string wrong = ob;
    wrong[16] = '\x70'; // entry offset past the binary
    try {
        intel::read_offload_images(wrong, "/o");
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::invalid);
        EXPECT_NE(e.message().find("/o:"), std::string::npos);
    }
    auto elf = elf_with({{".llvm.offloading", "garbage!"}});
    EXPECT_THROW(intel::read_offload_images(elf, "/e"), Error);
}

TEST(IntelOffload, VerdictsForADevice) {
    std::vector<intel::DeviceImage> pvc_only(1), both(2);
    pvc_only[0].triple = "spir64_gen-unknown-unknown";
    pvc_only[0].arch = "pvc";
    pvc_only[0].format = intel::ImageFormat::native;
    both[0] = pvc_only[0];
    both[1].triple = "spir64-unknown-unknown";
    both[1].format = intel::ImageFormat::spirv;
    EXPECT_FALSE(intel::judge_file("/app", pvc_only, "pvc", "GPU 0"));
    auto f = intel::judge_file("/app", pvc_only, "acm-g10", "GPU 0 (card1, acm-g10)");
    ASSERT_TRUE(f);
    EXPECT_EQ(f->id, "INTEL-AOT-OTHER-DEVICE");
    EXPECT_EQ(f->severity, findings::Severity::fail);
    EXPECT_NE(f->fix.find("intel_gpu_acm_g10"), std::string::npos);
    auto jit = intel::judge_file("/app", both, "acm-g10", "GPU 0");
    ASSERT_TRUE(jit);
    EXPECT_EQ(jit->id, "INTEL-SPIRV-JIT");
    EXPECT_EQ(jit->severity, findings::Severity::info);
    auto unknown = intel::judge_file("/app", pvc_only, "", "GPU 0");
    ASSERT_TRUE(unknown);
    EXPECT_EQ(unknown->id, "INTEL-AOT-UNKNOWN");
    EXPECT_EQ(unknown->severity, findings::Severity::warn);
    pvc_only[0].arch = "xe-hpc-something";
    EXPECT_EQ(intel::judge_file("/app", pvc_only, "pvc", "GPU 0")->id, "INTEL-AOT-UNKNOWN");
    EXPECT_EQ(intel::normalize_device_name("intel_gpu_dg2_g11"), "acm-g11");
    EXPECT_EQ(intel::normalize_device_name("PVC"), "pvc");
    EXPECT_EQ(intel::normalize_device_name("ats-m150"), "acm-g10"); // ocloc's aliases
    EXPECT_EQ(intel::normalize_device_name("ATS_M75"), "acm-g11");
}

TEST(IntelDeviceCodeFormat, GrammarBytesAndAWholeKeep) {
    EXPECT_EQ(intel::parse_intel_target("intel_gpu_pvc"), "pvc");
    EXPECT_EQ(intel::parse_intel_target("dg2-g10"), "acm-g10");
    EXPECT_FALSE(intel::parse_intel_target("sm_90"));
    EXPECT_FALSE(intel::parse_intel_target("gfx942"));
    auto elf =
        elf_with({{"__CLANG_OFFLOAD_BUNDLE__sycl-spir64_gen-unknown-unknown-pvc", zebin_image()},
                  {"__CLANG_OFFLOAD_BUNDLE__sycl-spir64-unknown-unknown", spirv_image()}});
    auto bytes = intel::intel_target_bytes(elf, "/app");
    ASSERT_EQ(bytes.size(), 2u);
    EXPECT_EQ(bytes["pvc"], zebin_image().size());
    EXPECT_EQ(bytes["spirv"], spirv_image().size());
    const auto& f = intel::intel_format();
    EXPECT_EQ(f.name(), "intel");
    device_code::KeepSet keep;
    keep.by_format["intel"] = {"acm-g10"};
    std::string copy = elf;
    auto r = f.tailor(copy, keep, "/app", true);
    EXPECT_EQ(copy, elf); // never rewritten
    EXPECT_EQ(r.outcome, device_code::FileReport::Outcome::unchanged);
    ASSERT_EQ(r.left_alone.size(), 1u);
    EXPECT_NE(r.left_alone[0].find("not rewritten"), std::string::npos);
    EXPECT_TRUE(f.build_env({"pvc"}).empty());
}

} // namespace intel_offload_test
