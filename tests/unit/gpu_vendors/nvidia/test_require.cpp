// gpu_vendors/nvidia/require: NVIDIA_REQUIRE_* and NVIDIA_REQUIRE_CUDA evaluated as
// nvidia-container-toolkit does (Go's ParseBool, version comparison, expressions, per-GPU
// evaluation, legacy forms).
#include "gpu_vendors/nvidia/require.hpp"

#include <gtest/gtest.h>
#include <string>

namespace compat_require_test {

using namespace gantry::gpu_vendors::nvidia;

namespace {

bool contains(const std::string& s, const std::string& part) {
    return s.find(part) != std::string::npos;
}

} // namespace

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

// Fuzzing found 18446744073709551615 accepted: dsl.c's strtoumax(...) == UINTMAX_MAX makes
// 2^64-1 itself invalid, as every larger number (libnvidia-container src/cli/dsl.c).
TEST(CompatRequire, VersionPartLimitsMatchLibnvidiaContainer) {
    EXPECT_EQ(compare_version("12.4", ">=", "12.18446744073709551615"), -1);
    EXPECT_EQ(compare_version("18446744073709551615", "<", "12"), -1);
    EXPECT_EQ(compare_version("12.4", ">=", "12.000018446744073709551615"), -1); // same value
    EXPECT_EQ(compare_version("12.4", ">=", "12.18446744073709551616"), -1);     // overflow
    // the near miss: one less is a number like any other
    EXPECT_EQ(compare_version("12.4", "<", "12.18446744073709551614"), 1);
    // dsl.c never parses the part past the shorter version: no error there either
    EXPECT_EQ(compare_version("12.4", "<", "12.4.18446744073709551615"), 1);
    RequireFacts f{"12.4", "550.54.15", "8.0", "Tesla"};
    EXPECT_EQ(evaluate_expression("cuda>=12.18446744073709551615", f).outcome,
              ExprOutcome::invalid);
    EXPECT_EQ(evaluate_expression("cuda>=12.18446744073709551614", f).outcome,
              ExprOutcome::unsatisfied);
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

} // namespace compat_require_test
