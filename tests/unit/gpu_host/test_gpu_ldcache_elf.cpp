// gpu_host: the ld.so.cache reader (against caches the host's ldconfig writes) and the ELF reader.
#include "elf/dynamic.hpp"
#include "gpu_host/ldcache.hpp"
#include "gpu_test_support.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <gtest/gtest.h>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace gpu_ldcache_elf_test {

using namespace gpu_test;
using gantry::Error;
namespace ldcache = gantry::gpu_host::ldcache;

namespace {

std::string slurp(const std::string& p) {
    return gantry::fs::read_file(p);
}

// `ldconfig -p -C cache` lines: "\tkey (flags) => value".
std::vector<std::string> ldconfig_print(const std::string& cache) {
    std::vector<std::string> out;
    std::string cmd = "ldconfig -p -C '" + cache + "' 2>/dev/null";
    FILE* p = ::popen(cmd.c_str(), "r");
    if (!p) return out;
    char line[4096];
    while (std::fgets(line, sizeof line, p)) {
        std::string l = line;
        if (!l.empty() && l.back() == '\n') l.pop_back();
        if (!l.empty() && l[0] == '\t') out.push_back(l.substr(1));
    }
    ::pclose(p);
    return out;
}

} // namespace

// ---------------------------------------------------------------------------------------------
// ld.so.cache

class LdCacheFormats : public ::testing::TestWithParam<std::string> {};

TEST_P(LdCacheFormats, MatchesWhatLdconfigPrints) {
    GpuTempDir t;
    lay_out_libraries(t.str());
    if (!run_ldconfig(t.str(), GetParam())) GTEST_SKIP() << "ldconfig -r failed";
    std::string path = t.str() + "/etc/ld.so.cache";
    ldcache::Cache c = ldcache::load(path);
    ldcache::Format want = GetParam() == "new"      ? ldcache::Format::new_only
                           : GetParam() == "compat" ? ldcache::Format::compat
                                                    : ldcache::Format::old_only;
    EXPECT_EQ(c.format, want);

    std::vector<std::string> ours;
    for (const auto& e : c.entries)
        ours.push_back(e.key + " (" + ldcache::describe(e) + ") => " + e.value);
    std::vector<std::string> theirs = ldconfig_print(path);
    ASSERT_FALSE(theirs.empty());
    EXPECT_EQ(ours, theirs);

    auto find = [&](const std::string& key, bool i386) -> const ldcache::Entry* {
        for (const auto& e : c.entries) {
            if (e.key == key && (i386 ? e.is_i386() : e.is_x86_64())) return &e;
        }
        return nullptr;
    };
    const auto* cuda = find("libcuda.so.1", false);
    ASSERT_NE(cuda, nullptr);
    EXPECT_EQ(cuda->value, x64 + "/libcuda.so.1");
    const auto* cuda32 = find("libcuda.so.1", true);
    ASSERT_NE(cuda32, nullptr);
    EXPECT_EQ(cuda32->value, x32 + "/libcuda.so.1");
    EXPECT_EQ(cuda32->flags, ldcache::flag_elf_libc6);
    const auto* ml32 = find("libnvidia-ml.so.1", true);
    ASSERT_NE(ml32, nullptr);
    EXPECT_EQ(ml32->flags, ldcache::flag_elf);
    EXPECT_TRUE(ldcache::is_lib32(*ml32));
    EXPECT_TRUE(ldcache::is_native(*cuda));
    EXPECT_NE(find("libnvidia-glcore.so." + ver, false), nullptr);
}

INSTANTIATE_TEST_SUITE_P(Gpu, LdCacheFormats, ::testing::Values("new", "compat", "old"));

TEST(GpuLdCache, TruncatedAndHostileCachesFailCleanly) {
    GpuTempDir t;
    lay_out_libraries(t.str());
    for (std::string format : {"new", "compat", "old"}) {
        stdfs::remove(t / "etc/ld.so.cache");
        if (!run_ldconfig(t.str(), format)) GTEST_SKIP() << "ldconfig -r failed";
        const std::string good = slurp(t.str() + "/etc/ld.so.cache");
        const std::size_t n = ldcache::parse(good).entries.size();
        for (std::size_t len = 0; len < good.size(); ++len) {
            try {
                auto c = ldcache::parse(std::string_view(good).substr(0, len));
                EXPECT_LE(c.entries.size(), n);
            } catch (const Error&) {
            }
        }
        std::mt19937 rng(42);
        for (int i = 0; i < 3000; ++i) {
            std::string bad = good;
            for (int k = 0; k < 4; ++k) bad[rng() % bad.size()] = static_cast<char>(rng());
            try {
                ldcache::parse(bad);
            } catch (const Error&) {
            }
        }
    }
    // Counts and offsets that point far past the end.
    std::string hdr = "glibc-ld.so.cache1.1";
    hdr.resize(48, '\0');
    put<std::uint32_t>(hdr, 20, 0xffffffffu);
    EXPECT_THROW(ldcache::parse(hdr), Error);
    put<std::uint32_t>(hdr, 20, 1);
    hdr.resize(72, '\0');
    put<std::uint32_t>(hdr, 48 + 4, 0xfffffff0u);
    EXPECT_THROW(ldcache::parse(hdr), Error);
    put<std::uint32_t>(hdr, 48 + 4, 60); // inside, but no NUL before the end
    std::memset(hdr.data() + 60, 'x', 12);
    EXPECT_THROW(ldcache::parse(hdr), Error);
    hdr[28] = 3; // big-endian flag
    EXPECT_THROW(ldcache::parse(hdr), Error);
    std::string old = "ld.so-1.7.0";
    old.resize(16, '\0');
    put<std::uint32_t>(old, 12, 0x40000000u);
    EXPECT_THROW(ldcache::parse(old), Error);
    EXPECT_THROW(ldcache::parse("not a cache at all"), Error);
    EXPECT_THROW(ldcache::parse(""), Error);
    EXPECT_THROW(ldcache::load(t.str() + "/missing"), Error);
}

// ---------------------------------------------------------------------------------------------
// ELF

TEST(GpuElf, SonameNeededAndAbiTag) {
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

TEST(GpuElf, RealSharedObjectFromTheCompiler) {
    if (!have_cc()) GTEST_SKIP() << "no C compiler";
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

TEST(GpuElf, TruncatedAndHostileObjectsFailCleanly) {
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

} // namespace gpu_ldcache_elf_test
