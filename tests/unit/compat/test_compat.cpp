// compat/: driver and CUDA version tables, NVIDIA_REQUIRE_* evaluation, the fatbin reader (against
// binaries nvcc builds here, and against hostile bytes) and the kernel-selection rules.
#include "compat/fatbin.hpp"
#include "compat/kernels.hpp"
#include "compat/require.hpp"
#include "compat/version.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <gtest/gtest.h>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

using namespace gantry::compat;
namespace stdfs = std::filesystem;

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

// ---------------------------------------------------------------------------------------------
// Versions

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

// ---------------------------------------------------------------------------------------------
// NVIDIA_REQUIRE_*

TEST(CompatRequire, GoParseBool) {
    for (auto t : {"1", "t", "T", "TRUE", "true", "True"}) EXPECT_EQ(parse_go_bool(t), true) << t;
    for (auto f : {"0", "f", "F", "FALSE", "false", "False"})
        EXPECT_EQ(parse_go_bool(f), false) << f;
    for (auto x : {"", "yes", "on", "tRUE", " true", "2"}) EXPECT_FALSE(parse_go_bool(x)) << x;
    EXPECT_TRUE(require_disabled({{"NVIDIA_DISABLE_REQUIRE", "1"}}));
    EXPECT_TRUE(require_disabled({{"NVIDIA_DISABLE_REQUIRE", "TRUE"}}));
    EXPECT_FALSE(require_disabled({{"NVIDIA_DISABLE_REQUIRE", "yes"}})); // ParseBool error
    EXPECT_FALSE(require_disabled({{"NVIDIA_DISABLE_REQUIRE", "false"}}));
    EXPECT_FALSE(require_disabled({{"NVIDIA_DISABLE_REQUIRES", "true"}})); // the hint's typo
    EXPECT_FALSE(require_disabled({}));
}

TEST(CompatRequire, EnvMap) {
    auto m = env_map({"A=1", "B=x=y", "NOEQUALS", "A=2", "C="});
    EXPECT_EQ(m.at("A"), "2");
    EXPECT_EQ(m.at("B"), "x=y");
    EXPECT_EQ(m.at("C"), "");
    EXPECT_FALSE(m.count("NOEQUALS"));
}

TEST(CompatRequire, CompareVersion) {
    EXPECT_EQ(compare_version("12.4", ">=", "12.4"), 1);
    EXPECT_EQ(compare_version("12.4", ">=", "12.4.0"), 1);
    EXPECT_EQ(compare_version("12.4.0", "=", "12.4"), 1);
    EXPECT_EQ(compare_version("12.4", "!=", "12.4.0"), 0);
    EXPECT_EQ(compare_version("12.10", ">", "12.9"), 1);
    EXPECT_EQ(compare_version("12.4", "<", "12.4.1"), 1);
    EXPECT_EQ(compare_version("12.4.1", "<=", "12.4"), 0);
    EXPECT_EQ(compare_version("550.54.15", "<", "551"), 1);
    EXPECT_EQ(compare_version("550.54.15", ">=", "550"), 1);
    EXPECT_EQ(compare_version("12.4", "=", "12.4a"), -1);
    EXPECT_EQ(compare_version("12.4", ">", ".5"), -1);
}

TEST(CompatRequire, Expressions) {
    RequireFacts f{"12.4", "550.54.15", "8.0", "Tesla"};
    auto sat = [&](const char* e) { return evaluate_expression(e, f).outcome; };
    EXPECT_EQ(sat("cuda>=12.4"), ExprOutcome::satisfied);
    EXPECT_EQ(sat("cuda>=12.8"), ExprOutcome::unsatisfied);
    EXPECT_EQ(sat(""), ExprOutcome::satisfied);
    EXPECT_EQ(sat("   "), ExprOutcome::satisfied);
    // space = OR: the second alternative holds
    EXPECT_EQ(sat("cuda>=12.8 brand=tesla,driver>=550,driver<551"), ExprOutcome::satisfied);
    EXPECT_EQ(sat("cuda>=12.8 brand=geforce,driver>=550,driver<551"), ExprOutcome::unsatisfied);
    // comma = AND
    EXPECT_EQ(sat("cuda>=12.0,driver>=560"), ExprOutcome::unsatisfied);
    EXPECT_EQ(sat("cuda>=12.0,driver>=550"), ExprOutcome::satisfied);
    // brand: case-insensitive, only = and !=
    EXPECT_EQ(sat("brand=TESLA"), ExprOutcome::satisfied);
    EXPECT_EQ(sat("brand!=tesla"), ExprOutcome::unsatisfied);
    EXPECT_EQ(sat("brand>tesla"), ExprOutcome::invalid);
    // arch = compute capability
    EXPECT_EQ(sat("arch>=8.0"), ExprOutcome::satisfied);
    EXPECT_EQ(sat("arch>=9.0"), ExprOutcome::unsatisfied);
    EXPECT_EQ(sat("arch=8.0"), ExprOutcome::satisfied);
    EXPECT_EQ(sat("ARCH<9"), ExprOutcome::satisfied); // property names ignore case
    // dsl.c's grammar, quirks included
    EXPECT_EQ(sat("foo>=1"), ExprOutcome::invalid);
    EXPECT_EQ(sat("cuda==12.4"), ExprOutcome::invalid);
    EXPECT_EQ(sat("cuda>="), ExprOutcome::invalid);
    EXPECT_EQ(sat("cuda"), ExprOutcome::invalid);
    EXPECT_EQ(sat(">=12.4"), ExprOutcome::invalid);
    EXPECT_EQ(sat("cuda>=12.4x"), ExprOutcome::invalid);
    EXPECT_EQ(sat("cuda!12.0"), ExprOutcome::satisfied);           // a lone '!' reads as "!="
    EXPECT_EQ(sat("cuda>=12.8,foo>=1"), ExprOutcome::unsatisfied); // foo never parsed
    EXPECT_EQ(sat("cuda>=12.0 foo>=1"), ExprOutcome::satisfied);   // nor here

    auto r = evaluate_expression("cuda>=12.8 brand=geforce,driver>=550 brand=tesla,driver>=560", f);
    ASSERT_EQ(r.terms.size(), 3u);
    EXPECT_EQ(r.terms[0].failed, "cuda>=12.8");
    EXPECT_EQ(r.terms[0].property, "cuda");
    EXPECT_EQ(r.terms[1].failed, "brand=geforce");
    EXPECT_EQ(r.terms[2].failed, "driver>=560");
    EXPECT_EQ(r.terms[2].property, "driver");

    // Without a GPU, arch and brand hold; without a driver, cuda and driver do.
    RequireFacts none{"12.4", "550.54.15", std::nullopt, std::nullopt};
    EXPECT_EQ(evaluate_expression("arch>=9.0,brand=geforce", none).outcome, ExprOutcome::satisfied);
    EXPECT_EQ(evaluate_expression("cuda>=99", RequireFacts{}).outcome, ExprOutcome::satisfied);
}

