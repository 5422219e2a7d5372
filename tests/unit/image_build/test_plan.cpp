// gantry build's plan: stages, ARG before FROM, predefined arguments, target selection and the
// errors refused before anything runs.
#include "dockerfile/dockerfile.hpp"
#include "image_build/plan.hpp"
#include "util/error.hpp"

#include <gtest/gtest.h>
#include <string>

namespace build_plan_test {

using namespace gantry::image_build;
using gantry::Errc;
using gantry::Error;

namespace {

Plan plan(const std::string& text, PlanOptions opt = {}) {
    return make_plan(parse(text, opt), opt);
}

// The error of planning text: code and message.
std::pair<Errc, std::string> failure(const std::string& text, PlanOptions opt = {}) {
    try {
        plan(text, opt);
    } catch (const Error& e) {
        return {e.code(), e.message()};
    }
    return {Errc::internal, "no error"};
}

} // namespace

TEST(BuildPlan, MultiStageOrderFollowsDependencies) {
    auto p = plan("FROM busybox AS a\nRUN echo a\nFROM busybox AS unused\nRUN false\n"
                  "FROM a AS b\nCOPY --from=0 /x /y\nFROM scratch\nCOPY --from=b / /\n");
    ASSERT_EQ(p.stages.size(), 4u);
    EXPECT_EQ(p.target, 3);
    EXPECT_EQ(p.order, (std::vector<int>{0, 2, 3}));
    EXPECT_EQ(p.stages[2].base_stage, 0);
    EXPECT_TRUE(p.stages[3].scratch);
    EXPECT_EQ(p.stages[0].steps.size(), 1u);
}

TEST(BuildPlan, TargetSelectsOnlyWhatItNeeds) {
    PlanOptions o;
    o.target = "A";
    auto p = plan("FROM busybox AS a\nFROM busybox AS b\n", o);
    EXPECT_EQ(p.order, (std::vector<int>{0}));
    o.target = "nope";
    auto [code, msg] = failure("FROM busybox AS a\n", o);
    EXPECT_EQ(code, Errc::not_found);
    EXPECT_NE(msg.find("nope"), std::string::npos);
}

TEST(BuildPlan, ArgBeforeFromExpandsInFromWithBuildArgOverride) {
    auto p = plan("ARG TAG=1.36\nARG IMG=busybox:${TAG}\nFROM $IMG\n");
    EXPECT_EQ(p.stages[0].base, "busybox:1.36");
    PlanOptions o;
    o.build_args["TAG"] = "latest";
    p = plan("ARG TAG=1.36\nARG IMG=busybox:${TAG}\nFROM ${IMG:-x}\n", o);
    EXPECT_EQ(p.stages[0].base, "busybox:latest");
    p = plan("ARG V\nFROM busybox:${V:-stable}${V:+-x}\n");
    EXPECT_EQ(p.stages[0].base, "busybox:stable");
}

TEST(BuildPlan, PredefinedPlatformArgs) {
    const auto host = gantry::oci::Platform::host();
    auto p = plan("FROM busybox-$TARGETARCH\n");
    EXPECT_EQ(p.stages[0].base, "busybox-" + host.architecture);
    EXPECT_EQ(p.predefined.at("TARGETPLATFORM"), host.str());
    EXPECT_EQ(p.predefined.at("BUILDOS"), "linux");
    EXPECT_EQ(p.stages[0].platform.str(), host.str());
    // --platform: the target's arguments and every stage's platform, unless FROM says another
    PlanOptions o;
    o.platform = "linux/arm64/v8";
    p = plan("FROM busybox-$TARGETARCH AS a\nFROM --platform=$BUILDPLATFORM b AS b\n", o);
    EXPECT_EQ(p.stages[0].base, "busybox-arm64");
    EXPECT_EQ(p.predefined.at("TARGETPLATFORM"), "linux/arm64/v8");
    EXPECT_EQ(p.predefined.at("TARGETVARIANT"), "v8");
    EXPECT_EQ(p.predefined.at("BUILDPLATFORM"), host.str());
    EXPECT_EQ(p.stages[0].platform.str(), "linux/arm64/v8");
    EXPECT_EQ(p.stages[1].platform.str(), host.str());
}

TEST(BuildPlan, RefusesBeforeRunning) {
    auto [c1, m1] = failure("FROM busybox\nFROBNICATE x\n");
    EXPECT_EQ(c1, Errc::invalid);
    EXPECT_EQ(m1.rfind("Dockerfile:2:1: unknown instruction", 0), 0u) << m1;
    auto [c2, m2] = failure("RUN true\nFROM busybox\n");
    EXPECT_EQ(c2, Errc::invalid);
    EXPECT_NE(m2.find("before the first FROM"), std::string::npos);
    auto [c3, m3] = failure("FROM --platform=linux//arm64 busybox\n");
    EXPECT_EQ(c3, Errc::invalid);
    EXPECT_EQ(m3.rfind("Dockerfile:1:1: ", 0), 0u) << m3;
    EXPECT_NE(m3.find("linux//arm64"), std::string::npos) << m3;
    PlanOptions o;
    o.platform = "linux/amd64,linux/arm64";
    auto [c4, m4] = failure("FROM busybox\n", o);
    EXPECT_EQ(c4, Errc::unsupported);
    EXPECT_NE(m4.find("several platforms in one stage"), std::string::npos) << m4;
    o.platform = "linux//x";
    EXPECT_EQ(failure("FROM busybox\n", o).first, Errc::usage);
    EXPECT_EQ(failure("FROM busybox AS a\nFROM busybox AS A\n").first, Errc::invalid);
    EXPECT_EQ(failure("ARG X=1\n").first, Errc::invalid);
    EXPECT_EQ(failure("FROM $NOTHING\n").first, Errc::invalid);
    EXPECT_EQ(failure("FROM a b\n").first, Errc::invalid);
}

} // namespace build_plan_test
