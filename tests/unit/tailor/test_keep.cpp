// tailor/keep: the --keep-arch list: CUDA architectures in their three spellings, AMD target IDs,
// duplicates once, and every malformed item refused with the item named.
#include "gpu_vendors/nvidia/tailor_cuda.hpp"
#include "tailor/tailor.hpp"
#include "util/error.hpp"

#include <gtest/gtest.h>

namespace tailor_keep_test {

using namespace gantry;
using namespace gantry::tailor;
using gantry::gpu_vendors::nvidia::sm_number;

namespace {

std::vector<unsigned> sms(const KeepSet& k) {
    std::vector<unsigned> v;
    for (auto& c : k.targets("cuda")) v.push_back(sm_number(c));
    return v;
}

std::string usage_error(const std::string& list) {
    try {
        parse_keep_list(list);
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::usage) << list;
        return e.message();
    }
    ADD_FAILURE() << "accepted: " << list;
    return {};
}

} // namespace

TEST(KeepList, CudaSpellings) {
    auto k = parse_keep_list("sm_90, compute_80,8.6,sm_90a,sm_100f,12.0");
    EXPECT_EQ(sms(k), (std::vector<unsigned>{80, 86, 90, 100, 120}));
    EXPECT_TRUE(k.targets("hip").empty());
    EXPECT_TRUE(k.options.empty());
    EXPECT_EQ(k.str(), "sm_80,sm_86,sm_90,sm_100,sm_120 (+newest PTX)");
    k = parse_keep_list("sm_90, compute_80,8.6,sm_90a,sm_100f,12.0", {"--no-ptx"});
    EXPECT_TRUE(k.has("--no-ptx"));
    EXPECT_EQ(k.str(), "sm_80,sm_86,sm_90,sm_100,sm_120 (no PTX)");
    EXPECT_EQ(sms(parse_keep_list("SM_75")), (std::vector<unsigned>{75}));
}

TEST(KeepList, AmdTargets) {
    auto k = parse_keep_list("gfx90a,gfx942:sramecc+:xnack-,gfx90a,amdgcn-amd-amdhsa--gfx1030");
    ASSERT_EQ(k.targets("hip").size(), 3u);
    EXPECT_EQ(k.targets("hip")[0], "gfx90a");
    EXPECT_EQ(k.targets("hip")[1], "gfx942:sramecc+:xnack-");
    EXPECT_EQ(k.targets("hip")[2], "gfx1030");
    EXPECT_TRUE(k.targets("cuda").empty());
    EXPECT_EQ(k.str(), "gfx90a,gfx942:sramecc+:xnack-,gfx1030");
    auto both = parse_keep_list("gfx90a,sm_90");
    EXPECT_EQ(both.str(), "sm_90,gfx90a (+newest PTX)");
}

TEST(KeepList, Refused) {
    EXPECT_NE(usage_error("sm_8x").find("\"sm_8x\" is neither"), std::string::npos);
    EXPECT_NE(usage_error("sm_9").find("\"sm_9\""), std::string::npos);
    EXPECT_NE(usage_error("9.10").find("\"9.10\""), std::string::npos);
    EXPECT_NE(usage_error("sm_90,gfx90a:xnack").find("\"gfx90a:xnack\""), std::string::npos);
    EXPECT_NE(usage_error("volta").find("\"volta\""), std::string::npos);
    EXPECT_NE(usage_error("host").find("\"host\""), std::string::npos); // resolved by vendor/
    EXPECT_NE(usage_error("").find("empty"), std::string::npos);
    EXPECT_NE(usage_error(" , ,").find("empty"), std::string::npos);
    EXPECT_NE(usage_error("sm_5000").find("\"sm_5000\""), std::string::npos);
}

// The formats' grammars, not KeepSet, decide what an item is: each format keys its own targets,
// and the refusal names every format's noun.
TEST(KeepList, KeyedByTheFormatsGrammars) {
    ASSERT_EQ(keep_grammars().size(), 3u);
    EXPECT_STREQ(keep_grammars()[0]->format, "cuda");
    EXPECT_STREQ(keep_grammars()[1]->format, "hip");
    EXPECT_STREQ(keep_grammars()[2]->format, "intel");
    EXPECT_EQ(parse_keep_list("intel_gpu_pvc,sm_90").targets("intel"),
              (std::vector<std::string>{"pvc"}));
    auto k = parse_keep_list("GFX90A,Compute_90");
    EXPECT_EQ(k.by_format.size(), 2u);
    EXPECT_EQ(k.targets("cuda"), (std::vector<std::string>{"sm_90"}));
    EXPECT_EQ(k.targets("hip"), (std::vector<std::string>{"GFX90A"})); // as given
    EXPECT_TRUE(k.targets("stub").empty());
    EXPECT_NE(usage_error("volta").find(
                  "is neither a CUDA architecture, an AMD target nor an Intel GPU device"),
              std::string::npos);
    EXPECT_EQ(sm_number("sm_120"), 120u);
    EXPECT_EQ(sm_number("gfx90a"), 0u);
}

// A keep option is its format's (CUDA's --no-ptx, declared by the CUDA grammar, not by KeepSet):
// taken where the list has a target of that format, refused where it would change nothing.
TEST(KeepList, KeepOptionsAreTheirFormatsAndRefusedWhereTheyNameNothing) {
    auto options = keep_options();
    ASSERT_EQ(options.size(), 1u);
    EXPECT_STREQ(options[0].flag, "--no-ptx");
    ASSERT_EQ(keep_grammars()[0]->options.size(), 1u); // the CUDA grammar's own
    EXPECT_TRUE(parse_keep_list("gfx90a,sm_90", {"--no-ptx"}).has("--no-ptx"));
    try {
        parse_keep_list("gfx90a,gfx942", {"--no-ptx"});
        ADD_FAILURE() << "--no-ptx was taken for AMD targets only";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::usage);
        EXPECT_EQ(e.message(), "--no-ptx: --keep-arch gfx90a,gfx942 names none of the GPUs it "
                               "applies to (CUDA GPUs as sm_80 / 8.0)");
        EXPECT_EQ(e.hint(), "drop --no-ptx, or add one of them to --keep-arch (e.g. sm_90)");
    }
    EXPECT_THROW(parse_keep_list("sm_90", {"--no-such-option"}), Error);
    try {
        refuse_keep_options_without_list({"--no-ptx"});
        ADD_FAILURE() << "--no-ptx was taken without --keep-arch";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::usage);
        EXPECT_NE(e.message().find("no --keep-arch"), std::string::npos) << e.message();
    }
    refuse_keep_options_without_list({}); // nothing given: nothing to refuse
}

} // namespace tailor_keep_test