TEST(CompatRequire, LegacyCudaVersion) {
    EXPECT_EQ(legacy_cuda_major_minor("12.4.1"), "12.4");
    EXPECT_EQ(legacy_cuda_major_minor("12"), "12.0");
    EXPECT_EQ(legacy_cuda_major_minor("v11.8.0"), "11.8");
    EXPECT_EQ(legacy_cuda_major_minor("10.0.130"), "10.0");
    EXPECT_EQ(legacy_cuda_major_minor("12.4.1-rc1+build.5"), "12.4");
    for (auto bad : {"", "abc", "12.04", "12.4-rc1", "12.4.1.2", "12.4.", "v", "1.2.3-01"})
        EXPECT_FALSE(legacy_cuda_major_minor(bad)) << bad;

    auto set = requirements_from_env({{"CUDA_VERSION", "12.4.1"}});
    EXPECT_TRUE(set.legacy);
    ASSERT_EQ(set.requirements.size(), 1u);
    EXPECT_EQ(set.requirements[0].source, "CUDA_VERSION");
    EXPECT_EQ(set.requirements[0].expr, "cuda>=12.4");
    // An empty NVIDIA_REQUIRE_CUDA counts as unset.
    set = requirements_from_env({{"CUDA_VERSION", "12.4.1"}, {"NVIDIA_REQUIRE_CUDA", ""}});
    EXPECT_TRUE(set.legacy);
    EXPECT_EQ(set.requirements.size(), 2u);
    set =
        requirements_from_env({{"CUDA_VERSION", "12.4.1"}, {"NVIDIA_REQUIRE_CUDA", "cuda>=12.1"}});
    EXPECT_FALSE(set.legacy);
    ASSERT_EQ(set.requirements.size(), 1u);
    EXPECT_EQ(set.requirements[0].expr, "cuda>=12.1");
    set = requirements_from_env({{"CUDA_VERSION", "12.04"}});
    EXPECT_FALSE(set.error.empty());
}

TEST(CompatRequire, WhichVariables) {
    EnvMap env{{"NVIDIA_REQUIRE_CUDA", "cuda>=12.4"},
               {"NVIDIA_REQUIRE_ARCH", "arch>=8.0"},
               {"NVIDIA_REQUIRE_JETPACK", "csv-mounts=all"},
               {"NVIDIA_REQUIRE_JETPACK_HOST_MOUNTS", "x"},
               {"NVIDIA_VISIBLE_DEVICES", "all"}};
    auto set = requirements_from_env(env);
    ASSERT_EQ(set.requirements.size(), 2u);
    EXPECT_EQ(set.requirements[0].source, "NVIDIA_REQUIRE_ARCH");
    EXPECT_EQ(set.requirements[1].source, "NVIDIA_REQUIRE_CUDA");
    env["NVIDIA_DISABLE_REQUIRE"] = "true";
    set = requirements_from_env(env);
    EXPECT_TRUE(set.disabled);
    EXPECT_TRUE(set.requirements.empty());
}

TEST(CompatRequire, PerGpuEvaluation) {
    // NVIDIA's 12.8 image style: CUDA 12.8, or forward compat on a Tesla with a 550 driver.
    EnvMap env{{"NVIDIA_REQUIRE_CUDA", "cuda>=12.8 brand=tesla,driver>=550,driver<551 "
                                       "brand=unknown,driver>=550,driver<551"},
               {"CUDA_VERSION", "12.8.1"}};
    RequireHost host;
    host.cuda_version = 12040;
    host.driver = "550.54.15";
    host.gpus = {{0, 8, 0, "Tesla", "NVIDIA A100-SXM4-80GB"},
                 {1, 8, 6, "GeForce", "NVIDIA GeForce RTX 3090"}};
    auto r = check_requirements(env, host);
    ASSERT_EQ(r.failures.size(), 1u);
    auto& f = r.failures[0];
    EXPECT_EQ(f.gpu, 1);
    EXPECT_EQ(f.source, "NVIDIA_REQUIRE_CUDA");
    EXPECT_EQ(f.condition, "cuda>=12.8");
    EXPECT_FALSE(f.invalid);
    EXPECT_TRUE(contains(f.message, "GPU 1")) << f.message;
    EXPECT_TRUE(contains(f.message, "cuda>=12.8")) << f.message;
    EXPECT_TRUE(contains(f.message, "12.4")) << f.message;
    EXPECT_TRUE(contains(f.message, "GeForce")) << f.message;
    ASSERT_EQ(f.terms.size(), 3u);
    EXPECT_EQ(f.terms[1].failed, "brand=tesla");

    // A newer driver satisfies the first alternative for both GPUs.
    host.cuda_version = 12080;
    host.driver = "570.124.06";
    EXPECT_TRUE(check_requirements(env, host).ok());

    // Several variables are ANDed: each failing (variable, GPU) pair is reported.
    env["NVIDIA_REQUIRE_ARCH"] = "arch>=8.6";
    host.cuda_version = 12040;
    host.driver = "550.54.15";
    r = check_requirements(env, host);
    ASSERT_EQ(r.failures.size(), 2u);
    EXPECT_EQ(r.failures[0].source, "NVIDIA_REQUIRE_ARCH");
    EXPECT_EQ(r.failures[0].gpu, 0);
    EXPECT_TRUE(contains(r.failures[0].message, "compute capability is 8.0"))
        << r.failures[0].message;
    EXPECT_EQ(r.failures[1].source, "NVIDIA_REQUIRE_CUDA");
    EXPECT_EQ(r.failures[1].gpu, 1);

    // NVIDIA_DISABLE_REQUIRE turns it all off.
    env["NVIDIA_DISABLE_REQUIRE"] = "1";
    r = check_requirements(env, host);
    EXPECT_TRUE(r.ok());
    EXPECT_TRUE(r.disabled);
}

