// gpu_vendors/amd/rocm: ROCm release parsing from every place an image carries it, AMD's KMD table
// and the driver map as data, HSA_OVERRIDE_GFX_VERSION, generic targets and target lists.
#include "gpu_vendors/amd/rocm.hpp"

#include <gtest/gtest.h>

namespace amd_rocm_test {

using namespace gantry::gpu_vendors::amd;

namespace {
std::string str(const std::optional<RocmRelease>& r) {
    return r ? r->str() : "none";
}
} // namespace

TEST(RocmVersion, ParsesWhatImagesCarry) {
    EXPECT_EQ(str(parse_rocm_version("6.1.2-39\n")), "6.1");
    EXPECT_EQ(str(parse_rocm_version("7.2.0")), "7.2");
    EXPECT_EQ(str(parse_rocm_version("6.4.43482-0f2d60242")), "6.4"); // torch.version.hip
    EXPECT_EQ(str(parse_rocm_version("6.1")), "6.1");
    EXPECT_EQ(str(parse_rocm_version("5.7+x")), "5.7");
    for (const char* bad : {"", "6", "6.", "v6.1", "6.x", "6.1a", "1234.1", "6.1234", ".1"})
        EXPECT_EQ(str(parse_rocm_version(bad)), "none") << bad;
}

TEST(RocmVersion, DirectoryNames) {
    EXPECT_EQ(str(rocm_from_dir_name("rocm-6.1.2")), "6.1");
    EXPECT_EQ(str(rocm_from_dir_name("rocm-5.7")), "5.7");
    for (const char* bad : {"rocm", "rocm-", "rocm-dev", "rocm-6.1.2.bak", "xrocm-6.1", "rocm-6"})
        EXPECT_EQ(str(rocm_from_dir_name(bad)), "none") << bad;
}

TEST(RocmVersion, LibraryNames) {
    EXPECT_EQ(str(rocm_from_library_name("libamdhip64.so.6.1.40091")), "6.1");
    EXPECT_EQ(str(rocm_from_library_name("libamdhip64.so.5.2.21153")), "5.2");
    EXPECT_EQ(str(rocm_from_library_name("libhsa-runtime64.so.1.13.60100")), "6.1");
    EXPECT_EQ(str(rocm_from_library_name("libhsa-runtime64.so.1.12.50700")), "5.7");
    // near misses: only the major, other libraries, damaged numbers
    for (const char* bad :
         {"libamdhip64.so.6", "libamdhip64.so", "libamdhip64.so.6.x.1", "libhsa-runtime64.so.1",
          "libhsa-runtime64.so.1.13.601", "libhsa-runtime64.so.1.13.60100.1", "libfoo.so.6.1.2"})
        EXPECT_EQ(str(rocm_from_library_name(bad)), "none") << bad;
}

TEST(RocmVersion, TorchTagsAndHipLine) {
    EXPECT_EQ(str(rocm_from_torch_tag("2.4.0+rocm6.1")), "6.1");
    EXPECT_EQ(str(rocm_from_torch_tag("2.7.1+rocm6.3.4")), "6.3");
    EXPECT_EQ(str(rocm_from_torch_tag("2.4.0+cu121")), "none");
    EXPECT_EQ(parse_torch_hip("__version__ = '2.4.0+rocm6.1'\n"
                              "hip: Optional[str] = '6.1.40091-a8dbc0c19'\n"),
              "6.1.40091-a8dbc0c19");
    EXPECT_EQ(parse_torch_hip("hip = \"6.4.43482-0f2d60242\"\n"), "6.4.43482-0f2d60242");
    EXPECT_EQ(parse_torch_hip("hip: Optional[str] = None\n"), "");
    EXPECT_FALSE(parse_torch_hip("cuda: Optional[str] = '12.1'\n"));
    EXPECT_FALSE(parse_torch_hip("hip = '6.1\\' + evil'\n")); // quotes inside: refused
    EXPECT_FALSE(parse_torch_hip("hipify = '1'\n"));
}

TEST(RocmKmdTable, IsAMDsPublishedMatrix) {
    // Rows as the 2025-09-17 matrix page lists them (rocm.md §4): 6.1.x KMD -> 5.7 .. 6.4.
    auto c = check_kmd("6.1", {6, 4});
    EXPECT_EQ(c.verdict, KmdVerdict::supported);
    ASSERT_TRUE(c.row);
    EXPECT_EQ(c.row->lo, (RocmRelease{5, 7}));
    EXPECT_EQ(check_kmd("6.1", {6, 5}).verdict, KmdVerdict::user_space_too_new);
    EXPECT_EQ(check_kmd("6.1", {5, 6}).verdict, KmdVerdict::user_space_too_old);
    EXPECT_EQ(check_kmd("5.4", {5, 2}).verdict, KmdVerdict::supported);
    EXPECT_EQ(check_kmd("5.4", {6, 1}).verdict, KmdVerdict::user_space_too_new);
    EXPECT_EQ(check_kmd("30.30", {7, 2}).verdict, KmdVerdict::supported);
    EXPECT_EQ(check_kmd("30.20", {7, 0}).verdict, KmdVerdict::unknown_kmd);
    EXPECT_NE(std::string(kKmdCompatSource).find("user-kernel-space-compat-matrix"),
              std::string::npos);
    // every row is a range
    for (const auto& r : kmd_compat_table()) EXPECT_LE(r.lo, r.hi) << r.kmd;
}

TEST(RocmKmdTable, DriverVersionsGantryKnows) {
    auto* d = driver_release("5.18.13");
    ASSERT_TRUE(d);
    EXPECT_STREQ(d->kmd, "5.4");
    EXPECT_NE(std::string(d->source).find("ROCm/amdgpu#148"), std::string::npos);
    EXPECT_TRUE(driver_release("5.18"));
    EXPECT_TRUE(driver_release("6.16.6\n"));
    // near misses: a longer minor, an unknown version, empty
    EXPECT_FALSE(driver_release("5.180.1"));
    EXPECT_FALSE(driver_release("6.12.12"));
    EXPECT_FALSE(driver_release(""));
}

TEST(RocmTargets, HsaOverride) {
    auto o = parse_hsa_override("10.3.0");
    ASSERT_TRUE(o);
    EXPECT_EQ(o->processor, "gfx1030");
    EXPECT_EQ(parse_hsa_override("11.0.0")->processor, "gfx1100");
    EXPECT_EQ(parse_hsa_override("9.0.10")->processor, "gfx90a");
    EXPECT_EQ(parse_hsa_override("9.4.2")->processor, "gfx942");
    for (const char* bad :
         {"", "10.3", "10.3.0.1", "gfx1030", "10.3.x", " 10.3.0", "100.3.0", "10.3.16", "0.0.0"})
        EXPECT_FALSE(parse_hsa_override(bad)) << bad;
}

TEST(RocmTargets, GenericTargetsAsTheRuntimeMatches) {
    EXPECT_EQ(generic_target_of("gfx942"), "gfx9-4-generic");
    EXPECT_EQ(generic_target_of("gfx1100"), "gfx11-generic");
    EXPECT_EQ(generic_target_of("gfx1036"), "gfx10-3-generic");
    EXPECT_FALSE(generic_target_of("gfx90a")); // no generic target covers gfx90a
    EXPECT_FALSE(generic_target_of("gfx908"));

    auto id = [](const char* s) { return *parse_target_id(s); };
    EXPECT_TRUE(hip_code_object_fits(id("gfx11-generic"), id("gfx1101")));
    EXPECT_TRUE(hip_code_object_fits(id("gfx9-4-generic:xnack-"), id("gfx942:sramecc+:xnack-")));
    EXPECT_FALSE(hip_code_object_fits(id("gfx9-4-generic:xnack+"), id("gfx942:sramecc+:xnack-")));
    EXPECT_FALSE(hip_code_object_fits(id("gfx11-generic"), id("gfx1030")));
    EXPECT_FALSE(hip_code_object_fits(id("gfx1030"), id("gfx1100"))); // no cross-processor
    // features: stated ones must agree; an unknown device feature (any) matches either
    EXPECT_TRUE(hip_code_object_fits(id("gfx90a:xnack-"), id("gfx90a:sramecc+:xnack-")));
    EXPECT_FALSE(hip_code_object_fits(id("gfx90a:xnack+"), id("gfx90a:sramecc+:xnack-")));
    EXPECT_FALSE(hip_code_object_fits(id("gfx90a:sramecc-"), id("gfx90a:sramecc+")));
    EXPECT_TRUE(hip_code_object_fits(id("gfx90a:sramecc-"), id("gfx90a")));
    EXPECT_TRUE(has_xnack_feature("gfx90a"));
    EXPECT_FALSE(has_xnack_feature("gfx1100"));
}

TEST(RocmTargets, ArchLists) {
    EXPECT_EQ(parse_arch_list("gfx90a;gfx942"), (std::vector<std::string>{"gfx90a", "gfx942"}));
    EXPECT_EQ(parse_arch_list(" gfx90a:xnack-, gfx1100 ;;gfx90a "),
              (std::vector<std::string>{"gfx90a", "gfx1100"}));
    EXPECT_TRUE(parse_arch_list("").empty());
}

} // namespace amd_rocm_test
