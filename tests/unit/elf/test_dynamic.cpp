// elf/dynamic: a shared object's SONAME, NEEDED and ABI tag from hand-made ELF32/ELF64 objects and
// one the compiler builds; truncated and damaged objects fail with an Error, never a crash.
#include "../support/gpu_test_support.hpp"
#include "elf/dynamic.hpp"
#include "util/error.hpp"

#include <cstdint>
#include <gtest/gtest.h>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace elf_dynamic_test {

using namespace gpu_test;
using gantry::Error;

TEST(ElfDynamic, SonameNeededAndAbiTag) {
    auto i64 = elf::read(
        make_elf(64, elf::em_x86_64, "libnvidia-tls.so." + ver, {"libc.so.6", "libm.so.6"}, true));
    EXPECT_EQ(i64.bits, 64);
    EXPECT_EQ(i64.machine, elf::em_x86_64);
    EXPECT_EQ(i64.soname, "libnvidia-tls.so." + ver);
    EXPECT_EQ(i64.needed, (std::vector<std::string>{"libc.so.6", "libm.so.6"}));
    ASSERT_TRUE(i64.abi_tag.has_value());
    EXPECT_EQ(i64.abi_tag->to_string(), "Linux 2.3.99");

    auto i32 = elf::read(elf32("libcuda.so.1"));
    EXPECT_EQ(i32.bits, 32);
    EXPECT_EQ(i32.machine, elf::em_386);
    EXPECT_EQ(i32.soname, "libcuda.so.1");
    EXPECT_FALSE(i32.abi_tag.has_value());

    EXPECT_EQ(elf::read(make_elf(64, elf::em_x86_64, "")).soname, "");
}

TEST(ElfDynamic, RealSharedObjectFromTheCompiler) {
    if (!have_cc()) GTEST_SKIP() << why_no_cc();
    GpuTempDir t;
    stdfs::path so = t / "libdemo.so.1.2.3";
    ASSERT_TRUE(
        build_so(so, "libdemo.so.1",
                 "#include <string.h>\nint demo(const char* s) { return (int)strlen(s); }\n"));
    auto info = elf::read_file(so.string());
    EXPECT_EQ(info.soname, "libdemo.so.1");
    EXPECT_EQ(info.bits, static_cast<int>(sizeof(void*) * 8));
    EXPECT_FALSE(info.needed.empty()); // libc
}

TEST(ElfDynamic, TruncatedAndHostileObjectsFailCleanly) {
    const std::string good = make_elf(64, elf::em_x86_64, "libx.so.1", {"liby.so.2"}, true);
    for (std::size_t len = 0; len < good.size(); ++len) {
        try {
            elf::read(std::string_view(good).substr(0, len));
        } catch (const Error&) {
        }
    }
    std::mt19937 rng(7);
    for (const std::string& base : {good, make_elf(32, elf::em_386, "libz.so.1", {}, true)}) {
        for (int i = 0; i < 5000; ++i) {
            std::string bad = base;
            for (int k = 0; k < 3; ++k) bad[rng() % bad.size()] = static_cast<char>(rng());
            try {
                elf::read(bad);
            } catch (const Error&) {
            }
        }
    }
    std::string far = good;
    put<std::uint64_t>(far, 32, 0xfffffffffffffff0ull); // e_phoff
    EXPECT_THROW(elf::read(far), Error);
    EXPECT_THROW(elf::read("\x7f"
                           "ELF"),
                 Error);
    EXPECT_THROW(elf::read("MZ not an elf file at all"), Error);
    GpuTempDir t;
    EXPECT_THROW(elf::read_file(t.str()), Error); // a directory
    EXPECT_THROW(elf::read_file(t.str() + "/missing"), Error);
}

} // namespace elf_dynamic_test
