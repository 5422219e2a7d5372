// tailor_cuda on the real CUDA 13.0 libraries of this machine (/usr/local/cuda/lib64, read only:
// each file is read into memory and tailored there). Each test skips when its library is absent.
// The figures asserted are the ones this implementation gives; they match the reference's
// prototype (fatbin-pruning.md §4: cuBLAS sm_90 drops 876 of 1257 entries, 32,067,296 bytes).
// Times are printed (std::chrono, the whole tailor_cuda call including its proof).
#include "gpu_vendors/nvidia/tailor_cuda.hpp"
#include "gpu_vendors/nvidia/tailor_cuda_detail.hpp"

#include <chrono>
#include <cstdio>
#include <fstream>
#include <gtest/gtest.h>
#include <sstream>
#include <string>

namespace tailor_cuda_real_test {

using namespace gantry::device_code;
using namespace gantry::gpu_vendors::nvidia;

namespace {

const std::string kLib = "/usr/local/cuda/lib64/";

bool read_file(const std::string& path, std::string& out) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return false;
    in.seekg(0, std::ios::end);
    out.resize(static_cast<std::size_t>(in.tellg()));
    in.seekg(0);
    in.read(out.data(), static_cast<std::streamsize>(out.size()));
    return static_cast<bool>(in);
}

KeepSet keep(unsigned sm, bool ptx) {
    KeepSet k;
    k.by_format["cuda"] = {"sm_" + std::to_string(sm)};
    if (!ptx) k.options.insert(kNoPtx);
    return k;
}

struct Timed {
    FileReport r;
    double seconds = 0;
};

Timed run(std::string& bytes, const KeepSet& k, const std::string& name, bool write) {
    auto t0 = std::chrono::steady_clock::now();
    Timed t{tailor_cuda(bytes, k, name, write), 0};
    t.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("%s keep %s write=%d: %s, %llu of %llu entries dropped, %llu bytes zeroed, "
                "%zu left-alone lines, %.3f s (%.1f MB/s)\n",
                name.c_str(), k.str().c_str(), write ? 1 : 0, to_string(t.r.outcome),
                static_cast<unsigned long long>(t.r.entries_before - t.r.entries_after),
                static_cast<unsigned long long>(t.r.entries_before),
                static_cast<unsigned long long>(t.r.zeroed), t.r.left_alone.size(), t.seconds,
                static_cast<double>(bytes.size()) / 1e6 / t.seconds);
    if (t.r.outcome == FileReport::Outcome::refused)
        std::printf("  refused: %s\n", t.r.refused.c_str());
    return t;
}

} // namespace

TEST(TailorCudaReal, CublasSm90) {
    std::string bytes;
    if (!read_file(kLib + "libcublas.so.13", bytes)) GTEST_SKIP() << "libcublas.so.13 absent";
    const std::string original = bytes;
    auto dry = run(bytes, keep(90, true), "libcublas.so.13", false);
    EXPECT_EQ(bytes, original); // a dry run writes nothing
    auto w = run(bytes, keep(90, true), "libcublas.so.13", true);
    ASSERT_EQ(w.r.outcome, FileReport::Outcome::changed) << w.r.refused;
    EXPECT_EQ(w.r.entries_before, 1257u);
    EXPECT_EQ(w.r.entries_before - w.r.entries_after, 876u);
    EXPECT_EQ(w.r.zeroed, 32067296u);
    EXPECT_EQ(bytes.size(), original.size());
    EXPECT_EQ(dry.r.zeroed, w.r.zeroed);
    EXPECT_EQ(dry.r.arch_after, w.r.arch_after);
    EXPECT_EQ(w.r.arch_after.count("sm_100"), 0u);
    EXPECT_GT(w.r.arch_after["sm_90"], 0u);
    EXPECT_EQ(w.r.arch_after["compute_120"], w.r.arch_before["compute_120"]); // newest PTX
    // Tailoring the result again changes nothing more.
    auto again = run(bytes, keep(90, true), "libcublas.so.13 (tailored)", true);
    EXPECT_EQ(again.r.outcome, FileReport::Outcome::unchanged) << again.r.refused;

    bytes = original;
    auto noptx = run(bytes, keep(90, false), "libcublas.so.13", true);
    ASSERT_EQ(noptx.r.outcome, FileReport::Outcome::changed) << noptx.r.refused;
    EXPECT_EQ(noptx.r.entries_before - noptx.r.entries_after, 1063u);
    EXPECT_EQ(noptx.r.zeroed, 39813144u);
    // compute_120 stays only in the containers nothing of which runs on sm_90 (left untouched).
    EXPECT_LT(noptx.r.arch_after["compute_120"], w.r.arch_after["compute_120"]);
}

TEST(TailorCudaReal, CublasLtSm90) {
    std::string bytes;
    if (!read_file(kLib + "libcublasLt.so.13", bytes)) GTEST_SKIP() << "libcublasLt.so.13 absent";
    auto dry = run(bytes, keep(90, true), "libcublasLt.so.13", false);
    EXPECT_EQ(dry.r.outcome, FileReport::Outcome::changed);
    auto w = run(bytes, keep(90, true), "libcublasLt.so.13", true);
    ASSERT_EQ(w.r.outcome, FileReport::Outcome::changed) << w.r.refused;
    EXPECT_EQ(w.r.entries_before - w.r.entries_after, 2450u);
    EXPECT_EQ(w.r.zeroed, 42526904u);
    for (auto& l : w.r.left_alone) std::printf("  left alone: %s\n", l.c_str());
    // What the proof's outside-the-ranges digest costs alone (it runs twice in a write).
    auto t0 = std::chrono::steady_clock::now();
    auto digest = cuda_detail::outside_digest(bytes, {}, {});
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("  SHA-256 of the whole file: %.3f s (%.0f MB/s)\n", s,
                static_cast<double>(bytes.size()) / 1e6 / s);
    EXPECT_EQ(digest.size(), 64u);
    bool cask = false;
    for (auto& l : w.r.left_alone) cask = cask || l.starts_with(".cask_resource: 383 container");
    EXPECT_TRUE(cask);
}

TEST(TailorCudaReal, CusparseSm90) {
    std::string bytes;
    if (!read_file(kLib + "libcusparse.so.12", bytes)) GTEST_SKIP() << "libcusparse.so.12 absent";
    auto w = run(bytes, keep(90, true), "libcusparse.so.12", true);
    ASSERT_EQ(w.r.outcome, FileReport::Outcome::changed) << w.r.refused;
    EXPECT_EQ(w.r.entries_before - w.r.entries_after, 775u);
    EXPECT_EQ(w.r.zeroed, 99142272u);
    for (auto& l : w.r.left_alone) std::printf("  left alone: %s\n", l.c_str());
}

TEST(TailorCudaReal, CufftHasNoWrapper) {
    std::string bytes;
    if (!read_file(kLib + "libcufft.so.12", bytes)) GTEST_SKIP() << "libcufft.so.12 absent";
    const std::string original = bytes;
    auto w = run(bytes, keep(90, true), "libcufft.so.12", true);
    EXPECT_EQ(w.r.outcome, FileReport::Outcome::unchanged) << w.r.refused;
    EXPECT_TRUE(bytes == original);
    for (auto& l : w.r.left_alone) std::printf("  left alone: %s\n", l.c_str());
    ASSERT_FALSE(w.r.left_alone.empty());
    EXPECT_NE(w.r.left_alone.back().find("no wrapper references it"), std::string::npos);
}

} // namespace tailor_cuda_real_test
