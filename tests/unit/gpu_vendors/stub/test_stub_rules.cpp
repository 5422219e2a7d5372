// The proof that a vendor adds lint rules and analyze findings without touching lint/ or
// analyze/: the stub vendor, registered, is in `gantry lint`'s rule list and reports GL901 and
// GL016 for its own variable; `gantry analyze`'s find() reports its STUB-CODE finding; taken out
// again, neither knows it.
#include "analyze/model.hpp"
#include "dockerfile/dockerfile.hpp"
#include "gpu_vendors/all/backends.hpp"
#include "lint/lint.hpp"
#include "stub_backend.hpp"

#include <algorithm>
#include <gtest/gtest.h>

namespace stub_rules_test {

using namespace gantry;

namespace {

struct Registered {
    Registered() { gpu_vendors::register_backend(stub_vendor::backend()); }
    ~Registered() { gpu_vendors::unregister_backend(stub_vendor::backend()); }
};

constexpr const char* kDockerfile = "FROM ubuntu:22.04@sha256:"
                                    "0000000000000000000000000000000000000000000000000000000000"
                                    "000000\n"
                                    "RUN stub-smi\n"
                                    "ENV STUB_VISIBLE_DEVICES=1 CUDA_VISIBLE_DEVICES=0\n";

std::vector<lint::Finding> lint_it() {
    lint::Options opt;
    opt.rule_sets = gpu_vendors::lint_rule_sets();
    return lint::lint(dockerfile::parse_dockerfile(kDockerfile), opt);
}

bool lists(const std::vector<lint::RuleInfo>& rules, const std::string& code) {
    return std::any_of(rules.begin(), rules.end(),
                       [&](const lint::RuleInfo& r) { return r.code == code; });
}

std::vector<analyze::Finding> analyze_it() {
    analyze::LayerScan l;
    analyze::Entry e;
    e.path = "usr/lib/libk.so", e.kind = analyze::Kind::file, e.size = 64;
    e.device_code["stub"] = {{"stub1", 16}, {"stub2", 16}};
    l.entries.push_back(e);
    std::vector<const analyze::LayerScan*> p{&l};
    return analyze::find(p, analyze::merge(p), nlohmann::json::object(), analyze::FindOptions{});
}

const analyze::Finding* by_id(const std::vector<analyze::Finding>& v, const std::string& id) {
    for (auto& f : v)
        if (f.id == id) return &f;
    return nullptr;
}

} // namespace

TEST(StubVendorRules, LintRunsTheVendorsRulesInCodeOrder) {
    Registered r;
    auto rules = lint::rules(gpu_vendors::lint_rule_sets());
    ASSERT_TRUE(lists(rules, "GL901"));
    EXPECT_TRUE(lists(rules, "GL009")); // NVIDIA's, through the same facet
    EXPECT_TRUE(lists(rules, "GL017")); // AMD's
    EXPECT_TRUE(std::is_sorted(rules.begin(), rules.end(), [](auto& a, auto& b) {
        return std::string_view(a.code) < std::string_view(b.code);
    }));
    EXPECT_STREQ(rules.back().code, "GL901");
    auto f = lint_it();
    ASSERT_EQ(f.size(), 3u);
    EXPECT_EQ(f[0].id, "GL901");
    EXPECT_EQ(f[0].at.line, 2);
    EXPECT_EQ(f[0].severity, findings::Severity::warn);
    EXPECT_EQ(f[0].message, "RUN stub-smi: no stub GPU exists while the image builds");
    // GL016 for the stub's variable and NVIDIA's, in the ENV's order
    EXPECT_EQ(f[1].id, "GL016");
    EXPECT_EQ(f[1].message.rfind("STUB_VISIBLE_DEVICES=1 is fixed", 0), 0u) << f[1].message;
    EXPECT_EQ(f[2].id, "GL016");
    EXPECT_EQ(f[2].message.rfind("CUDA_VISIBLE_DEVICES=0 is fixed", 0), 0u) << f[2].message;
}

// The rules that compare stacks (GL002, GL008) name no vendor: a third vendor's stack, declared
// in its RuleSet, is compared with NVIDIA's and AMD's in their words.
std::vector<lint::Finding> lint_text(const std::string& text, const char* code) {
    lint::Options opt;
    opt.rule_sets = gpu_vendors::lint_rule_sets();
    std::vector<lint::Finding> out;
    for (auto& f : lint::lint(dockerfile::parse_dockerfile(text), opt))
        if (f.id == code) out.push_back(f);
    return out;
}

TEST(StubVendorRules, StacksAreComparedThroughTheFacet) {
    const std::string pin = "@sha256:" + std::string(64, '0');
    {
        Registered r;
        auto f = lint_text("FROM stub/sdk:1.2" + pin +
                               "\nRUN pip install --no-cache-dir torch==2.1.0+cu121\n",
                           "GL008");
        ASSERT_EQ(f.size(), 1u);
        EXPECT_EQ(f[0].message,
                  "torch==2.1.0+cu121 is a CUDA (NVIDIA) build but the base image stub/sdk:1.2" +
                      pin +
                      " has STUB 1.2: it cannot use Stub GPUs and brings its own CUDA "
                      "libraries");
        EXPECT_EQ(f[0].fix, "install the st12 build or use a CUDA 12.1 base image");
        f = lint_text("FROM nvidia/cuda:12.1.0-runtime-ubuntu22.04" + pin +
                          "\nRUN pip install --no-cache-dir torch==2.1.0+st13\n",
                      "GL008");
        ASSERT_EQ(f.size(), 1u);
        EXPECT_EQ(f[0].message.find("torch==2.1.0+st13 is a STUB (Stub) build but the base image "
                                    "nvidia/cuda:12.1.0-runtime-ubuntu22.04"),
                  0u)
            << f[0].message;
        EXPECT_NE(f[0].message.find("has CUDA 12.1: it cannot use NVIDIA GPUs"), std::string::npos)
            << f[0].message;
        // installed by the Dockerfile: the stub's versioned package, then its own wheel
        f = lint_text("FROM ubuntu:22.04" + pin +
                          "\nRUN apt-get install -y --no-install-recommends stub-runtime-1-3 "
                          "&& rm -rf /var/lib/apt/lists/*\n"
                          "RUN pip install --no-cache-dir torch==2.1.0+st12\n",
                      "GL008");
        ASSERT_EQ(f.size(), 1u);
        EXPECT_EQ(f[0].message, "torch==2.1.0+st12 is built for STUB 1.2 but the Dockerfile "
                                "installs STUB 1.3 (line 2: stub-runtime-1-3): the image carries "
                                "two STUB runtimes");
        auto sdk = lint_text("FROM ubuntu:22.04" + pin +
                                 "\nRUN apt-get install -y --no-install-recommends stub-sdk "
                                 "&& rm -rf /var/lib/apt/lists/*\n",
                             "GL002");
        ASSERT_EQ(sdk.size(), 1u);
        EXPECT_NE(sdk[0].message.find("stub-sdk"), std::string::npos) << sdk[0].message;
    }
    // without the stub: its wheel tag is no build lint knows, its package no SDK
    EXPECT_TRUE(lint_text("FROM nvidia/cuda:12.1.0-runtime-ubuntu22.04" + pin +
                              "\nRUN pip install --no-cache-dir torch==2.1.0+st13\n",
                          "GL008")
                    .empty());
}

TEST(StubVendorRules, AnalyzeReportsTheVendorsFinding) {
    {
        Registered r;
        auto f = analyze_it();
        auto* stub = by_id(f, "STUB-CODE");
        ASSERT_TRUE(stub);
        EXPECT_EQ(stub->subject.bytes, 32u);
        EXPECT_EQ(stub->subject.count, 1u);
        EXPECT_EQ(stub->severity, findings::Severity::info);
        EXPECT_EQ(stub->subject.details["bytes_per_target"]["stub2"], 16u);
    }
    EXPECT_FALSE(by_id(analyze_it(), "STUB-CODE"));
}

TEST(StubVendorRules, UnregisteredTheRulesAreGone) {
    { Registered r; }
    EXPECT_FALSE(lists(lint::rules(gpu_vendors::lint_rule_sets()), "GL901"));
    auto f = lint_it();
    ASSERT_EQ(f.size(), 1u); // NVIDIA's variable only
    EXPECT_EQ(f[0].id, "GL016");
}

} // namespace stub_rules_test