TEST(CompatRequire, LegacyAndInvalid) {
    RequireHost host;
    host.cuda_version = 12040;
    host.driver = "550.54.15";
    // Legacy image: CUDA_VERSION alone becomes cuda>=13.0, evaluated without GPUs here.
    auto r = check_requirements({{"CUDA_VERSION", "13.0.1"}}, host);
    EXPECT_TRUE(r.legacy);
    ASSERT_EQ(r.failures.size(), 1u);
    EXPECT_EQ(r.failures[0].source, "CUDA_VERSION");
    EXPECT_EQ(r.failures[0].condition, "cuda>=13.0");
    EXPECT_EQ(r.failures[0].gpu, -1);
    EXPECT_TRUE(check_requirements({{"CUDA_VERSION", "12.4.1"}}, host).ok());
    // Without GPUs a brand clause holds.
    EXPECT_TRUE(check_requirements({{"NVIDIA_REQUIRE_X", "brand=geforce"}}, host).ok());

    r = check_requirements({{"NVIDIA_REQUIRE_CUDA", "cuda>>12"}}, host);
    ASSERT_EQ(r.failures.size(), 1u);
    EXPECT_TRUE(r.failures[0].invalid);
    r = check_requirements({{"CUDA_VERSION", "twelve"}}, host);
    ASSERT_EQ(r.failures.size(), 1u);
    EXPECT_TRUE(r.failures[0].invalid);
    EXPECT_TRUE(contains(r.failures[0].message, "twelve"));
}

// ---------------------------------------------------------------------------------------------
// Fatbin: hostile and synthetic input

namespace {

void put16(std::string& s, size_t at, std::uint16_t v) {
    std::memcpy(s.data() + at, &v, 2);
}
void put32(std::string& s, size_t at, std::uint32_t v) {
    std::memcpy(s.data() + at, &v, 4);
}
void put64(std::string& s, size_t at, std::uint64_t v) {
    std::memcpy(s.data() + at, &v, 8);
}

std::string entry(std::uint16_t kind, unsigned arch, std::uint64_t flags, std::string payload,
                  std::uint16_t major = 9, std::uint16_t minor = 0, std::uint32_t compressed = 0,
                  std::uint64_t uncompressed = 0) {
    while (payload.size() % 8) payload.push_back('\0');
    std::string h(64, '\0');
    put16(h, 0, kind);
    put16(h, 2, 0x0101);
    put32(h, 4, 64);
    put64(h, 8, payload.size());
    put32(h, 0x10, compressed);
    put16(h, 0x18, minor);
    put16(h, 0x1a, major);
    put32(h, 0x1c, arch);
    put64(h, 0x28, flags);
    put64(h, 0x38, uncompressed);
    return h + payload;
}

std::string container(const std::vector<std::string>& entries) {
    std::string body;
    for (auto& e : entries) body += e;
    std::string h(16, '\0');
    put32(h, 0, 0xBA55ED50);
    put16(h, 4, 1);
    put16(h, 6, 16);
    put64(h, 8, body.size());
    return h + body;
}

// A minimal cubin: ELF64 header, a .text section with SHF_EXECINSTR (or not), a cuinfo note.
std::string fake_cubin(unsigned sm, unsigned toolkit, bool code) {
    std::string note(12 + 12 + 8, '\0');
    put32(note, 0, 12);
    put32(note, 4, 8);
    put32(note, 8, 1000);
    std::memcpy(note.data() + 12, "NVIDIA Corp", 12);
    put16(note, 24, 2);
    put16(note, 26, static_cast<std::uint16_t>(sm));
    put32(note, 28, toolkit);
    std::string text(16, '\xaa');
    std::string c(64, '\0');
    std::memcpy(c.data(),
                "\x7f"
                "ELF\x02\x01\x01\x41\x08",
                9);
    put16(c, 0x12, 190);
    put32(c, 0x30, 0x06000004u | (sm << 8));
    size_t note_off = c.size();
    c += note;
    size_t text_off = c.size();
    c += text;
    size_t shoff = c.size();
    put64(c, 0x28, shoff);
    put16(c, 0x3a, 64);
    put16(c, 0x3c, 3);
    std::string sh(3 * 64, '\0');
    put32(sh, 64 + 4, 7); // SHT_NOTE
    put64(sh, 64 + 24, note_off);
    put64(sh, 64 + 32, note.size());
    put32(sh, 128 + 4, 1); // PROGBITS
    put64(sh, 128 + 8, code ? 0x6 : 0x2);
    put64(sh, 128 + 24, text_off);
    put64(sh, 128 + 32, text.size());
    return c + sh;
}

} // namespace

