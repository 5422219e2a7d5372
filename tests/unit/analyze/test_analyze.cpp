// analyze: dive's metrics on hand-computed layers, the merged view, path classes (each fires on
// a sample, a near miss does not), CI thresholds, the content hash and ELF debug sizes.
#include "analyze/analyze.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

#include <cmath>
#include <cstring>
#include <gtest/gtest.h>

namespace analyze_test {

using namespace gantry;
using namespace gantry::analyze;

namespace {

Entry file(const std::string& p, std::uint64_t size) {
    Entry e;
    e.path = p, e.kind = Kind::file, e.size = size;
    return e;
}
Entry dir(const std::string& p) {
    Entry e;
    e.path = p, e.kind = Kind::dir;
    return e;
}
Entry whiteout(const std::string& p) {
    Entry e;
    e.path = p, e.kind = Kind::whiteout;
    return e;
}
LayerScan mklayer(std::vector<Entry> es) {
    LayerScan l;
    l.entries = std::move(es);
    for (auto& e : l.entries) l.entry_bytes += e.size;
    return l;
}
std::vector<const LayerScan*> ptrs(const std::vector<LayerScan>& v) {
    std::vector<const LayerScan*> p;
    for (auto& l : v) p.push_back(&l);
    return p;
}

} // namespace

TEST(AnalyzeDive, PeersWorkedExample) {
    // layer0 = 100 B base; layer1 adds /a (10 B); layer2 deletes /a
    std::vector<LayerScan> ls{mklayer({file("base", 100)}), mklayer({file("a", 10)}),
                              mklayer({whiteout("a")})};
    auto m = dive_metrics(ptrs(ls));
    EXPECT_DOUBLE_EQ(m.efficiency, 100.0 / 110.0);
    EXPECT_EQ(m.wasted_bytes, 10u);
    EXPECT_EQ(m.size_bytes, 110u);
    EXPECT_EQ(m.user_size_bytes, 10u);
    EXPECT_DOUBLE_EQ(m.user_wasted_percent, 1.0);
    CiResult r = evaluate_ci(m, CiRules{});
    EXPECT_FALSE(r.pass); // passes lowestEfficiency 0.9, fails highestUserWastedPercent 0.1
    EXPECT_EQ(r.lines[0].rfind("PASS: lowestEfficiency", 0), 0u) << r.lines[0];
    EXPECT_EQ(r.lines[2].rfind("FAIL: highestUserWastedPercent", 0), 0u) << r.lines[2];
}

TEST(AnalyzeDive, CiLinesInDivesWords) {
    DiveMetrics m;
    m.efficiency = 0.5;
    m.wasted_bytes = 2048;
    m.user_wasted_percent = 0.25;
    CiRules rules;
    rules.lowest_efficiency = 0.9;
    rules.highest_wasted_bytes = 1024;
    rules.highest_user_wasted_percent.reset();
    CiResult r = evaluate_ci(m, rules);
    EXPECT_FALSE(r.pass);
    ASSERT_EQ(r.lines.size(), 3u);
    EXPECT_EQ(r.lines[0], "FAIL: lowestEfficiency: image efficiency is too low "
                          "(efficiency=0.5000 < threshold=0.9000)");
    EXPECT_EQ(r.lines[1], "FAIL: highestWastedBytes: too many bytes wasted (wasted-bytes=2048 > "
                          "threshold=1024)");
    EXPECT_EQ(r.lines[2], "SKIP: highestUserWastedPercent: rule disabled");
    rules = CiRules{};
    rules.lowest_efficiency = 0.25;
    rules.highest_wasted_bytes = 4096;
    rules.highest_user_wasted_percent = 0.5;
    r = evaluate_ci(m, rules);
    EXPECT_TRUE(r.pass);
    EXPECT_EQ(r.lines[0], "PASS: lowestEfficiency (efficiency=0.5000 >= 0.2500)");
    EXPECT_EQ(r.lines[1], "PASS: highestWastedBytes (wasted-bytes=2048 <= 4096)");
    EXPECT_EQ(r.lines[2], "PASS: highestUserWastedPercent (%-user-wasted-bytes=0.2500 <= 0.5000)");
    rules.lowest_efficiency.reset();
    rules.highest_wasted_bytes.reset();
    rules.highest_user_wasted_percent = 0.1;
    r = evaluate_ci(m, rules);
    EXPECT_EQ(r.lines[0], "SKIP: lowestEfficiency: rule disabled");
    EXPECT_EQ(r.lines[2], "FAIL: highestUserWastedPercent: too many bytes wasted, relative to the "
                          "user bytes added (%-user-wasted-bytes=0.2500 > threshold=0.1000)");
}

TEST(AnalyzeDive, HandComputedThreeLayers) {
    std::vector<LayerScan> ls{
        mklayer({dir("etc"), file("etc/passwd", 50), file("bin/sh", 1000)}),
        mklayer({file("etc/passwd", 60), file("tmp/big", 500), dir("opt"), file("opt/x", 30)}),
        mklayer({whiteout("tmp/big"), whiteout("opt"), file("bin/sh", 1000)})};
    auto m = dive_metrics(ptrs(ls));
    // paths: etc/passwd 50+60 (min 50), bin/sh 1000+1000 (min 1000), tmp/big 500+0 (min 0),
    // opt/x 30, opt: whiteout of a directory = its subtree below (30)
    EXPECT_DOUBLE_EQ(m.efficiency, 1110.0 / 2670.0);
    EXPECT_EQ(m.wasted_bytes, 110u + 2000u + 500u);
    EXPECT_EQ(m.size_bytes, 1050u + 590u + 1000u);
    EXPECT_EQ(m.user_size_bytes, 1590u);
    EXPECT_DOUBLE_EQ(m.user_wasted_percent, 2610.0 / 1590.0);
    ASSERT_EQ(m.inefficiencies.size(), 3u);
    EXPECT_EQ(m.inefficiencies[0].path, "bin/sh");
    EXPECT_EQ(m.inefficiencies[0].cumulative, 2000u);
    EXPECT_EQ(m.inefficiencies[2].path, "etc/passwd");
    EXPECT_EQ(m.inefficiencies[2].count, 2u);
}

TEST(AnalyzeDive, ImpliedDirectoryWhiteoutWeighsNothingAsInDive) {
    // dive's stacked tree gives implied directories an empty payload (not a directory), so a
    // whiteout of a directory that only appeared implicitly counts 0 bytes
    std::vector<LayerScan> ls{mklayer({file("d/f", 40)}), mklayer({whiteout("d")})};
    auto m = dive_metrics(ptrs(ls));
    EXPECT_DOUBLE_EQ(m.efficiency, 1.0);
    EXPECT_EQ(m.wasted_bytes, 0u);
    EXPECT_TRUE(std::isnan(m.user_wasted_percent)); // 0/0 as in Go
    EXPECT_TRUE(evaluate_ci(m, CiRules{}).pass);    // NaN > t is false
}

TEST(AnalyzeDive, EmptyImageScoresOne) {
    std::vector<LayerScan> ls{mklayer({dir("x")})};
    auto m = dive_metrics(ptrs(ls));
    EXPECT_DOUBLE_EQ(m.efficiency, 1.0);
    EXPECT_EQ(m.wasted_bytes, 0u);
}

TEST(AnalyzeMerge, DeletedOverwrittenAndOpaque) {
    Entry opq;
    opq.path = "cache", opq.kind = Kind::opaque;
    std::vector<LayerScan> ls{
        mklayer({file("a", 10), file("b", 20), dir("cache"), file("cache/x", 5), dir("d"),
                 file("d/y", 7)}),
        mklayer({whiteout("a"), file("b", 21), opq, file("cache/z", 1), file("d", 3)})};
    auto v = merge(ptrs(ls));
    EXPECT_FALSE(v.final.count("a"));
    EXPECT_EQ(v.final.at("b").layer, 1u);
    EXPECT_FALSE(v.final.count("cache/x"));
    EXPECT_TRUE(v.final.count("cache/z"));
    EXPECT_FALSE(v.final.count("d/y")); // a file replaced the directory
    std::uint64_t del = 0, over = 0;
    for (auto& l : v.deleted) del += l.bytes;
    for (auto& l : v.overwritten) over += l.bytes;
    EXPECT_EQ(del, 10u + 5u + 7u);
    EXPECT_EQ(over, 20u);
}

TEST(AnalyzeClasses, EachClassFiresAndNearMissesDoNot) {
    struct C {
        const char* path;
        const char* cls;
    } cases[] = {
        {"usr/local/cuda-13.0/bin/nvcc", "toolchain"},
        {"usr/local/cuda/nvvm/bin/cicc", "toolchain"},
        {"usr/lib/gcc/x86_64-linux-gnu/12/cc1plus", "toolchain"},
        {"usr/bin/x86_64-linux-gnu-gcc-12", "toolchain"},
        {"usr/local/bin/nvcc-wrapper.sh", ""},
        {"usr/share/nvcc", ""},
        {"usr/local/cuda/nvvm/lib64/libnvvm.so.4", ""},
        {"usr/local/cuda/include/cuda_runtime.h", "headers"},
        {"usr/local/cuda/targets/x86_64-linux/include/crt/host_defines.h", "headers"},
        {"opt/app/config.h", ""},
        {"usr/local/cuda/include/README", ""},
        {"usr/local/cuda/lib64/libcudart_static.a", "static"},
        {"usr/local/cuda/lib64/libcudart.so.13", ""},
        {"var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_InRelease", "apt"},
        {"var/cache/apt/archives/curl_7.88_amd64.deb", "apt"},
        {"var/lib/apt/lists/lock", ""},
        {"var/lib/apt/extended_states", ""},
        {"root/.cache/pip/http-v2/a/b/c", "pip"},
        {"root/.cache/pipx/venv/x", ""},
        {"opt/conda/pkgs/numpy-2.0-py311/lib/x.so", "conda"},
        {"opt/conda/lib/python3.11/site-packages/numpy/core/x.so", ""},
        {"usr/lib/python3/dist-packages/foo/__pycache__/a.cpython-311.pyc", "pycache"},
        {"app/old.pyc", "pycache"},
        {"usr/lib/python3/dist-packages/foo/pycache_util.py", ""},
        {"usr/local/lib/python3.11/site-packages/scipy/linalg/tests/test_x.py", "site-extras"},
        {"usr/local/lib/python3.11/site-packages/torch/examples/a.py", "site-extras"},
        {"usr/local/lib/python3.11/site-packages/numpy/testing/utils.py", ""},
        {"usr/local/lib/python3.11/site-packages/foo/tests.py", ""},
        {"usr/share/foo/tests/a.txt", ""},
        {"usr/share/doc/bash/README.gz", "docs"},
        {"usr/share/man/man1/ls.1.gz", "docs"},
        {"usr/share/doc/bash/copyright", ""},
        {"root/.cache/huggingface/hub/models--bert/blobs/abc", "model-cache"},
        {"home/u/.cache/torch/hub/checkpoints/resnet.pth", "model-cache"},
        {"root/.cache/hugging/x", ""},
    };
    for (auto& c : cases) EXPECT_EQ(path_class(c.path, Kind::file), c.cls) << c.path;
    EXPECT_EQ(path_class("usr/local/cuda/include", Kind::dir), "");
}

TEST(AnalyzeFindings, LayerAndConfigFindings) {
    std::vector<LayerScan> ls{mklayer({file("usr/local/cuda/bin/nvcc", 30'000'000),
                                       file("tmp/x", 5'000'000), file("big.bin", 200'000'000)}),
                              mklayer({whiteout("tmp/x")})};
    auto p = ptrs(ls);
    auto v = merge(p);
    nlohmann::json cfg = {
        {"config",
         {{"Env", {"NVIDIA_DRIVER_CAPABILITIES=all"}},
          {"Labels", {{"org.opencontainers.image.base.name", "docker.io/nvidia/cuda:latest"}}}}}};
    auto fs = find(p, v, cfg, FindOptions{});
    std::map<std::string, Finding> by;
    for (auto& f : fs) by[f.id] = f;
    ASSERT_TRUE(by.count("DEVEL-TOOLCHAIN"));
    EXPECT_EQ(by["DEVEL-TOOLCHAIN"].subject.bytes, 30'000'000u);
    ASSERT_TRUE(by.count("LAYER-DELETED"));
    EXPECT_EQ(by["LAYER-DELETED"].subject.bytes, 5'000'000u);
    ASSERT_TRUE(by.count("LARGE-FILE"));
    EXPECT_EQ(by["LARGE-FILE"].subject.count, 1u);
    EXPECT_TRUE(by.count("NVIDIA-CAPS-ALL"));
    EXPECT_TRUE(by.count("BASE-LATEST"));
    EXPECT_EQ(fs.front().id, "LARGE-FILE"); // largest savings first

    // near misses: compute,utility; a base pinned by digest; a file just under the threshold
    nlohmann::json ok = {
        {"config",
         {{"Env", {"NVIDIA_DRIVER_CAPABILITIES=compute,utility"}},
          {"Labels",
           {{"org.opencontainers.image.base.name", "docker.io/nvidia/cuda:13.0.1-runtime"},
            {"org.opencontainers.image.base.digest", "sha256:ab"}}}}}};
    FindOptions fo;
    fo.large_file = 200'000'001;
    for (auto& f : find(p, v, ok, fo))
        EXPECT_TRUE(f.id != "NVIDIA-CAPS-ALL" && f.id != "BASE-LATEST" && f.id != "BASE-UNPINNED" &&
                    f.id != "LARGE-FILE")
            << f.id;
}

TEST(AnalyzeFindings, DuplicatesAndFatbinArches) {
    Entry a = file("lib/a.so", 100'000), b = file("lib/b.so", 100'000),
          c = file("lib/c.so", 100'000);
    a.hash = b.hash = 42, c.hash = 43;
    Entry k = file("lib/k.so", 9'000);
    k.device_code["cuda"] = {{"sm_80", 3'000}, {"sm_90", 4'000}, {"compute_90", 2'000}};
    std::vector<LayerScan> ls{mklayer({a, b, c, k})};
    auto p = ptrs(ls);
    auto fs = find(p, merge(p), nlohmann::json::object(), FindOptions{});
    std::map<std::string, Finding> by;
    for (auto& f : fs) by[f.id] = f;
    ASSERT_TRUE(by.count("DUPLICATE-FILES"));
    EXPECT_EQ(by["DUPLICATE-FILES"].subject.bytes, 100'000u);
    EXPECT_EQ(by["DUPLICATE-FILES"].subject.count, 2u);
    ASSERT_TRUE(by.count("FATBIN-ARCHES"));
    EXPECT_EQ(by["FATBIN-ARCHES"].subject.bytes, 9'000u - 4'000u); // keeping only sm_90
    EXPECT_NE(by["FATBIN-ARCHES"].message.find("keeping only sm_90 saves"), std::string::npos);
}

TEST(AnalyzeCi, ParsesValuesAsDive) {
    EXPECT_EQ(*parse_bytes("k", "20MB"), 20'000'000u);
    EXPECT_EQ(*parse_bytes("k", "1.5 GiB"), 1'610'612'736u);
    EXPECT_EQ(*parse_bytes("k", "1000"), 1000u);
    EXPECT_FALSE(parse_bytes("k", "disabled"));
    EXPECT_FALSE(parse_ratio("k", "off"));
    EXPECT_DOUBLE_EQ(*parse_ratio("k", "0.95"), 0.95);
    EXPECT_THROW(parse_ratio("k", "1.5"), Error);
    EXPECT_THROW(parse_bytes("k", "20 parsecs"), Error);
    DiveMetrics m;
    m.efficiency = 0.95, m.wasted_bytes = 30'000'000, m.user_size_bytes = 1;
    m.user_wasted_percent = std::numeric_limits<double>::infinity();
    CiRules r;
    r.highest_user_wasted_percent.reset();
    r.highest_wasted_bytes = 20'000'000;
    auto res = evaluate_ci(m, r);
    EXPECT_FALSE(res.pass);
    r.highest_wasted_bytes.reset();
    EXPECT_TRUE(evaluate_ci(m, r).pass);
    r.highest_user_wasted_percent = 0.5;
    EXPECT_FALSE(evaluate_ci(m, r).pass); // +inf > t
}

TEST(AnalyzeCi, ReadsDiveCiYaml) {
    auto dir = std::filesystem::temp_directory_path() / ("gantry-ci-" + fs::unique_name());
    std::filesystem::create_directories(dir);
    auto p = (dir / ".dive-ci").string();
    fs::write_atomic(p, "rules:\n  lowestEfficiency: 0.95\n  highest-wasted-bytes: 20MB\n"
                        "  highestUserWastedPercent: disabled\n");
    CiRules r;
    load_ci_config(p, r);
    EXPECT_DOUBLE_EQ(*r.lowest_efficiency, 0.95);
    EXPECT_EQ(*r.highest_wasted_bytes, 20'000'000u);
    EXPECT_FALSE(r.highest_user_wasted_percent);
    fs::write_atomic(p, "rules:\n  lowestEfficiency: 2\n");
    EXPECT_THROW(load_ci_config(p, r), Error);
    fs::write_atomic(p, "rules:\n  bogus: 1\n");
    EXPECT_THROW(load_ci_config(p, r), Error);
    fs::remove_tree(dir);
}

TEST(AnalyzeScan, HashIsIndependentOfChunking) {
    std::string data(100'003, '\0');
    for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7 + i / 13);
    FastHash one, many;
    one.update(data.data(), data.size());
    for (std::size_t i = 0; i < data.size();) {
        std::size_t n = std::min<std::size_t>(1 + i % 61, data.size() - i);
        many.update(data.data() + i, n);
        i += n;
    }
    EXPECT_EQ(one.final(), many.final());
    FastHash other;
    data[5000] ^= 1;
    other.update(data.data(), data.size());
    EXPECT_NE(other.final(), one.final());
}

TEST(AnalyzeScan, ElfDebugBytes) {
    // this test binary is built with debug info; busybox-static ships stripped
    std::string self = fs::read_file("/proc/self/exe", 1ull << 31);
    EXPECT_GT(elf_debug_bytes(self), 0u);
    if (std::filesystem::exists("/usr/bin/busybox")) {
        EXPECT_EQ(elf_debug_bytes(fs::read_file("/usr/bin/busybox", 1ull << 31)), 0u);
    }
    EXPECT_EQ(elf_debug_bytes("not an elf"), 0u);
    std::string cut = self.substr(0, 200); // section table points past the end: no crash
    EXPECT_EQ(elf_debug_bytes(cut), 0u);
}

TEST(AnalyzeScan, ElfDebugBytesOfAnElf32File) {
    // a 52-byte ELF32 LE header, 100 bytes of .debug_info, the names, then three 40-byte section
    // headers: null, .debug_info, .shstrtab
    std::string names = std::string("\0.debug_info\0.shstrtab\0", 24);
    std::string f(52, '\0');
    f.replace(0, 7,
              "\x7f"
              "ELF\x01\x01\x01");
    auto put16 = [&](std::size_t at, std::uint16_t v) { std::memcpy(&f[at], &v, 2); };
    auto put32 = [&](std::size_t at, std::uint32_t v) { std::memcpy(&f[at], &v, 4); };
    const std::uint32_t debug_at = 52, names_at = 152, shoff = 176;
    put32(32, shoff); // e_shoff
    put16(46, 40);    // e_shentsize
    put16(48, 3);     // e_shnum
    put16(50, 2);     // e_shstrndx
    f += std::string(100, 'd') + names;
    f.resize(shoff, '\0');
    auto section = [&](std::uint32_t name, std::uint32_t type, std::uint32_t off,
                       std::uint32_t size) {
        std::string sh(40, '\0');
        std::memcpy(&sh[0], &name, 4);
        std::memcpy(&sh[4], &type, 4);
        std::memcpy(&sh[16], &off, 4);
        std::memcpy(&sh[20], &size, 4);
        f += sh;
    };
    section(0, 0, 0, 0);
    section(1, 1 /*PROGBITS*/, debug_at, 100);
    section(13, 3 /*STRTAB*/, names_at, static_cast<std::uint32_t>(names.size()));
    EXPECT_EQ(elf_debug_bytes(f), 100u);
    // a section that claims more than the file holds is not counted
    std::string lying = f;
    std::uint32_t huge = 1u << 30;
    std::memcpy(&lying[shoff + 40 + 20], &huge, 4);
    EXPECT_EQ(elf_debug_bytes(lying), 0u);
    // big-endian: not inspected
    std::string big = f;
    big[5] = 2;
    EXPECT_EQ(elf_debug_bytes(big), 0u);
}

} // namespace analyze_test
