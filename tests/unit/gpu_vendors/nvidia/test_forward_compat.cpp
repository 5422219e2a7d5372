#include "gpu_vendors/nvidia/forward_compat.hpp"
#include "util/fs.hpp"

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <random>
#include <string>
#include <string_view>

namespace compat_forward_compat_test {

using namespace gantry;

namespace {

// Writes an ELF note (owner "NVIDIA Corporation") holding `desc` into the section
// .note.cuda.fwd_compatibility of a freshly compiled shared object, as cuda-compat's libcuda has.
std::string compat_lib_with_note(const std::string& dir, const std::string& desc) {
    std::string c = dir + "/x.c", so = dir + "/libcuda.so.590.44.01", note = dir + "/note.bin";
    std::ofstream(c) << "int cuInit(unsigned f) { return (int)f; }\n";
    std::string owner = "NVIDIA Corporation";
    std::ofstream n(note, std::ios::binary);
    auto u32 = [&](std::uint32_t v) { n.write(reinterpret_cast<const char*>(&v), 4); };
    auto padded = [&](const std::string& s, bool nul) {
        std::string t = s + (nul ? std::string(1, '\0') : "");
        while (t.size() % 4) t += '\0';
        n.write(t.data(), static_cast<std::streamsize>(t.size()));
    };
    u32(static_cast<std::uint32_t>(owner.size() + 1));
    u32(static_cast<std::uint32_t>(desc.size()));
    u32(1);
    padded(owner, true);
    padded(desc, false);
    n.close();
    std::string cmd = "cc -shared -fPIC -o " + so + " " + c + " && objcopy --add-section " +
                      ".note.cuda.fwd_compatibility=" + note + " --set-section-flags " +
                      ".note.cuda.fwd_compatibility=noload,readonly " + so;
    if (std::system(cmd.c_str()) != 0) return {};
    return so;
}

} // namespace

TEST(CudaCompat, ReadsTheForwardCompatibilityNote) {
    auto dir = std::filesystem::temp_directory_path() / ("gantry-note-" + fs::unique_name());
    std::filesystem::create_directories(dir);
    std::string json =
        R"({"Format":1,"CUDA Version":"13.1","Driver":[535,550,570,575,580,590],"Device":[1,2,7,8]})";
    auto so = compat_lib_with_note(dir.string(), json);
    ASSERT_FALSE(so.empty()) << "cc and objcopy are needed (build-essential)";
    auto note = gpu_vendors::nvidia::cuda_fwd_compat_note(so);
    ASSERT_TRUE(note.has_value());
    EXPECT_EQ(*note, json);
    // A library without the note.
    std::string plain = dir.string() + "/plain.so";
    ASSERT_EQ(std::system(("cc -shared -fPIC -o " + plain + " " + dir.string() + "/x.c").c_str()),
              0);
    EXPECT_FALSE(gpu_vendors::nvidia::cuda_fwd_compat_note(plain).has_value());
    // Not an ELF, and truncated ELF: no note, no crash.
    std::ofstream(dir / "junk") << "not an elf";
    EXPECT_FALSE(gpu_vendors::nvidia::cuda_fwd_compat_note((dir / "junk").string()).has_value());
    std::filesystem::copy_file(so, dir / "cut.so");
    std::filesystem::resize_file(dir / "cut.so", 200);
    EXPECT_NO_THROW(gpu_vendors::nvidia::cuda_fwd_compat_note((dir / "cut.so").string()));
    // From bytes: the same note; every truncation and random damage read without a crash.
    std::ifstream in(so, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), {});
    EXPECT_EQ(gpu_vendors::nvidia::cuda_fwd_compat_note_bytes(bytes), json);
    EXPECT_FALSE(gpu_vendors::nvidia::cuda_fwd_compat_note_bytes({}).has_value());
    for (size_t n = 0; n < bytes.size(); n += 7)
        gpu_vendors::nvidia::cuda_fwd_compat_note_bytes(std::string_view(bytes).substr(0, n));
    std::mt19937_64 rng(3);
    for (int i = 0; i < 2000; ++i) {
        std::string s = bytes;
        for (int k = 0; k < 4; ++k) s[rng() % 128] = static_cast<char>(rng()); // the ELF header
        for (int k = 0; k < 4; ++k) s[rng() % s.size()] = static_cast<char>(rng());
        gpu_vendors::nvidia::cuda_fwd_compat_note_bytes(s);
    }
    fs::remove_tree(dir);
}

TEST(CudaCompat, RuleFollowsTheNoteThenTheMajor) {
    std::string note = R"({"Format":1,"CUDA Version":"13.1","Driver":[535,550,570,575,580,590]})";
    // listed branch and a newer CUDA: used
    EXPECT_TRUE(gantry::gpu_vendors::nvidia::compat_applies("590.44.01", "580.95.05", note, 13000));
    // listed branch but the host already serves 13.1: not used
    EXPECT_FALSE(
        gantry::gpu_vendors::nvidia::compat_applies("590.44.01", "590.48.01", note, 13010));
    // branch not listed (565): not used, although the compat major is newer
    EXPECT_FALSE(
        gantry::gpu_vendors::nvidia::compat_applies("590.44.01", "565.57.01", note, 12070));
    // no note: the compat major must be newer than the host's
    EXPECT_TRUE(gantry::gpu_vendors::nvidia::compat_applies("590.44.01", "580.95.05"));
    EXPECT_FALSE(gantry::gpu_vendors::nvidia::compat_applies("575.57.08", "580.95.05"));
    EXPECT_FALSE(gantry::gpu_vendors::nvidia::compat_applies("580.65.06", "580.95.05"));
}

} // namespace compat_forward_compat_test