TEST(CompatFatbin, SyntheticContainers) {
    std::string blob = "garbage before " +
                       container({entry(2, 80, 0x11, fake_cubin(80, 130, true), 1, 8),
                                  entry(1, 90, 0x11, ".version 9.0\n")}) +
                       "between" +
                       container({entry(2, 86, 0x11, fake_cubin(86, 130, false), 1, 8)}) +
                       container({entry(2, 100, 0x1200011, fake_cubin(100, 131, true), 1, 8),
                                  entry(1, 100, 0x208011, "x"), entry(2, 90, 0x100011, "y"),
                                  entry(8, 80, 0x18011, "lto")}) +
                       "tail";
    auto fb = scan_fatbin_bytes(blob);
    EXPECT_FALSE(fb.elf);
    ASSERT_EQ(fb.containers.size(), 3u);
    EXPECT_TRUE(fb.problems.empty()) << fb.problems[0];
    ASSERT_EQ(fb.entries.size(), 7u);
    EXPECT_EQ(fb.entries[0].arch_name(), "sm_80");
    EXPECT_EQ(fb.entries[0].toolkit, 130u);
    EXPECT_EQ(fb.entries[0].cubin_sm, 80u);
    EXPECT_EQ(fb.entries[0].has_code, HasCode::yes);
    EXPECT_EQ(fb.entries[0].offset, 15u + 16u);
    EXPECT_EQ(fb.entries[1].arch_name(), "compute_90");
    EXPECT_EQ(fb.entries[1].code_major, 9);
    EXPECT_TRUE(fb.containers[1].stub);
    EXPECT_TRUE(fb.entries[2].stub);
    EXPECT_EQ(fb.stub_containers(), 1u);
    EXPECT_EQ(fb.entries[3].arch_name(), "sm_100f");
    EXPECT_EQ(fb.entries[3].toolkit, 131u);
    EXPECT_EQ(fb.entries[4].arch_name(), "compute_100f");
    EXPECT_EQ(fb.entries[5].arch_name(), "sm_90a");
    EXPECT_FALSE(fb.entries[5].cubin_error.empty()); // "y" is no ELF
    EXPECT_EQ(fb.entries[6].arch_name(), "lto_80");
    EXPECT_EQ(fb.kernel_entries().size(), 6u);
}

TEST(CompatFatbin, Lz4Block) {
    std::string out;
    EXPECT_TRUE(lz4_block_decompress(std::string("\x50hello", 6), out, 5));
    EXPECT_EQ(out, "hello");
    // "abc" then a 6-byte match at offset 3 (overlapping copy).
    EXPECT_TRUE(lz4_block_decompress(std::string("\x32"
                                                 "abc\x03\x00",
                                                 6),
                                     out, 9));
    EXPECT_EQ(out, "abcabcabc");
    EXPECT_FALSE(lz4_block_decompress(std::string("\x32"
                                                  "abc\x03\x00",
                                                  6),
                                      out, 10)); // size lie
    EXPECT_FALSE(lz4_block_decompress(std::string("\x32"
                                                  "abc\x04\x00",
                                                  6),
                                      out, 9)); // offset > out
    EXPECT_FALSE(lz4_block_decompress(std::string("\x32"
                                                  "abc\x00\x00",
                                                  6),
                                      out, 9)); // offset 0
    EXPECT_FALSE(lz4_block_decompress(std::string("\x32"
                                                  "abc\x03",
                                                  5),
                                      out, 9));                                   // truncated
    EXPECT_FALSE(lz4_block_decompress(std::string("\xf0\xff\xff", 3), out, 100)); // runaway len
    EXPECT_FALSE(lz4_block_decompress(std::string("\x90hello", 6), out, 9)); // literals past end
}

TEST(CompatFatbin, HostileBytesNeverCrash) {
    const std::string good =
        container({entry(2, 80, 0x11, fake_cubin(80, 130, true), 1, 8), entry(1, 90, 0x11, "ptx"),
                   entry(2, 75, 0x2011, "\x50hello", 1, 8, 6, 5),
                   entry(2, 75, 0x8011, "not zstd", 1, 8, 8, 1000)});
    auto base = scan_fatbin_bytes(good);
    ASSERT_EQ(base.entries.size(), 4u);
    EXPECT_FALSE(base.entries[2].cubin_error.empty()); // "hello" is no cubin
    EXPECT_FALSE(base.entries[3].cubin_error.empty()); // not a zstd frame

    // Every truncation.
    for (size_t n = 0; n <= good.size(); ++n) {
        auto fb = scan_fatbin_bytes(std::string_view(good).substr(0, n));
        EXPECT_LE(fb.entries.size(), 4u);
        for (auto& e : fb.entries) EXPECT_LE(e.offset + e.disk_size(), n);
    }

    // Lying sizes.
    auto lie = [&](size_t at, std::uint64_t v, int width) {
        std::string s = good;
        if (width == 2) put16(s, at, static_cast<std::uint16_t>(v));
        if (width == 4) put32(s, at, static_cast<std::uint32_t>(v));
        if (width == 8) put64(s, at, v);
        return scan_fatbin_bytes(s);
    };
    auto fb = lie(8, UINT64_MAX, 8); // fatSize
    EXPECT_EQ(fb.entries.size(), 4u);
    EXPECT_FALSE(fb.problems.empty());
    fb = lie(8, 8, 8); // fatSize smaller than one entry: nothing fits
    EXPECT_EQ(fb.entries.size(), 0u);
    fb = lie(6, 0xffff, 2); // container header size
    EXPECT_EQ(fb.entries.size(), 0u);
    fb = lie(16 + 4, 0xffffffff, 4); // first entry header size
    EXPECT_TRUE(fb.entries.empty());
    fb = lie(16 + 4, 8, 4);
    EXPECT_TRUE(fb.entries.empty());
    fb = lie(16 + 8, UINT64_MAX - 10, 8); // first entry size overflows
    EXPECT_TRUE(fb.entries.empty());
    size_t second = base.entries[1].offset;
    fb = lie(second + 8, 1u << 30, 8); // second entry runs past the container
    EXPECT_EQ(fb.entries.size(), 1u);
    EXPECT_FALSE(fb.problems.empty());
    size_t lz4 = base.entries[2].offset;
    fb = lie(lz4 + 0x38, UINT64_MAX, 8); // absurd uncompressed size
    ASSERT_EQ(fb.entries.size(), 4u);
    FatbinOptions all;
    all.cubin = FatbinOptions::Cubin::all;
    {
        std::string s = good;
        put64(s, lz4 + 0x38, 200u << 20); // 200 MiB from 6 bytes of LZ4: refused, not allocated
        fb = scan_fatbin_bytes(s, all);
        ASSERT_EQ(fb.entries.size(), 4u);
        EXPECT_FALSE(fb.entries[2].cubin_error.empty());
        put32(s, lz4 + 0x10, 0xffffff); // compressed size beyond the payload
        fb = scan_fatbin_bytes(s, all);
        EXPECT_FALSE(fb.entries[2].cubin_error.empty());
    }
    size_t zs = base.entries[3].offset;
    {
        std::string s = good;
        put64(s, zs + 0x38, 100u << 20); // large: streamed, fails on the bad frame
        fb = scan_fatbin_bytes(s, all);
        EXPECT_FALSE(fb.entries[3].cubin_error.empty());
    }

    // Corrupt cubin headers inside a valid entry.
    {
        std::string cub = fake_cubin(80, 130, true);
        for (size_t at : {0x28u, 0x3au, 0x3cu}) {
            std::string c = cub;
            put16(c, at, 0xffff);
            if (at == 0x28) put64(c, at, UINT64_MAX - 3);
            auto r = scan_fatbin_bytes(container({entry(2, 80, 0x11, c, 1, 8)}));
            ASSERT_EQ(r.entries.size(), 1u);
        }
        std::string c = cub;
        put32(c, 64, 0xffffff00); // note namesz huge
        auto r = scan_fatbin_bytes(container({entry(2, 80, 0x11, c, 1, 8)}));
        ASSERT_EQ(r.entries.size(), 1u);
        EXPECT_EQ(r.entries[0].toolkit, 0u);
    }

    // Random mutations of the good container, and random bytes full of magic numbers.
    std::mt19937_64 rng(42);
    for (int i = 0; i < 3000; ++i) {
        std::string s = good;
        int flips = 1 + static_cast<int>(rng() % 8);
        for (int k = 0; k < flips; ++k) s[rng() % s.size()] = static_cast<char>(rng());
        if (rng() % 4 == 0) s.resize(rng() % s.size());
        scan_fatbin_bytes(s, i % 2 ? all : FatbinOptions{});
    }
    for (int i = 0; i < 200; ++i) {
        std::string s(1 + rng() % 4096, '\0');
        for (auto& ch : s) ch = static_cast<char>(rng());
        for (int k = 0; k < 20 && s.size() >= 4; ++k) {
            size_t at = rng() % (s.size() - 3);
            put32(s, at, 0xBA55ED50);
            if (at + 6 <= s.size()) put16(s, at + 4, 1);
        }
        scan_fatbin_bytes(s, all);
    }
    // A magic number in the last bytes.
    scan_fatbin_bytes(std::string("\x50\xED\x55\xBA\x01\x00", 6));
}

