// tailor/cuda's keep rule (cuda_detail::choose) on containers described here, each rule with a
// case where it fires and a near miss; and tailor_cuda's early answers (no kept CUDA GPU, not an
// ELF file). Needs no nvcc.
#include "gpu_vendors/nvidia/tailor_cuda.hpp"
#include "gpu_vendors/nvidia/tailor_cuda_detail.hpp"

#include <cstring>
#include <gtest/gtest.h>

namespace tailor_cuda_keep_test {

using namespace gantry;
using namespace gantry::device_code;
using namespace gantry::gpu_vendors::nvidia;
using namespace gantry::gpu_vendors::nvidia::cuda_detail;
using V = gpu_vendors::nvidia::ArchVariant;

namespace {

Entry sass(unsigned arch, V v = V::plain) {
    Entry e;
    e.kind = 2;
    e.arch = arch;
    e.variant = v;
    return e;
}
Entry ptx(unsigned arch, V v = V::plain) {
    Entry e = sass(arch, v);
    e.kind = 1;
    return e;
}

// The arch names a container keeps for `gpus`.
std::vector<std::string> kept(std::vector<Entry> es, std::vector<unsigned> gpus, bool with_ptx,
                              bool* usable = nullptr) {
    Container c;
    c.entries = std::move(es);
    KeepSet k;
    for (unsigned g : gpus) k.by_format["cuda"].push_back("sm_" + std::to_string(g));
    if (!with_ptx) k.options.insert(kNoPtx);
    auto ch = choose(c, k);
    if (usable) *usable = ch.any_usable;
    std::vector<std::string> out;
    for (std::size_t i = 0; i < c.entries.size(); ++i)
        if (ch.keep[i]) out.push_back(c.entries[i].arch_name());
    return out;
}

using Names = std::vector<std::string>;

} // namespace

TEST(TailorCudaKeep, SassSameMajorMinorAtOrBelow) {
    auto es = {sass(75), sass(80), sass(86), sass(89), sass(90)};
    EXPECT_EQ(kept(es, {86}, false), (Names{"sm_80", "sm_86"}));
    EXPECT_EQ(kept(es, {80}, false), (Names{"sm_80"})); // near miss: sm_86 is above
    EXPECT_EQ(kept(es, {80, 90}, false), (Names{"sm_80", "sm_90"}));
    EXPECT_EQ(kept({sass(100), sass(103), sass(120)}, {103}, false), (Names{"sm_100", "sm_103"}));
}

TEST(TailorCudaKeep, OldCubinKindIsJudgedAsSass) {
    Entry old = sass(80);
    old.kind = 4;
    EXPECT_EQ(kept({old, sass(90)}, {86}, false), (Names{"sm_80"}));
}

TEST(TailorCudaKeep, ArchSpecificOnlyExact) {
    auto es = {sass(90, V::a), ptx(90, V::a), sass(90)};
    EXPECT_EQ(kept(es, {90}, false), (Names{"sm_90a", "compute_90a", "sm_90"}));
    EXPECT_EQ(kept({sass(90, V::a), sass(80)}, {86}, false), (Names{"sm_80"}));
    // sm_100a does not run on sm_103 (near miss of the family rule below).
    bool usable = true;
    // Nothing usable: no entry is marked (tailor_cuda leaves such a container untouched).
    EXPECT_EQ(kept({sass(100, V::a), sass(120)}, {103}, false), Names{});
    kept({sass(100, V::a), sass(120)}, {103}, false, &usable);
    EXPECT_FALSE(usable);
}

TEST(TailorCudaKeep, FamilySameMajorAtOrBelow) {
    auto es = {sass(100, V::f), sass(80)};
    EXPECT_EQ(kept(es, {103}, false), (Names{"sm_100f"}));
    EXPECT_EQ(kept(es, {100}, false), (Names{"sm_100f"}));
    EXPECT_EQ(kept({sass(103, V::f), sass(100)}, {100}, false), (Names{"sm_100"}));
    EXPECT_EQ(kept({sass(100, V::f), sass(120)}, {120}, false), (Names{"sm_120"}));
}

TEST(TailorCudaKeep, PtxAtOrBelowAndNewest) {
    auto es = {sass(80), sass(90), ptx(75), ptx(90), ptx(120)};
    EXPECT_EQ(kept(es, {80}, false), (Names{"sm_80", "compute_75"}));
    EXPECT_EQ(kept(es, {80}, true), (Names{"sm_80", "compute_75", "compute_120"}));
    EXPECT_EQ(kept(es, {90}, false), (Names{"sm_90", "compute_75", "compute_90"}));
    // The newest PTX is the newest non-`a` one.
    EXPECT_EQ(kept({sass(80), ptx(90), ptx(100, V::a)}, {80}, true),
              (Names{"sm_80", "compute_90"}));
}

TEST(TailorCudaKeep, LtoIsKeptButNotUsable) {
    Entry lto = sass(80);
    lto.kind = 8;
    bool usable = true;
    EXPECT_EQ(kept({lto, sass(75), sass(90)}, {90}, false), (Names{"lto_80", "sm_90"}));
    kept({lto, sass(75)}, {90}, false, &usable);
    EXPECT_FALSE(usable);
}

TEST(TailorCudaKeep, EarlyAnswers) {
    std::string text = "not an ELF file, but it holds the magic \x50\xED\x55\xBA";
    const std::string copy = text;
    KeepSet none;
    auto r = tailor_cuda(text, none, "f");
    EXPECT_EQ(r.outcome, FileReport::Outcome::unchanged);
    EXPECT_EQ(r.vendor, "cuda");
    KeepSet k;
    k.by_format["cuda"] = {"sm_90"};
    r = tailor_cuda(text, k, "f");
    EXPECT_EQ(r.outcome, FileReport::Outcome::unchanged);
    EXPECT_EQ(text, copy);
    // An ELF header whose section table lies outside the file, with the magic in it: refused.
    std::string elf(128, '\0');
    std::memcpy(elf.data(),
                "\x7f"
                "ELF\x02\x01",
                6);
    elf[0x10] = 3;
    std::uint64_t shoff = 1 << 20;
    std::memcpy(elf.data() + 0x28, &shoff, 8);
    elf[0x3a] = 64;
    elf[0x3c] = 5;
    std::memcpy(elf.data() + 100, "\x50\xED\x55\xBA", 4);
    const std::string before = elf;
    r = tailor_cuda(elf, k, "f");
    EXPECT_EQ(r.outcome, FileReport::Outcome::refused);
    EXPECT_NE(r.refused.find("section header table"), std::string::npos) << r.refused;
    EXPECT_EQ(elf, before);
    // Near miss: the same without the magic is no CUDA file at all.
    std::memset(elf.data() + 100, 0, 4);
    EXPECT_EQ(tailor_cuda(elf, k, "f").outcome, FileReport::Outcome::unchanged);
}

} // namespace tailor_cuda_keep_test
