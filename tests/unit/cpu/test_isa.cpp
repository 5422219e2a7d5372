// cpu/isa (x86-64 levels, cpuinfo, --cpu-arch targets) and the x86 ISA note of elf/dynamic
// (GNU_PROPERTY_X86_ISA_1_NEEDED), on ELF bytes laid out here as ld writes them.
#include "cpu/isa.hpp"
#include "elf/dynamic.hpp"
#include "util/error.hpp"

#include <cstdlib>
#include <cstring>
#include <gtest/gtest.h>
#include <set>
#include <string>

namespace cpu_isa_test {

using namespace gantry;

namespace {

template <class T>
void put(std::string& b, std::size_t at, T v) {
    if (b.size() < at + sizeof v) b.resize(at + sizeof v);
    std::memcpy(b.data() + at, &v, sizeof v);
}

// An ELF64 x86-64 executable whose .note.gnu.property holds PROPS (type, u32 value) pairs,
// covered by a PT_NOTE and (when GNU_PROPERTY) a PT_GNU_PROPERTY segment.
std::string elf_with_properties(const std::vector<std::pair<std::uint32_t, std::uint32_t>>& props,
                                bool gnu_property = true) {
    std::string b(64, '\0');
    std::memcpy(b.data(),
                "\x7f"
                "ELF",
                4);
    b[4] = 2, b[5] = 1, b[6] = 1;
    put<std::uint16_t>(b, 16, 2);
    put<std::uint16_t>(b, 18, elf::em_x86_64);
    put<std::uint32_t>(b, 20, 1);
    put<std::uint64_t>(b, 32, 64);
    put<std::uint16_t>(b, 52, 64);
    put<std::uint16_t>(b, 54, 56);
    std::uint16_t phnum = gnu_property ? 2 : 1;
    put<std::uint16_t>(b, 56, phnum);
    std::size_t note = 64 + 56u * phnum;
    std::size_t desc = props.size() * 16;
    b.resize(note + 16 + desc);
    for (std::uint16_t i = 0; i < phnum; ++i) {
        std::size_t ph = 64 + 56u * i;
        put<std::uint32_t>(b, ph, i == 0 ? 4 : 0x6474e553);
        put<std::uint64_t>(b, ph + 8, note);
        put<std::uint64_t>(b, ph + 16, note);
        put<std::uint64_t>(b, ph + 32, 16 + desc);
        put<std::uint64_t>(b, ph + 40, 16 + desc);
        put<std::uint64_t>(b, ph + 48, 8);
    }
    put<std::uint32_t>(b, note, 4);
    put<std::uint32_t>(b, note + 4, static_cast<std::uint32_t>(desc));
    put<std::uint32_t>(b, note + 8, 5); // NT_GNU_PROPERTY_TYPE_0
    std::memcpy(b.data() + note + 12, "GNU", 4);
    std::size_t at = note + 16;
    for (auto [type, value] : props) {
        put<std::uint32_t>(b, at, type);
        put<std::uint32_t>(b, at + 4, 4);
        put<std::uint32_t>(b, at + 8, value);
        put<std::uint32_t>(b, at + 12, 0); // padding to 8
        at += 16;
    }
    return b;
}

constexpr std::uint32_t kIsaNeeded = 0xc0008002, kIsaUsed = 0xc0010002, kFeature1And = 0xc0000002;

} // namespace

TEST(CpuIsa, ElfNoteGivesTheLevelNeeded) {
    // ld -z x86-64-v4 writes baseline | v4; a FEATURE_1_AND (IBT/SHSTK) and ISA_1_USED around it
    auto info =
        elf::read(elf_with_properties({{kFeature1And, 3}, {kIsaUsed, 0xf}, {kIsaNeeded, 0x9}}));
    EXPECT_EQ(info.x86_isa_needed, 0x9u);
    EXPECT_EQ(cpu::level_of_isa_bits(info.x86_isa_needed), 4);
    EXPECT_EQ(
        cpu::level_of_isa_bits(elf::read(elf_with_properties({{kIsaNeeded, 0x7}})).x86_isa_needed),
        3);
    // only PT_NOTE (an older linker's layout)
    EXPECT_EQ(elf::read(elf_with_properties({{kIsaNeeded, 0x3}}, false)).x86_isa_needed, 0x3u);
    // none: ISA_1_USED alone says what was used, not what is needed
    EXPECT_EQ(elf::read(elf_with_properties({{kIsaUsed, 0xf}})).x86_isa_needed, 0u);
    EXPECT_EQ(cpu::level_of_isa_bits(0), 0);
    EXPECT_EQ(cpu::level_of_isa_bits(1), 1);
}

TEST(CpuIsa, HostileNotesAreBoundsChecked) {
    const std::string good = elf_with_properties({{kFeature1And, 3}, {kIsaNeeded, 0x9}});
    for (std::size_t len = 0; len < good.size(); ++len) {
        try {
            auto info = elf::read(std::string_view(good).substr(0, len));
            EXPECT_TRUE(info.x86_isa_needed == 0 || info.x86_isa_needed == 0x9u);
        } catch (const Error&) {
        }
    }
    // property sizes and note sizes past their ends: ignored, never read out of bounds
    std::size_t note = 64 + 56 * 2;
    for (std::size_t at : {note + 4, note + 16 + 4, note + 32 + 4})
        for (std::uint32_t v : {0xffffffffu, 0xfffffff0u, 17u, 3u}) {
            std::string bad = good;
            put<std::uint32_t>(bad, at, v);
            try {
                auto info = elf::read(bad);
                EXPECT_TRUE(info.x86_isa_needed == 0 || info.x86_isa_needed == 0x9u) << at;
            } catch (const Error&) {
            }
        }
}

TEST(CpuIsa, LevelsFromCpuinfo) {
    auto v3 = cpu::parse_cpuinfo(
        "processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: fpu cx8 cmov mmx fxsr sse sse2 "
        "pni ssse3 cx16 sse4_1 sse4_2 popcnt lahf_lm abm avx avx2 bmi1 bmi2 f16c fma movbe "
        "xsave aes sha_ni\nbugs\t\t: sysret_ss_attrs\nprocessor\t: 1\nflags\t\t: fpu\n");
    EXPECT_EQ(cpu::level_of(v3), 3);
    EXPECT_TRUE(v3.count("sha_ni"));
    auto v4 = v3;
    for (auto f : {"avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"}) v4.insert(f);
    EXPECT_EQ(cpu::level_of(v4), 4);
    EXPECT_EQ(
        cpu::missing(cpu::level_features(4), v3),
        (std::vector<std::string>{"avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"}));
    EXPECT_TRUE(cpu::missing(cpu::level_features(3), v3).empty());
    EXPECT_EQ(cpu::level_of({"fpu"}), 0);
    EXPECT_THROW(cpu::parse_cpuinfo("processor : 0\nmodel name : x\n"), Error); // no features
}

TEST(CpuIsa, TargetsAndTheirVariables) {
    auto v3 = cpu::resolve_target("x86-64-v3");
    EXPECT_EQ(v3.arch, "x86-64-v3");
    EXPECT_TRUE(std::find(v3.features.begin(), v3.features.end(), "avx2") != v3.features.end());
    EXPECT_TRUE(std::is_sorted(v3.features.begin(), v3.features.end()));
    auto env = cpu::build_env(v3);
    EXPECT_EQ(env.at("CFLAGS"), "-march=x86-64-v3");
    EXPECT_EQ(env.at("CMAKE_CXX_FLAGS"), "-march=x86-64-v3");
    EXPECT_EQ(env.at("RUSTFLAGS"), "-C target-cpu=x86-64-v3");
    auto named = cpu::resolve_target("sapphirerapids");
    EXPECT_EQ(named.features, cpu::resolve_target("x86-64-v4").features);
    EXPECT_EQ(cpu::labels(named).at(cpu::kLabelArch), "sapphirerapids");
    try {
        cpu::resolve_target("pentium9");
        FAIL() << "accepted";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::usage);
        EXPECT_NE(e.hint().find("x86-64-v4"), std::string::npos);
    }
}

} // namespace cpu_isa_test
