// tailor/hip on bundles built byte by byte (compat's builders: rocm.md §5's layout): which code
// objects stay for which kept targets, what the rewrite writes and zeroes, the report, dry runs,
// compressed bundles of every version and method made by an independent tool. Hostile input:
// test_hip_tailor_hostile.cpp; real clang-built libraries: test_hip_tailor_clang.cpp.
#include "gpu_vendors/amd/ccob.hpp"
#include "hip_tailor_helpers.hpp"

namespace tailor_hip_tailor_test {

using namespace hip_tailor_test;

namespace {

const std::string kHost = "host-x86_64-unknown-linux";

// The byte offset of entry i's header in a bundle's table.
std::size_t entry_pos(const std::string& b, std::size_t i) {
    std::size_t pos = 32;
    for (std::size_t k = 0; k < i; ++k) {
        std::uint64_t len = 0;
        std::memcpy(&len, b.data() + pos + 16, 8);
        pos += 24 + len;
    }
    return pos;
}

std::vector<std::string> ids(const HipFatbin& f) {
    std::vector<std::string> v;
    for (const auto& e : f.entries) v.push_back(e.id);
    return v;
}

bool all_zero(const std::string& s, std::size_t off, std::size_t len) {
    return s.substr(off, len).find_first_not_of('\0') == std::string::npos;
}

} // namespace

TEST(TailorHip, NoAmdTargetLeavesTheFileAlone) {
    std::string elf = host_elf(five_entry_bundle()), before = elf;
    KeepSet keep;
    keep.by_format["cuda"].push_back("sm_90");
    FileReport r = tailor_hip(elf, keep, "lib.so");
    EXPECT_EQ(r.outcome, FileReport::Outcome::unchanged);
    EXPECT_EQ(r.vendor, "hip");
    EXPECT_EQ(r.path, "lib.so");
    EXPECT_EQ(r.entries_before, 0u); // returned at once: not even read
    EXPECT_EQ(elf, before);
}

TEST(TailorHip, BareProcessorKeepsEveryModeOfIt) {
    const std::string b = five_entry_bundle();
    std::string elf = host_elf(b), before = elf;
    FileReport r = tailor_hip(elf, keep_amd({"gfx90a"}), "lib.so");
    ASSERT_EQ(r.outcome, FileReport::Outcome::changed) << r.refused;
    ASSERT_EQ(elf.size(), before.size());
    HipFatbin f = read(elf);
    EXPECT_EQ(ids(f), (std::vector<std::string>{kHost, kPrefix + "gfx90a:xnack+",
                                                kPrefix + "gfx90a:xnack-"}));
    // Same offsets and sizes; the kept code objects untouched; the dropped ones zero.
    HipFatbin o = read(before);
    EXPECT_EQ(f.entries[1].offset, o.entries[1].offset);
    EXPECT_EQ(f.entries[2].offset, o.entries[2].offset);
    const std::uint64_t base = 0x1000;
    for (std::size_t i : {1u, 2u})
        EXPECT_EQ(elf.substr(base + o.entries[i].offset, o.entries[i].size),
                  before.substr(base + o.entries[i].offset, o.entries[i].size));
    for (std::size_t i : {3u, 4u})
        EXPECT_TRUE(all_zero(elf, base + o.entries[i].offset, o.entries[i].size));
    // The table: three entries, then zeros up to where the old table ended.
    std::size_t new_end = entry_pos(b, 3), old_end = entry_pos(b, 5);
    EXPECT_EQ(elf.substr(base, new_end), before.substr(base, new_end).replace(24, 1, "\3"));
    EXPECT_TRUE(all_zero(elf, base + new_end, old_end - new_end));
    // Outside the section: identical.
    EXPECT_EQ(elf.substr(0, base), before.substr(0, base));
    EXPECT_EQ(elf.substr(base + b.size()), before.substr(base + b.size()));

    EXPECT_EQ(r.entries_before, 4u);
    EXPECT_EQ(r.entries_after, 2u);
    EXPECT_EQ(r.arch_before, (std::map<std::string, std::uint64_t>{{"gfx90a:xnack+", 0xf70},
                                                                   {"gfx90a:xnack-", 0xf70},
                                                                   {"gfx940", 0xf70},
                                                                   {"gfx1030", 0xc30}}));
    EXPECT_EQ(r.arch_after, (std::map<std::string, std::uint64_t>{{"gfx90a:xnack+", 0xf70},
                                                                  {"gfx90a:xnack-", 0xf70}}));
    EXPECT_EQ(r.zeroed, 0xf70u + 0xc30u + (old_end - new_end));
    using R = std::pair<std::uint64_t, std::uint64_t>;
    EXPECT_EQ(r.dropped, (std::vector<R>{{base + o.entries[3].offset, 0xf70},
                                         {base + o.entries[4].offset, 0xc30}}));
    EXPECT_TRUE(r.left_alone.empty());
    EXPECT_EQ(r.file_size, before.size());
}

TEST(TailorHip, GivenFeatureKeepsOnlyTheMatchingMode) {
    for (const char* k : {"gfx90a:xnack-", "gfx90a:sramecc+:xnack-"}) {
        SCOPED_TRACE(k);
        std::string elf = host_elf(five_entry_bundle());
        FileReport r = tailor_hip(elf, keep_amd({k}), "lib.so");
        ASSERT_EQ(r.outcome, FileReport::Outcome::changed) << r.refused;
        EXPECT_EQ(ids(read(elf)), (std::vector<std::string>{kHost, kPrefix + "gfx90a:xnack-"}));
    }
    // Near miss: xnack+ keeps the other one.
    std::string elf = host_elf(five_entry_bundle());
    tailor_hip(elf, keep_amd({"gfx90a:xnack+"}), "lib.so");
    EXPECT_EQ(ids(read(elf)), (std::vector<std::string>{kHost, kPrefix + "gfx90a:xnack+"}));
}

TEST(TailorHip, SeveralKeptTargetsAndAnyFeatureCodeObjects) {
    // gfx940 and gfx1030 are built without features: they run on every mode of their GPU.
    std::string elf = host_elf(five_entry_bundle());
    FileReport r = tailor_hip(elf, keep_amd({"gfx90a:xnack+", "gfx1030", "gfx940:xnack-"}), "l");
    ASSERT_EQ(r.outcome, FileReport::Outcome::changed) << r.refused;
    EXPECT_EQ(ids(read(elf)), (std::vector<std::string>{kHost, kPrefix + "gfx90a:xnack+",
                                                        kPrefix + "gfx940", kPrefix + "gfx1030"}));
    EXPECT_EQ(r.entries_after, 3u);
}

TEST(TailorHip, NoCodeObjectForTheKeptTargetsLeavesTheFile) {
    std::string elf = host_elf(five_entry_bundle()), before = elf;
    FileReport r = tailor_hip(elf, keep_amd({"gfx1100"}), "lib.so");
    EXPECT_EQ(r.outcome, FileReport::Outcome::unchanged);
    EXPECT_EQ(elf, before);
    ASSERT_EQ(r.left_alone.size(), 1u);
    EXPECT_NE(r.left_alone[0].find("no code object for the kept targets"), std::string::npos);
    EXPECT_NE(r.left_alone[0].find("gfx1030"), std::string::npos); // says what it has
    EXPECT_EQ(r.entries_before, 4u);
    EXPECT_EQ(r.entries_after, 4u);
    EXPECT_EQ(r.arch_after, r.arch_before);
}

TEST(TailorHip, NothingToDropIsUnchanged) {
    std::string elf = host_elf(five_entry_bundle()), before = elf;
    FileReport r = tailor_hip(elf, keep_amd({"gfx90a", "gfx940", "gfx1030"}), "lib.so");
    EXPECT_EQ(r.outcome, FileReport::Outcome::unchanged);
    EXPECT_EQ(elf, before);
    EXPECT_TRUE(r.left_alone.empty());
    EXPECT_EQ(r.zeroed, 0u);
}

TEST(TailorHip, DryRunReportsWhatAWriteWouldDo) {
    std::string elf = host_elf(five_entry_bundle()), before = elf;
    FileReport dry = tailor_hip(elf, keep_amd({"gfx940"}), "lib.so", false);
    EXPECT_EQ(dry.outcome, FileReport::Outcome::changed);
    EXPECT_EQ(elf, before);
    FileReport wet = tailor_hip(elf, keep_amd({"gfx940"}), "lib.so");
    EXPECT_NE(elf, before);
    EXPECT_EQ(dry.zeroed, wet.zeroed);
    EXPECT_EQ(dry.dropped, wet.dropped);
    EXPECT_EQ(dry.arch_after, wet.arch_after);
}

TEST(TailorHip, OtherOffloadKindsAndGenericTargetsStayUntouched) {
    std::string b = bundle({{kHost, ""},
                            {"openmp-amdgcn-amd-amdhsa--gfx90a", code_object(0x53f, 64)},
                            {kPrefix + "gfx9-4-generic:xnack+", code_object(0x33f, 64)},
                            {kPrefix + "gfx1030", code_object(0x36, 64)},
                            {kPrefix + "gfx90a:xnack-", code_object(0x63f, 64)}});
    std::string elf = host_elf(b);
    FileReport r = tailor_hip(elf, keep_amd({"gfx90a"}), "lib.so");
    ASSERT_EQ(r.outcome, FileReport::Outcome::changed) << r.refused;
    EXPECT_EQ(ids(read(elf)), (std::vector<std::string>{kHost, "openmp-amdgcn-amd-amdhsa--gfx90a",
                                                        kPrefix + "gfx9-4-generic:xnack+",
                                                        kPrefix + "gfx90a:xnack-"}));
    ASSERT_EQ(r.left_alone.size(), 1u);
    EXPECT_NE(r.left_alone[0].find("openmp-amdgcn-amd-amdhsa--gfx90a"), std::string::npos);
    EXPECT_NE(r.left_alone[0].find("generic"), std::string::npos);
}

TEST(TailorHip, NoElfOrNoSectionIsUnchanged) {
    std::string raw = five_entry_bundle(), before = raw;
    EXPECT_EQ(tailor_hip(raw, keep_amd({"gfx90a"}), "x").outcome, FileReport::Outcome::unchanged);
    EXPECT_EQ(raw, before);
    std::string other = host_elf(five_entry_bundle());
    other[other.find(".hip_fatbin") + 1] = 'x';
    before = other;
    EXPECT_EQ(tailor_hip(other, keep_amd({"gfx90a"}), "x").outcome, FileReport::Outcome::unchanged);
    EXPECT_EQ(other, before);
}

TEST(TailorHip, SeveralBundlesAreEachPruned) {
    std::string a = bundle({{kHost, ""},
                            {kPrefix + "gfx1030", code_object(0x36, 0x100)},
                            {kPrefix + "gfx90a:xnack-", code_object(0x63f, 0x100)}});
    std::string b = bundle({{kHost, ""}, {kPrefix + "gfx1030", code_object(0x36, 0x200)}});
    std::string section = a;
    section.resize(0x3000, '\0');
    section += b;
    std::string elf = host_elf(section);
    FileReport r = tailor_hip(elf, keep_amd({"gfx90a"}), "lib.so");
    ASSERT_EQ(r.outcome, FileReport::Outcome::changed) << r.refused;
    HipFatbin f = read(elf);
    ASSERT_EQ(f.bundles.size(), 2u);
    EXPECT_EQ(f.bundles[1].offset, 0x3000u); // the second bundle's start did not move
    EXPECT_EQ(ids(f), (std::vector<std::string>{kHost, kPrefix + "gfx90a:xnack-", kHost,
                                                kPrefix + "gfx1030"}));
    ASSERT_EQ(r.left_alone.size(), 1u); // the second has nothing for gfx90a: left as it was
    EXPECT_NE(r.left_alone[0].find("offset 0x3000: no code object"), std::string::npos);
}

TEST(TailorHip, LlvmsTruncatedMd5) {
    // MD5("") = d41d8cd98f00b204e9800998ecf8427e; LLVM's low() reads its first 8 bytes as LE.
    EXPECT_EQ(gantry::gpu_vendors::amd::ccob::bundle_hash(""), 0x04b2008fd98c1dd4ull);
    // MD5("abc") = 900150983cd24fb0d6963f7d28e17f72
    EXPECT_EQ(gantry::gpu_vendors::amd::ccob::bundle_hash("abc"), 0xb04fd23c98500190ull);
}

TEST(TailorHip, EncodeGivesNothingWhenTheRoomIsTooSmall) {
    std::string inner = five_entry_bundle();
    EXPECT_EQ(gantry::gpu_vendors::amd::ccob::encode(3, 1, inner, 40), "");
    EXPECT_NE(gantry::gpu_vendors::amd::ccob::encode(3, 1, inner, inner.size()), "");
    EXPECT_EQ(gantry::gpu_vendors::amd::ccob::encode(4, 1, inner, inner.size()),
              ""); // unknown version
}

TEST(TailorHip, CompressedBundlesEveryVersionAndMethod) {
    if (!have_python() || !have_zstd())
        GTEST_SKIP() << "needs /usr/bin/python3 (hashlib, zlib) and python3-zstandard or zstd";
    std::string dir = temp_dir();
    for (unsigned version : {1u, 2u, 3u})
        for (unsigned method : {0u, 1u}) {
            std::string name = "v" + std::to_string(version) + "m" + std::to_string(method);
            SCOPED_TRACE(name);
            std::string c = tool_pack(version, method, five_entry_bundle());
            // A plain bundle after it: the CCOB's start and the next bundle's must not move.
            std::string section = c;
            section.resize((c.size() + 4095) / 4096 * 4096, '\0');
            std::uint64_t second = section.size();
            section += observed_bundle();
            std::string elf = host_elf(section), before = elf;
            write_file(dir + "/" + name + ".orig", before);
            FileReport r = tailor_hip(elf, keep_amd({"gfx90a:xnack-", "gfx1030"}), name);
            ASSERT_EQ(r.outcome, FileReport::Outcome::changed) << r.refused;
            ASSERT_EQ(elf.size(), before.size());
            HipFatbin f = read(elf);
            ASSERT_EQ(f.bundles.size(), 2u);
            EXPECT_EQ(f.bundles[0].offset, 0u);
            EXPECT_EQ(f.bundles[0].ccob_version, version);
            EXPECT_EQ(f.bundles[0].compression,
                      method == 0 ? BundleCompression::zlib : BundleCompression::zstd);
            EXPECT_LT(f.bundles[0].size, c.size());
            EXPECT_EQ(f.bundles[1].offset, second);
            EXPECT_EQ(ids(f), (std::vector<std::string>{
                                  kHost, kPrefix + "gfx90a:xnack-", kPrefix + "gfx1030", kHost,
                                  kPrefix + "gfx1030", kPrefix + "gfx90a:xnack-"}));
            // The freed compressed bytes are zero and reported as dropped.
            EXPECT_TRUE(all_zero(elf, 0x1000 + f.bundles[0].size, c.size() - f.bundles[0].size));
            EXPECT_EQ(r.dropped.front(),
                      std::make_pair(0x1000 + f.bundles[0].size, c.size() - f.bundles[0].size));
            // The independent decoder: hash and sizes check out, the kept code objects are
            // byte-identical to the original's.
            write_file(dir + "/" + name, elf);
            auto orig = tool_list(dir + "/" + name + ".orig");
            auto now = tool_list(dir + "/" + name);
            ASSERT_EQ(now.size(), 6u);
            EXPECT_EQ(now[0].kind,
                      "ccob" + std::to_string(version) + (method == 0 ? "-zlib" : "-zstd"));
            std::vector<Listed> want;
            for (const auto& l : orig)
                if (l.id == kHost || l.id == kPrefix + "gfx1030" ||
                    l.id == kPrefix + "gfx90a:xnack-")
                    want.push_back(l);
            ASSERT_EQ(want.size(), now.size());
            for (std::size_t i = 0; i < now.size(); ++i) {
                EXPECT_EQ(now[i].id, want[i].id);
                EXPECT_EQ(now[i].sha, want[i].sha);
            }
        }
    sh("rm -rf " + dir);
}

} // namespace tailor_hip_tailor_test