TEST(CompatFatbin, HostileElf) {
    std::string body = container({entry(1, 80, 0x11, "ptx")});
    // An ELF whose section table lies: the scanner falls back to program headers, then the file.
    std::string elf(64, '\0');
    std::memcpy(elf.data(),
                "\x7f"
                "ELF\x02\x01\x01",
                7);
    put64(elf, 0x28, 1u << 30); // e_shoff past the end
    put16(elf, 0x3a, 64);
    put16(elf, 0x3c, 0xffff);
    auto fb = scan_fatbin_bytes(elf + body);
    EXPECT_TRUE(fb.elf);
    EXPECT_EQ(fb.entries.size(), 1u);
    // Section headers in range but every section out of range, and a huge shnum.
    std::string e2 = elf + body;
    size_t shoff = e2.size();
    std::string sh(2 * 64, '\0');
    put32(sh, 64 + 4, 1);
    put64(sh, 64 + 24, 1ull << 40);
    put64(sh, 64 + 32, 1u << 20);
    e2 += sh;
    put64(e2, 0x28, shoff);
    fb = scan_fatbin_bytes(e2);
    EXPECT_EQ(fb.entries.size(), 1u); // fallback to the whole file
    EXPECT_FALSE(fb.problems.empty());
    // A section that covers the container, extending past the end of the file.
    put64(e2, shoff + 64 + 24, 64);
    put64(e2, shoff + 64 + 32, UINT64_MAX);
    fb = scan_fatbin_bytes(e2);
    EXPECT_EQ(fb.entries.size(), 1u);
    EXPECT_EQ(fb.containers[0].region, "section[1]");
}

TEST(CompatFatbin, MissingFile) {
    EXPECT_THROW(scan_fatbin_file("/nonexistent/libx.so"), gantry::Error);
    EXPECT_THROW(scan_fatbin_file("/"), gantry::Error);
}

// ---------------------------------------------------------------------------------------------
// Fatbin: real binaries from nvcc

