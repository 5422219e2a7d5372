// image_facts/cuda_version: driver and CUDA versions, the release-notes table of toolkits and the
// driver each needs, driver branches, PTX ISA versions, and check_driver's verdicts.
#include "gpu_vendors/nvidia/cuda_version.hpp"
#include "util/error.hpp"

#include <gtest/gtest.h>
#include <string>

namespace nvidia_version_test {

using namespace gantry::gpu_vendors::nvidia;

namespace {

DriverVersion drv(const char* s) {
    return DriverVersion::parse(s).value();
}
CudaVersion cu(const char* s) {
    return CudaVersion::parse(s).value();
}
std::string min_for(const char* cuda) {
    auto m = min_driver_for(cu(cuda));
    return m ? m->str() : "none";
}
bool contains(const std::string& s, const std::string& part) {
    return s.find(part) != std::string::npos;
}

} // namespace

TEST(CompatVersion, DriverParseAndCompare) {
    auto v = drv("580.95.05");
    EXPECT_EQ(v.major, 580);
    EXPECT_EQ(v.minor, 95);
    EXPECT_EQ(v.patch, 5);
    EXPECT_EQ(v.str(), "580.95.05");
    EXPECT_GT(drv("580.95.05"), drv("580.82.07"));
    EXPECT_GT(drv("570.124.06"), drv("570.26"));
    EXPECT_EQ(drv("570.26"), drv("570.26.00"));
    EXPECT_LT(drv("525.60.13"), drv("525.85.12"));
    EXPECT_LT(drv("455.23"), drv("455.23.05"));
    EXPECT_EQ(DriverVersion::make(580, 65, 6).str(), "580.65.06");
    EXPECT_EQ(DriverVersion::make(570, 26).str(), "570.26");
    for (auto bad :
         {"", "abc", "580.", ".95", "580..5", "1.2.3.4", "580.95.05a", "-1.2", "99999999"})
        EXPECT_FALSE(DriverVersion::parse(bad)) << bad;
}

TEST(CompatVersion, CudaParseAndEncoding) {
    auto v = cu("12.4");
    EXPECT_EQ(v.major, 12);
    EXPECT_EQ(v.minor, 4);
    EXPECT_FALSE(v.has_patch());
    EXPECT_EQ(v.encoded(), 12040);
    EXPECT_EQ(cu("13.0.1").patch, 1);
    EXPECT_EQ(cu("13.0.1").str(), "13.0.1");
    EXPECT_EQ(cu("v12.4.1").str(), "12.4.1");
    EXPECT_EQ(cu("12").str(), "12.0");
    EXPECT_EQ(CudaVersion::from_encoded(12040)->str(), "12.4");
    EXPECT_EQ(CudaVersion::from_encoded(13000)->str(), "13.0");
    EXPECT_EQ(CudaVersion::from_encoded(11080)->encoded(), 11080);
    EXPECT_FALSE(CudaVersion::from_encoded(0));
    EXPECT_EQ(cuda_string(12090), "12.9");
    EXPECT_EQ(cuda_string(0), "unknown");
    EXPECT_LT(cu("12.4"), cu("12.4.1"));
    EXPECT_EQ(cu("12.4"), cu("12.4.0"));
    EXPECT_LT(cu("12.9"), cu("12.10"));
    for (auto bad : {"", "x", "12.", "12.4.1.1", "12.a"})
        EXPECT_FALSE(CudaVersion::parse(bad)) << bad;
}

// Every row of the release-notes table (Linux x86_64), by the version that identifies it.
TEST(CompatVersion, ToolkitTableEveryRow) {
    const std::vector<std::pair<const char*, const char*>> rows = {
        {"13.2.2", "595.71.05"}, {"13.2.1", "595.58.03"},  {"13.2.0", "595.45.04"},
        {"13.1.1", "590.48.01"}, {"13.1.0", "590.44.01"},  {"13.0.2", "580.95.05"},
        {"13.0.1", "580.82.07"}, {"13.0.0", "580.65.06"},  {"12.9.1", "575.57.08"},
        {"12.9.0", "575.51.03"}, {"12.8.1", "570.124.06"}, {"12.8.0", "570.26"},
        {"12.6.3", "560.35.05"}, {"12.6.2", "560.35.03"},  {"12.6.1", "560.35.03"},
        {"12.6.0", "560.28.03"}, {"12.5.1", "555.42.06"},  {"12.5.0", "555.42.02"},
        {"12.4.1", "550.54.15"}, {"12.4.0", "550.54.14"},  {"12.3.2", "545.23.08"},
        {"12.3.1", "545.23.08"}, {"12.3.0", "545.23.06"},  {"12.2.2", "535.104.05"},
        {"12.2.1", "535.86.09"}, {"12.2.0", "535.54.03"},  {"12.1.1", "530.30.02"},
        {"12.1.0", "530.30.02"}, {"12.0.1", "525.85.12"},  {"12.0.0", "525.60.13"},
        {"11.8.0", "520.61.05"}, {"11.7.1", "515.48.07"},  {"11.7.0", "515.43.04"},
        {"11.6.2", "510.47.03"}, {"11.6.1", "510.47.03"},  {"11.6.0", "510.39.01"},
        {"11.5.2", "495.29.05"}, {"11.5.1", "495.29.05"},  {"11.5.0", "495.29.05"},
        {"11.4.4", "470.82.01"}, {"11.4.3", "470.82.01"},  {"11.4.2", "470.57.02"},
        {"11.4.1", "470.57.02"}, {"11.4.0", "470.42.01"},  {"11.3.1", "465.19.01"},
        {"11.3.0", "465.19.01"}, {"11.2.2", "460.32.03"},  {"11.2.1", "460.32.03"},
        {"11.2.0", "460.27.03"}, {"11.1.1", "455.32"},     {"11.1.0", "455.23"},
        {"11.0.3", "450.51.06"}, {"11.0.2", "450.51.05"},  {"11.0.1", "450.36.06"},
        {"10.2.89", "440.33"},   {"10.1.105", "418.39"},   {"10.1.243", "418.39"},
        {"10.0.130", "410.48"},
    };
    for (auto& [cuda, want] : rows) EXPECT_EQ(min_for(cuda), want) << "CUDA " << cuda;
    // Without a patch a major.minor means its GA release.
    EXPECT_EQ(min_for("13.0"), "580.65.06");
    EXPECT_EQ(min_for("12.8"), "570.26");
    EXPECT_EQ(min_for("11.0"), "450.51.05");
    EXPECT_EQ(min_for("10.2"), "440.33");
    // A patch between rows takes the newest row not after it (12.4.127 is a cudart version).
    EXPECT_EQ(min_for("12.4.127"), "550.54.15");
    // No 12.7 toolkit, and nothing after 13.4.
    EXPECT_EQ(min_for("12.7"), "none");
    EXPECT_EQ(min_for("14.0"), "none");
    EXPECT_EQ(toolkit_release(cu("12.8.1"))->label, "12.8 Update 1");
    EXPECT_EQ(toolkit_release(cu("12.8"))->label, "12.8 GA");
    auto r133 = toolkit_release(cu("13.3"));
    ASSERT_TRUE(r133);
    EXPECT_TRUE(r133->branch_only);
    EXPECT_EQ(r133->min_driver.major, 610);
    EXPECT_EQ(toolkit_release(cu("13.4.1"))->min_driver.major, 615);
    // Within a major.minor the minimum never goes down.
    auto& all = toolkit_releases();
    for (size_t i = 1; i < all.size(); ++i) {
        auto &a = all[i - 1], &b = all[i];
        EXPECT_LE(a.version, b.version) << a.label << " / " << b.label;
        if (a.version.major == b.version.major && a.version.minor == b.version.minor) {
            EXPECT_LE(a.min_driver, b.min_driver) << a.label << " / " << b.label;
        }
    }
}

TEST(CompatVersion, BranchesAndPtxIsa) {
    EXPECT_EQ(minor_compat_min_driver(13)->str(), "580.65.06");
    EXPECT_EQ(minor_compat_min_driver(12)->str(), "525.60.13");
    EXPECT_EQ(minor_compat_min_driver(11)->str(), "450.80.02");
    EXPECT_FALSE(minor_compat_min_driver(10));
    EXPECT_FALSE(minor_compat_min_driver(14));

    EXPECT_EQ(max_cuda_for_driver(drv("580.95.05")), 13000);
    EXPECT_EQ(max_cuda_for_driver(drv("570.124.06")), 12080);
    EXPECT_EQ(max_cuda_for_driver(drv("570.26")), 12080);
    EXPECT_EQ(max_cuda_for_driver(drv("565.57.01")), 12070);
    EXPECT_EQ(max_cuda_for_driver(drv("550.54.15")), 12040);
    EXPECT_EQ(max_cuda_for_driver(drv("535.104.05")), 12020);
    EXPECT_EQ(max_cuda_for_driver(drv("525.60.13")), 12000);
    EXPECT_EQ(max_cuda_for_driver(drv("470.82.01")), 11040);
    EXPECT_EQ(max_cuda_for_driver(drv("590.44.01")), 13010);
    EXPECT_EQ(max_cuda_for_driver(drv("595.71.05")), 13020);
    EXPECT_EQ(max_cuda_for_driver(drv("400.1")), 0);

    EXPECT_EQ(ptx_isa_min_cuda(6, 3), 10000);
    EXPECT_EQ(ptx_isa_min_cuda(7, 8), 11080);
    EXPECT_EQ(ptx_isa_min_cuda(8, 0), 12000);
    EXPECT_EQ(ptx_isa_min_cuda(8, 4), 12040);
    EXPECT_EQ(ptx_isa_min_cuda(8, 5), 12050);
    EXPECT_EQ(ptx_isa_min_cuda(8, 6), 12070);
    EXPECT_EQ(ptx_isa_min_cuda(8, 7), 12080);
    EXPECT_EQ(ptx_isa_min_cuda(8, 8), 12090);
    EXPECT_EQ(ptx_isa_min_cuda(9, 0), 13000);
    EXPECT_EQ(ptx_isa_min_cuda(9, 1), 13010);
    EXPECT_FALSE(ptx_isa_min_cuda(9, 9));
    EXPECT_EQ(max_ptx_isa_for_cuda(12060), std::pair(8, 5)); // 12.6 emits 8.5 too
    EXPECT_EQ(max_ptx_isa_for_cuda(12080), std::pair(8, 7));
    EXPECT_EQ(max_ptx_isa_for_cuda(13000), std::pair(9, 0));
}

TEST(CompatVersion, CheckDriver) {
    auto c = check_driver("13.0", "580.65.06");
    EXPECT_EQ(c.status, DriverStatus::ok) << c.message;
    EXPECT_EQ(c.minimum->str(), "580.65.06");

    c = check_driver("13.0", "570.124.06");
    EXPECT_EQ(c.status, DriverStatus::too_old);
    EXPECT_TRUE(contains(c.message, "580.65.06")) << c.message;
    EXPECT_TRUE(contains(c.message, "570.124.06")) << c.message;
    EXPECT_FALSE(c.runs());

    c = check_driver("13.0.2", "580.82.07"); // below U2, above the 13.x major minimum
    EXPECT_EQ(c.status, DriverStatus::ok_minor_version_compat) << c.message;
    EXPECT_EQ(c.minimum->str(), "580.95.05");
    EXPECT_EQ(c.major_minimum->str(), "580.65.06");
    EXPECT_TRUE(c.runs());

    c = check_driver("12.8", "570.26");
    EXPECT_EQ(c.status, DriverStatus::ok) << c.message;
    c = check_driver("12.8.1", "570.26"); // U1 needs 570.124.06
    EXPECT_EQ(c.status, DriverStatus::ok_minor_version_compat) << c.message;
    EXPECT_EQ(c.minimum->str(), "570.124.06");
    EXPECT_TRUE(contains(c.message, "570.124.06")) << c.message;
    EXPECT_TRUE(contains(c.message, "12.8 Update 1")) << c.message;
    c = check_driver("12.8.1", "570.124.06");
    EXPECT_EQ(c.status, DriverStatus::ok);

    c = check_driver("12.8", "550.54.15");
    EXPECT_EQ(c.status, DriverStatus::ok_minor_version_compat);
    ASSERT_EQ(c.caveats.size(), 2u);
    EXPECT_TRUE(contains(c.caveats[0], "222")) << c.caveats[0];
    EXPECT_TRUE(contains(c.caveats[1], "36")) << c.caveats[1];
    EXPECT_TRUE(contains(c.caveats[1], "12.4")) << c.caveats[1];

    c = check_driver("12.4", "520.61.05");
    EXPECT_EQ(c.status, DriverStatus::too_old);
    EXPECT_TRUE(contains(c.message, "550.54.14")) << c.message;
    EXPECT_TRUE(contains(c.message, "525.60.13")) << c.message;

    EXPECT_EQ(check_driver("11.8", "470.82.01").status, DriverStatus::ok_minor_version_compat);
    EXPECT_EQ(check_driver("11.0", "450.51.05").status, DriverStatus::ok);
    EXPECT_EQ(check_driver("11.8", "450.80.02").status, DriverStatus::ok_minor_version_compat);
    EXPECT_EQ(check_driver("11.8", "450.51.06").status, DriverStatus::too_old);

    c = check_driver("10.2", "418.39"); // no minor-version compatibility before 11
    EXPECT_EQ(c.status, DriverStatus::too_old);
    EXPECT_EQ(c.minimum->str(), "440.33");
    EXPECT_FALSE(c.major_minimum);

    // 13.3 / 13.4: only the branch is known.
    EXPECT_EQ(check_driver("13.3", "610.43.02").status, DriverStatus::ok);
    EXPECT_EQ(check_driver("13.4", "610.43.02").status, DriverStatus::ok_minor_version_compat);

    // Not in the table: the driver's branch decides, else the major minimum with a caveat.
    EXPECT_EQ(check_driver("12.7", "565.57.01").status, DriverStatus::ok);
    c = check_driver("12.7", "560.35.05");
    EXPECT_EQ(c.status, DriverStatus::ok_minor_version_compat);
    EXPECT_EQ(c.caveats.size(), 3u);
    EXPECT_EQ(check_driver("14.0", "580.95.05").status, DriverStatus::unknown);

    EXPECT_THROW(check_driver("twelve", "580.95.05"), gantry::Error);
    EXPECT_THROW(check_driver("12.4", "latest"), gantry::Error);
}

} // namespace nvidia_version_test
