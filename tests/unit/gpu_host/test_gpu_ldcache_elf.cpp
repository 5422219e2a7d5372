// gpu_host: the ld.so.cache reader, against caches the host's ldconfig writes.
#include "../support/gpu_test_support.hpp"
#include "elf/dynamic.hpp"
#include "gpu_host/ldcache.hpp"
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
    if (!run_ldconfig(t.str(), GetParam())) GTEST_SKIP() << why_no_ldconfig();
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

// The hand-written cache of the sbsa discovery tests (an arm64 driver tree, which the host's
// ldconfig cannot index on x86-64) reads as glibc's ldconfig prints it, and its entries are
// aarch64's, not x86-64's.
TEST(GpuLdCache, HandWrittenAarch64CacheReadsAsLdconfigPrintsIt) {
    GpuTempDir t;
    const std::string a = "/usr/lib/aarch64-linux-gnu";
    write(t.str() + "/ld.so.cache",
          ldcache_bytes({{0x0a03, "libnvidia-ml.so.1", a + "/libnvidia-ml.so.1"},
                         {0x0a03, "libcuda.so.1", a + "/libcuda.so.1"},
                         {0x0303, "libcuda.so.1", "/usr/lib/x86_64-linux-gnu/libcuda.so.1"}}));
    ldcache::Cache c = ldcache::load(t.str() + "/ld.so.cache");
    ASSERT_EQ(c.entries.size(), 3u);
    EXPECT_TRUE(c.entries[1].is_aarch64());
    EXPECT_TRUE(ldcache::is_native_of(c.entries[1], 183));
    EXPECT_FALSE(ldcache::is_native_of(c.entries[1], 62));
    EXPECT_TRUE(ldcache::is_native_of(c.entries[2], 62));
    EXPECT_FALSE(ldcache::is_lib32_of(c.entries[2], 183));
    std::vector<std::string> ours;
    for (const auto& e : c.entries)
        ours.push_back(e.key + " (" + ldcache::describe(e) + ") => " + e.value);
    EXPECT_EQ(ours[1], "libcuda.so.1 (libc6,AArch64) => " + a + "/libcuda.so.1");
    std::vector<std::string> theirs = ldconfig_print(t.str() + "/ld.so.cache");
    if (theirs.empty()) GTEST_SKIP() << "no ldconfig -p to compare with";
    EXPECT_EQ(ours, theirs);
}

TEST(GpuLdCache, TruncatedAndHostileCachesFailCleanly) {
    GpuTempDir t;
    lay_out_libraries(t.str());
    for (std::string format : {"new", "compat", "old"}) {
        stdfs::remove(t / "etc/ld.so.cache");
        if (!run_ldconfig(t.str(), format)) GTEST_SKIP() << why_no_ldconfig();
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

} // namespace gpu_ldcache_elf_test