namespace {

std::string find_nvcc() {
    std::vector<std::string> candidates;
    for (auto var : {"CUDACXX"})
        if (const char* v = std::getenv(var); v && *v) candidates.push_back(v);
    for (auto var : {"CUDA_HOME", "CUDA_PATH"})
        if (const char* v = std::getenv(var); v && *v)
            candidates.push_back(std::string(v) + "/bin/nvcc");
    candidates.push_back("/usr/local/cuda/bin/nvcc");
    if (const char* path = std::getenv("PATH")) {
        std::stringstream ss(path);
        std::string dir;
        while (std::getline(ss, dir, ':'))
            if (!dir.empty()) candidates.push_back(dir + "/nvcc");
    }
    for (auto& c : candidates)
        if (::access(c.c_str(), X_OK) == 0) return c;
    return {};
}

struct Build {
    std::string name;
    std::string args;
};

struct Row {
    std::string kind, arch, compression;
    bool operator==(const Row&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Row& r) {
    return os << r.kind << ' ' << r.arch << ' ' << r.compression;
}

std::vector<Row> rows(const std::vector<FatbinEntry>& es) {
    std::vector<Row> v;
    for (auto& e : es)
        v.push_back({std::string(to_string(e.kind)) + (e.relocatable ? "/rdc" : ""), e.arch_name(),
                     to_string(e.compression)});
    return v;
}

} // namespace

class CompatNvcc : public ::testing::Test {
  protected:
    // ctest runs every test in its own process (gtest_discover_tests), so the builds go to a
    // private cache directory keyed by nvcc and the build commands: the first process compiles
    // (all builds in parallel), later ones reuse the results.
    static void SetUpTestSuite() {
        nvcc_ = find_nvcc();
        if (nvcc_.empty()) return;
        const std::string source = "__global__ void k(float* x) { x[threadIdx.x] *= 2.0f; }\n"
                                   "void launch(float* x) { k<<<1, 32>>>(x); }\n";
        const std::string two = "-gencode arch=compute_80,code=sm_80 "
                                "-gencode arch=compute_90,code=compute_90";
        const std::vector<Build> builds = {
            {"libgencode.so", "-shared -Xcompiler -fPIC " + two},
            {"libsm90a.so", "-shared -Xcompiler -fPIC -arch=sm_90a"},
            {"libzstd.so", "-shared -Xcompiler -fPIC " + two + " -Xfatbin -compress-all"},
            {"libnone.so", "-shared -Xcompiler -fPIC " + two + " -Xfatbin --compress=false"},
            {"liblz4.so", "-shared -Xcompiler -fPIC " + two + " --compress-mode=speed"},
            {"librdc.so", "-shared -Xcompiler -fPIC -rdc=true " + two},
            {"libfamily.so", "-shared -Xcompiler -fPIC -gencode arch=compute_100f,code=[sm_100f,"
                             "compute_100f] -gencode arch=compute_80,code=lto_80"},
            {"k.fatbin", "-fatbin " + two},
        };
        struct stat st {};
        std::string key = nvcc_ + source;
        if (::stat(nvcc_.c_str(), &st) == 0)
            key += std::to_string(st.st_size) + "/" + std::to_string(st.st_mtime);
        for (auto& b : builds) key += b.name + b.args;
        char name[64];
        std::snprintf(name, sizeof name, "gantry-nvcc-%u-%016zx", static_cast<unsigned>(::getuid()),
                      std::hash<std::string>{}(key));
        dir_ = stdfs::temp_directory_path() / name;
        ::mkdir(dir_.c_str(), 0700);
        // Only a directory of ours that nobody else can write (it lives in a shared /tmp).
        if (::lstat(dir_.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != ::getuid() ||
            (st.st_mode & 022)) {
            std::string tmpl = (stdfs::temp_directory_path() / "gantry-nvcc-XXXXXX").string();
            if (!::mkdtemp(tmpl.data())) return;
            dir_ = tmpl;
            private_dir_ = true;
        }
        gantry::fs::write_atomic(dir_ / "k.cu", source);
        const std::string tag = ".tmp-" + std::to_string(::getpid());
        std::vector<std::pair<std::string, std::future<int>>> jobs;
        for (auto& b : builds) {
            if (stdfs::exists(dir_ / b.name)) {
                built_[b.name] = dir_ / b.name;
                continue;
            }
            std::string cmd = "cd '" + dir_.string() + "' && '" + nvcc_ + "' " + b.args +
                              " k.cu -o " + b.name + tag + " > " + b.name + ".log 2>&1 && mv -f " +
                              b.name + tag + " " + b.name;
            jobs.emplace_back(
                b.name, std::async(std::launch::async, [cmd] { return std::system(cmd.c_str()); }));
        }
        for (auto& [n, job] : jobs)
            if (job.get() == 0) built_[n] = dir_ / n;
    }
    static void TearDownTestSuite() {
        if (private_dir_) gantry::fs::remove_tree(dir_);
    }

    void SetUp() override {
        if (nvcc_.empty()) GTEST_SKIP() << "nvcc not found";
    }

    // Scans one build; fails the test when nvcc did not produce it.
    static FatbinFile scan(const std::string& name,
                           FatbinOptions::Cubin mode = FatbinOptions::Cubin::cheap) {
        auto it = built_.find(name);
        if (it == built_.end()) {
            std::ifstream log(dir_ / (name + ".log"));
            std::stringstream ss;
            ss << log.rdbuf();
            ADD_FAILURE() << "nvcc failed to build " << name << ":\n" << ss.str();
            return {};
        }
        FatbinOptions o;
        o.cubin = mode;
        return scan_fatbin_file(it->second.string(), o);
    }

    static inline std::string nvcc_;
    static inline stdfs::path dir_;
    static inline bool private_dir_ = false;
    static inline std::map<std::string, stdfs::path> built_;
};

TEST_F(CompatNvcc, GencodeSassAndPtx) {
    auto fb = scan("libgencode.so");
    EXPECT_TRUE(fb.elf);
    EXPECT_TRUE(fb.problems.empty());
    ASSERT_EQ(fb.containers.size(), 2u);
    EXPECT_TRUE(fb.containers[0].stub); // nvlink's container: an empty sm_80 cubin
    EXPECT_EQ(fb.containers[0].region, ".nv_fatbin");
    auto k = fb.kernel_entries();
    EXPECT_EQ(rows(k),
              (std::vector<Row>{{"sass", "sm_80", "none"}, {"ptx", "compute_90", "zstd"}}));
    ASSERT_EQ(k.size(), 2u);
    EXPECT_EQ(k[0].toolkit, 130u); // built by CUDA 13.0
    EXPECT_EQ(k[0].cubin_sm, 80u);
    EXPECT_EQ(k[0].has_code, HasCode::yes);
    EXPECT_EQ(k[1].code_major, 9); // PTX ISA 9.0
    EXPECT_EQ(k[1].code_minor, 0);
    EXPECT_GT(k[1].uncompressed_size, k[1].compressed_size);
}

TEST_F(CompatNvcc, ArchSpecific) {
    auto fb = scan("libsm90a.so");
    EXPECT_EQ(fb.stub_containers(), 1u);
    EXPECT_EQ(rows(fb.kernel_entries()), (std::vector<Row>{{"ptx", "compute_90", "zstd"},
                                                           {"sass", "sm_90a", "none"},
                                                           {"ptx", "compute_90a", "zstd"}}));
}

TEST_F(CompatNvcc, CompressAll) {
    auto fb = scan("libzstd.so");
    EXPECT_EQ(fb.stub_containers(), 1u); // recognised although its cubin is compressed
    auto k = fb.kernel_entries();
    EXPECT_EQ(rows(k),
              (std::vector<Row>{{"sass", "sm_80", "zstd"}, {"ptx", "compute_90", "zstd"}}));
    ASSERT_EQ(k.size(), 2u);
    EXPECT_EQ(k[0].toolkit, 130u); // read after decompressing
    EXPECT_EQ(k[0].has_code, HasCode::yes);
    EXPECT_LT(k[0].size, k[0].uncompressed_size);
}

TEST_F(CompatNvcc, NoCompression) {
    auto fb = scan("libnone.so");
    auto k = fb.kernel_entries();
    EXPECT_EQ(rows(k),
              (std::vector<Row>{{"sass", "sm_80", "none"}, {"ptx", "compute_90", "none"}}));
    ASSERT_EQ(k.size(), 2u);
    EXPECT_EQ(k[1].compressed_size, 0u);
    EXPECT_EQ(k[1].uncompressed_size, k[1].size);
}

TEST_F(CompatNvcc, Lz4) {
    auto fb = scan("liblz4.so");
    auto k = fb.kernel_entries();
    EXPECT_EQ(rows(k), (std::vector<Row>{{"sass", "sm_80", "none"}, {"ptx", "compute_90", "lz4"}}));
    ASSERT_EQ(k.size(), 2u);
    // The PTX payload is a raw LZ4 block that decodes to the PTX text.
    std::ifstream in(built_["liblz4.so"], std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), {});
    std::string ptx;
    ASSERT_TRUE(lz4_block_decompress(
        std::string_view(bytes).substr(k[1].offset + k[1].header_size, k[1].compressed_size), ptx,
        k[1].uncompressed_size));
    EXPECT_TRUE(contains(ptx, ".version 9.0")) << ptx;
    EXPECT_TRUE(contains(ptx, ".target sm_90")) << ptx;
}

TEST_F(CompatNvcc, RelocatableSharedObject) {
    auto fb = scan("librdc.so");
    EXPECT_EQ(fb.stub_containers(), 0u); // the linked cubin holds the kernel
    EXPECT_EQ(rows(fb.kernel_entries()), (std::vector<Row>{{"sass", "sm_80", "none"},
                                                           {"sass/rdc", "sm_80", "zstd"},
                                                           {"ptx/rdc", "compute_90", "zstd"}}));
    bool relfatbin = false;
    for (auto& c : fb.containers) relfatbin |= c.region == "__nv_relfatbin" && c.relocatable;
    EXPECT_TRUE(relfatbin);
    // The runtime loads only the linked sm_80 cubin: nothing for Hopper, despite compute_90.
    auto k = can_run(fb.kernel_entries(), 9, 0, 13000);
    EXPECT_FALSE(k.ok) << k.reason;
    EXPECT_TRUE(can_run(fb.kernel_entries(), 8, 6, 13000).ok);
}

TEST_F(CompatNvcc, FamilyAndLto) {
    auto fb = scan("libfamily.so");
    EXPECT_EQ(rows(fb.kernel_entries()), (std::vector<Row>{{"sass", "sm_100f", "none"},
                                                           {"ptx", "compute_100f", "zstd"},
                                                           {"lto", "lto_80", "zstd"}}));
}

TEST_F(CompatNvcc, RawFatbinFile) {
    auto fb = scan("k.fatbin");
    EXPECT_FALSE(fb.elf);
    ASSERT_EQ(fb.containers.size(), 1u);
    EXPECT_EQ(fb.containers[0].region, "file");
    EXPECT_EQ(rows(fb.kernel_entries()),
              (std::vector<Row>{{"sass", "sm_80", "none"}, {"ptx", "compute_90", "zstd"}}));
}

TEST_F(CompatNvcc, CanRunRealEntries) {
    auto k = scan("libgencode.so").entries; // stubs included: can_run must skip them
    auto r = can_run(k, 8, 6, 13000);
    EXPECT_TRUE(r.ok);
    EXPECT_EQ(r.verdict, KernelVerdict::sass);
    EXPECT_EQ(r.arch, "sm_80");
    r = can_run(k, 9, 0, 13000);
    EXPECT_EQ(r.verdict, KernelVerdict::ptx_jit) << r.reason;
    EXPECT_EQ(r.arch, "compute_90");
    r = can_run(k, 9, 0, 12080); // PTX ISA 9.0 needs a CUDA 13.0 driver
    EXPECT_FALSE(r.ok);
    EXPECT_TRUE(r.ptx_too_new);
    EXPECT_TRUE(contains(r.reason, "13.0")) << r.reason;
    EXPECT_TRUE(contains(r.reason, "222")) << r.reason;
    r = can_run(k, 7, 0, 13000);
    EXPECT_FALSE(r.ok);
    EXPECT_TRUE(contains(r.reason, "7.0")) << r.reason;
    EXPECT_TRUE(contains(r.reason, "209")) << r.reason;

    auto a = scan("libsm90a.so").entries;
    EXPECT_EQ(can_run(a, 9, 0, 13000).arch, "sm_90a");
    r = can_run(a, 10, 0, 13000); // the plain compute_90 PTX JIT-compiles for Blackwell
    EXPECT_EQ(r.verdict, KernelVerdict::ptx_jit);
    EXPECT_EQ(r.arch, "compute_90");
}

// ---------------------------------------------------------------------------------------------
// can_run with synthetic entries

namespace {

FatbinEntry sass(unsigned arch, ArchVariant v = ArchVariant::plain) {
    FatbinEntry e;
    e.kind = EntryKind::sass;
    e.arch = arch;
    e.variant = v;
    e.code_major = 1;
    e.code_minor = 8;
    return e;
}

FatbinEntry ptx(unsigned arch, int isa_major, int isa_minor, ArchVariant v = ArchVariant::plain) {
    FatbinEntry e;
    e.kind = EntryKind::ptx;
    e.arch = arch;
    e.variant = v;
    e.code_major = static_cast<std::uint16_t>(isa_major);
    e.code_minor = static_cast<std::uint16_t>(isa_minor);
    return e;
}

} // namespace

TEST(CompatKernels, SassRules) {
    EXPECT_TRUE(sass_runs_on(sass(80), 8, 6));
    EXPECT_TRUE(sass_runs_on(sass(80), 8, 9));
    EXPECT_FALSE(sass_runs_on(sass(86), 8, 0));
    EXPECT_FALSE(sass_runs_on(sass(80), 9, 0));
    EXPECT_FALSE(sass_runs_on(sass(75), 8, 0));
    EXPECT_TRUE(sass_runs_on(sass(90, ArchVariant::a), 9, 0));
    EXPECT_FALSE(sass_runs_on(sass(90, ArchVariant::a), 10, 0));
    EXPECT_FALSE(sass_runs_on(sass(100, ArchVariant::a), 10, 3));
    EXPECT_TRUE(sass_runs_on(sass(100, ArchVariant::f), 10, 0));
    EXPECT_TRUE(sass_runs_on(sass(100, ArchVariant::f), 10, 3));
    EXPECT_FALSE(sass_runs_on(sass(103, ArchVariant::f), 10, 0));
    EXPECT_TRUE(sass_runs_on(sass(120, ArchVariant::f), 12, 1));
    EXPECT_FALSE(sass_runs_on(sass(120, ArchVariant::f), 10, 0));
    EXPECT_TRUE(sass_runs_on(sass(120), 12, 1));
    EXPECT_FALSE(sass_runs_on(sass(121), 12, 0));

    EXPECT_TRUE(ptx_targets(ptx(80, 9, 0), 9, 0));
    EXPECT_TRUE(ptx_targets(ptx(100, 9, 0), 12, 0)); // plain PTX: any later compute capability
    EXPECT_FALSE(ptx_targets(ptx(90, 9, 0), 8, 9));
    EXPECT_TRUE(ptx_targets(ptx(100, 9, 0, ArchVariant::f), 10, 3));
    EXPECT_FALSE(ptx_targets(ptx(100, 9, 0, ArchVariant::f), 12, 0));
    EXPECT_TRUE(ptx_targets(ptx(90, 9, 0, ArchVariant::a), 9, 0));
    EXPECT_FALSE(ptx_targets(ptx(90, 9, 0, ArchVariant::a), 10, 0));
}

TEST(CompatKernels, CanRun) {
    // sm_80 SASS on an 8.6 GPU.
    auto r = can_run({sass(80)}, 8, 6, 12080);
    EXPECT_TRUE(r.ok);
    EXPECT_EQ(r.verdict, KernelVerdict::sass);
    EXPECT_EQ(r.entry, 0u);
    EXPECT_TRUE(contains(r.reason, "sm_80")) << r.reason;
    // sm_90a on 9.0 but not on 10.0.
    EXPECT_TRUE(can_run({sass(90, ArchVariant::a)}, 9, 0, 13000).ok);
    r = can_run({sass(90, ArchVariant::a)}, 10, 0, 13000);
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.verdict, KernelVerdict::none);
    EXPECT_TRUE(contains(r.reason, "sm_90a")) << r.reason;
    // PTX compute_80 JIT-compiled on 9.0 when the driver knows the ISA.
    r = can_run({sass(80), ptx(80, 9, 0)}, 9, 0, 13000);
    EXPECT_EQ(r.verdict, KernelVerdict::ptx_jit);
    EXPECT_EQ(r.entry, 1u);
    r = can_run({sass(80), ptx(80, 9, 0)}, 9, 0, 12090);
    EXPECT_FALSE(r.ok);
    EXPECT_TRUE(r.ptx_too_new);
    EXPECT_TRUE(can_run({ptx(80, 8, 7)}, 9, 0, 12080).ok);
    EXPECT_FALSE(can_run({ptx(80, 8, 8)}, 9, 0, 12080).ok);
    EXPECT_TRUE(can_run({ptx(80, 9, 9)}, 9, 0, 0).ok);      // unknown driver: ISA not checked
    EXPECT_FALSE(can_run({ptx(80, 9, 9)}, 9, 0, 13040).ok); // unknown ISA: assume too new
    // No kernel for 7.0.
    r = can_run({sass(80), sass(90), ptx(80, 9, 0)}, 7, 0, 13000);
    EXPECT_FALSE(r.ok);
    EXPECT_TRUE(contains(r.reason, "7.0")) << r.reason;
    EXPECT_TRUE(contains(r.reason, "sm_80, sm_90, compute_80")) << r.reason;
    EXPECT_EQ(r.rejected.size(), 3u);
    // The best SASS wins: highest compatible arch, a before plain.
    r = can_run({sass(80), sass(86), sass(89), ptx(89, 9, 0)}, 8, 9, 13000);
    EXPECT_EQ(r.arch, "sm_89");
    r = can_run({sass(90), sass(90, ArchVariant::a)}, 9, 0, 13000);
    EXPECT_EQ(r.arch, "sm_90a");
    r = can_run({sass(100, ArchVariant::f), sass(120, ArchVariant::f)}, 10, 3, 13000);
    EXPECT_EQ(r.arch, "sm_100f");
    // Stubs, relocatable entries and LTO IR are never loaded.
    auto stub = sass(86);
    stub.stub = true;
    auto rdc = sass(86);
    rdc.relocatable = true;
    FatbinEntry lto;
    lto.kind = EntryKind::lto;
    lto.arch = 86;
    r = can_run({stub, rdc, lto}, 8, 6, 13000);
    EXPECT_FALSE(r.ok);
    EXPECT_TRUE(contains(r.reason, "relocatable")) << r.reason;
    EXPECT_FALSE(can_run({}, 8, 0, 13000).ok);
}
