// Intel's lint rules and analyze finding, added through the vendor facets only: GL001 for a
// shipped stage on a oneAPI toolkit image (and not for intel/oneapi-runtime or a builder stage),
// GL016 for Level Zero's and SYCL's device selection fixed in the image, INTEL-DEVICE-TARGETS for
// device code of several targets (and not for one).
#include "analyze/model.hpp"
#include "dockerfile/dockerfile.hpp"
#include "gpu_vendors/all/backends.hpp"
#include "lint/lint.hpp"

#include <gtest/gtest.h>

namespace intel_lint_analyze_test {

using namespace gantry;

namespace {

std::vector<lint::Finding> lint_of(const std::string& text, const std::string& code) {
    lint::Options opt;
    opt.rule_sets = gpu_vendors::lint_rule_sets();
    std::vector<lint::Finding> out;
    for (auto& f : lint::lint(dockerfile::parse_dockerfile(text), opt))
        if (f.id == code) out.push_back(f);
    return out;
}

analyze::Entry with_code(const std::string& path, std::map<std::string, std::uint64_t> code) {
    analyze::Entry e;
    e.path = path, e.kind = analyze::Kind::file, e.size = 1 << 20;
    e.device_code["intel"] = std::move(code);
    return e;
}

const analyze::Finding* targets_finding(std::vector<analyze::Entry> es,
                                        std::vector<analyze::Finding>& keep) {
    analyze::LayerScan l;
    l.entries = std::move(es);
    std::vector<const analyze::LayerScan*> p{&l};
    keep = analyze::find(p, analyze::merge(p), nlohmann::json::object(), analyze::FindOptions{});
    for (auto& f : keep)
        if (f.id == "INTEL-DEVICE-TARGETS") return &f;
    return nullptr;
}

} // namespace

TEST(IntelLint, ToolkitImageShipped) {
    auto f = lint_of("FROM intel/oneapi-basekit:2024.2.0-1-devel-ubuntu22.04\nRUN make\n", "GL001");
    ASSERT_EQ(f.size(), 1u);
    EXPECT_EQ(f[0].at.line, 1);
    EXPECT_EQ(f[0].severity, findings::Severity::fail);
    EXPECT_NE(f[0].message.find("a oneAPI toolkit image"), std::string::npos) << f[0].message;
    EXPECT_NE(f[0].fix.find("FROM intel/oneapi-runtime:2024.2.0-1-devel-ubuntu22.04"),
              std::string::npos)
        << f[0].fix;
    // through a stage built FROM it
    f = lint_of("FROM intel/oneapi-hpckit:2024.2.0-1-devel-ubuntu22.04 AS dev\nFROM dev\n",
                "GL001");
    ASSERT_EQ(f.size(), 1u);
    EXPECT_NE(f[0].message.find("(through FROM dev)"), std::string::npos) << f[0].message;
}

TEST(IntelLint, RuntimeImageOrBuilderStageIsFine) {
    EXPECT_TRUE(
        lint_of("FROM intel/oneapi-runtime:2024.2.0-1-devel-ubuntu22.04\n", "GL001").empty());
    EXPECT_TRUE(lint_of("FROM intel/oneapi-basekit:2024.2.0-1-devel-ubuntu22.04 AS build\n"
                        "RUN make\n"
                        "FROM intel/oneapi-runtime:2024.2.0-1-devel-ubuntu22.04\n"
                        "COPY --from=build /app /app\n",
                        "GL001")
                    .empty());
}

TEST(IntelLint, DeviceSelectionFixedInTheImage) {
    auto f =
        lint_of("FROM ubuntu:22.04\nENV ZE_AFFINITY_MASK=0.0 ONEAPI_DEVICE_SELECTOR=level_zero:0\n",
                "GL016");
    ASSERT_EQ(f.size(), 2u);
    EXPECT_EQ(f[0].message.rfind("ZE_AFFINITY_MASK=0.0 is fixed in the image", 0), 0u);
    EXPECT_EQ(f[1].message.rfind("ONEAPI_DEVICE_SELECTOR=level_zero:0 is fixed", 0), 0u);
    EXPECT_EQ(f[0].severity, findings::Severity::info);
}

TEST(IntelAnalyze, DeviceCodeForSeveralTargets) {
    std::vector<analyze::Finding> keep;
    auto* f =
        targets_finding({with_code("usr/lib/libk.so", {{"pvc", 30'000'000}, {"spirv", 5'000}}),
                         with_code("usr/bin/app", {{"pvc", 1'000}})},
                        keep);
    ASSERT_TRUE(f);
    EXPECT_EQ(f->subject.bytes, 5'000u); // keeping pvc (in both files) drops the SPIR-V
    EXPECT_EQ(f->subject.count, 2u);
    EXPECT_EQ(f->severity, findings::Severity::info);
    EXPECT_EQ(f->subject.details["bytes_per_target"]["pvc"], 30'001'000u);
    EXPECT_EQ(f->subject.details["saves_keeping_only"]["spirv"], 30'001'000u);
    EXPECT_NE(f->message.find("keeping only pvc saves"), std::string::npos) << f->message;
    EXPECT_NE(f->fix.find("-fsycl-targets"), std::string::npos);
}

TEST(IntelAnalyze, OneTargetIsNoFinding) {
    std::vector<analyze::Finding> keep;
    EXPECT_FALSE(targets_finding({with_code("usr/lib/libk.so", {{"spirv", 5'000}})}, keep));
}

} // namespace intel_lint_analyze_test
