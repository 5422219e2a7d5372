// tailor/hip on shared libraries built by Debian's clang (-x hip, no ROCm needed: -nogpulib
// -nogpuinc): three translation units, so three offload bundles in .hip_fatbin, for several
// targets. Each is tailored to several kept sets; the result must list exactly the expected
// entries (the rule stated again in the test), byte-identical, to the independent Python reader
// and to LLVM's own clang-offload-bundler, keep every byte outside .hip_fatbin, and dlopen with
// RTLD_NOW. The same libraries with every bundle turned into a CCOB (v1-v3, zlib and zstd, by the
// Python tool) go through the same checks. Clang 14 knows no gfx942 (gfx908 stands in) and its
// driver does not pass --bundle-align to the bundler (-Xoffload-bundler is unknown).
#include "hip_tailor_helpers.hpp"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <set>

namespace tailor_hip_tailor_clang_test {

using namespace hip_tailor_test;

namespace {

struct Built {
    std::string dir, lib, skip;
};

const Built& built() {
    static const Built once = [] {
        Built b;
        b.dir = temp_dir();
        // kept for the process (every test reads the library), removed at its exit
        static std::string removed_at_exit = b.dir;
        std::atexit([] { std::filesystem::remove_all(removed_at_exit); });
        std::string decl = "struct dim3 { unsigned x, y, z; };\n"
                           "typedef struct ihipStream_t* hipStream_t;\n"
                           "extern \"C\" int hipLaunchKernel(const void*, dim3, dim3, void**,"
                           " unsigned long, hipStream_t);\n";
        const char* tus[][2] = {
            {"a", "--offload-arch=gfx90a --offload-arch=gfx908 --offload-arch=gfx1030"},
            {"b", "--offload-arch=gfx90a:xnack- --offload-arch=gfx90a:xnack+ "
                  "--offload-arch=gfx1030"},
            {"c", "--offload-arch=gfx1030"}};
        int n = 41;
        std::string objs;
        for (auto& tu : tus) {
            std::string name = tu[0];
            write_file(b.dir + "/" + name + ".hip",
                       decl + "__attribute__((global)) void k_" + name +
                           "(float* x) { x[0] = 1; }\nextern \"C\" int host_" + name +
                           "() { return " + std::to_string(n++) + "; }\n");
            std::string out;
            if (sh("cd " + b.dir + " && TMPDIR=" + b.dir + " clang -x hip " + tu[1] +
                       " -nogpulib -nogpuinc -fPIC -O1 -c " + name + ".hip -o " + name + ".o",
                   &out) != 0) {
                b.skip = "clang cannot build HIP objects here: " + out;
                return b;
            }
            objs += " " + name + ".o";
        }
        // The HIP runtime, so that RTLD_NOW resolves __hipRegisterFatBinary; without it, a stub
        // with the functions the module constructor and destructor and the kernels' host stubs call
        // (clang 14's stubs call __hipPopCallConfiguration).
        std::string runtime = "-lamdhip64";
        if (sh("test -e /usr/lib/x86_64-linux-gnu/libamdhip64.so") != 0) {
            write_file(b.dir + "/stub.c",
                       "void** __hipRegisterFatBinary(void* w) { static void* h; return &h; }\n"
                       "void __hipRegisterFunction() {}\nvoid __hipUnregisterFatBinary() {}\n"
                       "int hipLaunchKernel() { return 1; }\n"
                       "int __hipPopCallConfiguration() { return 1; }\n"
                       "int __hipPushCallConfiguration() { return 1; }\n");
            sh("cd " + b.dir + " && clang -shared -fPIC stub.c -o libhipstub.so");
            runtime = "-L" + b.dir + " -lhipstub -Wl,-rpath," + b.dir;
        }
        std::string out;
        if (sh("cd " + b.dir + " && clang -shared" + objs + " -o liball.so " + runtime, &out) !=
            0) {
            b.skip = "linking the HIP library failed: " + out;
            return b;
        }
        b.lib = b.dir + "/liball.so";
        return b;
    }();
    return once;
}

// dlopen(RTLD_NOW) in a child process, calling each translation unit's host function.
std::string dlopen_now(const std::string& path) {
    std::string out;
    sh("/usr/bin/python3 -c \"import ctypes, os; l = ctypes.CDLL('" + path +
           "', os.RTLD_NOW); print(l.host_a(), l.host_b(), l.host_c())\"",
       &out);
    return out;
}

// The section slice of each bundle, listed by LLVM 14's clang-offload-bundler (sorted IDs).
std::vector<std::string> llvm_list(const std::string& lib, const std::string& dir,
                                   const std::vector<std::string>& bundle_offsets) {
    std::vector<std::string> all;
    sh("objcopy -O binary --only-section=.hip_fatbin " + lib + " " + dir + "/sec.bin");
    for (const auto& at : bundle_offsets) {
        std::string out;
        int rc = sh("tail -c +$((" + at + " + 1)) " + dir + "/sec.bin > " + dir +
                        "/one.bin && clang-offload-bundler-14 --list --type=o --inputs=" + dir +
                        "/one.bin | sort",
                    &out);
        EXPECT_EQ(rc, 0) << out;
        all.push_back(out);
    }
    return all;
}

std::string target_of(const std::string& id) {
    return id.substr(kPrefix.size());
}

// What should remain: per bundle, the host entry and the code objects for the kept targets, or
// everything when none of its code objects is for them.
std::vector<Listed> expected(const std::vector<Listed>& orig, const std::vector<std::string>& k) {
    std::vector<Listed> want;
    std::set<std::string> bundles;
    for (const auto& l : orig) bundles.insert(l.bundle);
    for (const auto& b : bundles) {
        bool any = false;
        for (const auto& l : orig)
            if (l.bundle == b && l.id.starts_with(kPrefix) && expect_kept(target_of(l.id), k))
                any = true;
        for (const auto& l : orig)
            if (l.bundle == b &&
                (!any || !l.id.starts_with(kPrefix) || expect_kept(target_of(l.id), k)))
                want.push_back(l);
    }
    return want;
}

void check_same_listing(const std::vector<Listed>& got, const std::vector<Listed>& want) {
    ASSERT_EQ(got.size(), want.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
        EXPECT_EQ(got[i].bundle, want[i].bundle);
        EXPECT_EQ(got[i].id, want[i].id);
        EXPECT_EQ(got[i].sha, want[i].sha) << got[i].id;
    }
}

// Tailors `original` to `keep`, then checks the result every way this file knows.
void tailor_and_check(const std::string& original, const std::vector<std::string>& keep,
                      const std::string& dir, bool compressed) {
    SCOPED_TRACE("kept: " + ::testing::PrintToString(keep));
    std::string orig_path = dir + "/orig.so", path = dir + "/out.so";
    write_file(orig_path, original);
    auto orig = tool_list(orig_path);
    auto want = expected(orig, keep);
    std::string elf = original;
    FileReport r = tailor_hip(elf, keep_amd(keep), path);
    ASSERT_NE(r.outcome, FileReport::Outcome::refused) << r.refused;
    ASSERT_EQ(elf.size(), original.size());
    EXPECT_EQ(r.outcome == FileReport::Outcome::changed, want.size() < orig.size());
    write_file(path, elf);
    check_same_listing(tool_list(path), want);
    HipFatbin before = read(original), after = read(elf);
    std::size_t device = 0;
    for (const auto& l : want) device += l.id.starts_with(kPrefix);
    EXPECT_EQ(r.entries_after, device);
    EXPECT_EQ(after.entries.size(), want.size());
    // Nothing outside .hip_fatbin changed.
    std::uint64_t end = before.section_offset + before.section_size;
    EXPECT_EQ(elf.substr(0, before.section_offset), original.substr(0, before.section_offset));
    EXPECT_EQ(elf.substr(end), original.substr(end));
    EXPECT_EQ(dlopen_now(path), "41 42 43\n");
    if (!compressed && sh("command -v clang-offload-bundler-14 >/dev/null") == 0) {
        std::vector<std::string> offsets;
        for (const auto& b : after.bundles) offsets.push_back(std::to_string(b.offset));
        auto lists = llvm_list(path, dir, offsets);
        std::string all;
        for (const auto& l : lists) all += l;
        std::vector<std::string> want_ids;
        for (const auto& l : want) want_ids.push_back(l.id);
        // clang-offload-bundler prints each bundle's IDs; compare as sorted sets per file.
        std::vector<std::string> got_ids;
        std::stringstream in(all);
        for (std::string line; std::getline(in, line);) got_ids.push_back(line);
        std::sort(got_ids.begin(), got_ids.end());
        std::sort(want_ids.begin(), want_ids.end());
        EXPECT_EQ(got_ids, want_ids);
    }
}

const std::vector<std::vector<std::string>> kKeepSets = {
    {"gfx90a"}, {"gfx90a:xnack-"}, {"gfx908"}, {"gfx90a", "gfx1030"}, {"gfx1100"}};

} // namespace

TEST(TailorHipClang, RealLibrariesToSeveralKeptSets) {
    const Built& b = built();
    if (!b.skip.empty()) GTEST_SKIP() << b.skip;
    if (!have_python()) GTEST_SKIP() << "needs /usr/bin/python3 for the independent reader";
    std::string original = slurp(b.lib);
    ASSERT_EQ(read(original).bundles.size(), 3u);
    ASSERT_EQ(dlopen_now(b.lib), "41 42 43\n");
    for (const auto& keep : kKeepSets) tailor_and_check(original, keep, b.dir, false);

    // Kept targets not present: the file is left as it was, and says so.
    std::string elf = original;
    FileReport r = tailor_hip(elf, keep_amd({"gfx1100"}), b.lib);
    EXPECT_EQ(r.outcome, FileReport::Outcome::unchanged);
    EXPECT_EQ(elf, original);
    EXPECT_EQ(r.left_alone.size(), 3u);
    for (const auto& line : r.left_alone)
        EXPECT_NE(line.find("no code object for the kept targets"), std::string::npos) << line;
}

TEST(TailorHipClang, RealLibrariesWithCompressedBundles) {
    const Built& b = built();
    if (!b.skip.empty()) GTEST_SKIP() << b.skip;
    if (!have_python() || !have_zstd())
        GTEST_SKIP() << "needs /usr/bin/python3 (hashlib, zlib) and python3-zstandard or zstd";
    for (unsigned version : {1u, 2u, 3u})
        for (unsigned method : {0u, 1u}) {
            SCOPED_TRACE("CCOB v" + std::to_string(version) + " method " + std::to_string(method));
            std::string ccob_lib = b.dir + "/ccob.so", out;
            ASSERT_EQ(sh("/usr/bin/python3 " + tool() + " compress-elf " + std::to_string(version) +
                             " " + std::to_string(method) + " " + b.lib + " " + ccob_lib,
                         &out),
                      0)
                << out;
            std::string original = slurp(ccob_lib);
            HipFatbin f = read(original);
            ASSERT_EQ(f.bundles.size(), 3u);
            EXPECT_EQ(f.bundles[0].ccob_version, version);
            for (const auto& keep : {kKeepSets[1], kKeepSets[3]})
                tailor_and_check(original, keep, b.dir, true);
        }
}

} // namespace tailor_hip_tailor_clang_test
