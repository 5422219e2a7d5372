// tailor_cuda on shared libraries nvcc builds here (nvcc_builds.hpp: SASS only, PTX only, both,
// zstd / size-compressed / uncompressed, sm_90a, family sm_100f, -rdc), each tailored to several
// kept sets. The expected result is computed in this file from the original's entries (as
// compat/fatbin reads them) by its own statement of the rule, not by the library's keep function.
// Each result must re-read with exactly those entries, byte-identical, keep every other byte, and
// dlopen on the host. A program linked against a tailored library (shared CUDA runtime) starts
// and reaches __cudaRegisterFatBinary with the tailored containers (an LD_PRELOAD shim checks and
// prints them). There is no GPU and no libcuda on this host: no kernel can run, so registration
// is as far as a program gets. Skipped when nvcc is not found.
#include "gpu_vendors/nvidia/fatbin.hpp"
#include "gpu_vendors/nvidia/tailor_cuda.hpp"
#include "nvcc_builds.hpp"

#include <algorithm>
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <set>
#include <sys/wait.h>

namespace tailor_cuda_nvcc_test {

using namespace gantry;
using namespace gantry::device_code;
using namespace gantry::gpu_vendors::nvidia;
namespace stdfs = std::filesystem;

namespace {

// The rule, stated from NVIDIA's compatibility guides: a cubin runs on GPUs of its major
// version whose compute capability is at least its own; an arch-specific (`a`) one only on its
// exact GPU; a family (`f`) one on its major at or above. PTX JIT-compiles for any GPU at or
// above its arch, except arch-specific PTX (only its own GPU).
bool loads_on(const gpu_vendors::nvidia::FatbinEntry& e, unsigned gpu) {
    const bool same_major = e.arch / 10 == gpu / 10;
    if (e.kind == gpu_vendors::nvidia::EntryKind::sass)
        return e.variant == gpu_vendors::nvidia::ArchVariant::a ? e.arch == gpu
                                                                : same_major && e.arch <= gpu;
    if (e.kind == gpu_vendors::nvidia::EntryKind::ptx)
        return e.variant == gpu_vendors::nvidia::ArchVariant::a ? e.arch == gpu : e.arch <= gpu;
    return false;
}

struct Expect {
    std::uint64_t offset, declared; // the container, as compat reads the original
    std::vector<std::pair<std::string, std::string>> entries; // (arch_name, bytes) kept
};

std::vector<Expect> expected(const std::string& bytes, const std::vector<unsigned>& gpus,
                             bool ptx) {
    auto fb = gpu_vendors::nvidia::scan_fatbin_bytes(
        bytes, {gpu_vendors::nvidia::FatbinOptions::Cubin::none});
    std::vector<Expect> out;
    for (auto& c : fb.containers) {
        if (c.region != ".nv_fatbin") continue;
        Expect x{c.offset, c.declared, {}};
        unsigned newest = 0;
        bool any = false;
        for (std::size_t i = 0; i < c.entry_count; ++i) {
            auto& e = fb.entries[c.first_entry + i];
            if (e.is_ptx() && e.variant != gpu_vendors::nvidia::ArchVariant::a)
                newest = std::max(newest, e.arch);
            for (unsigned g : gpus) any = any || loads_on(e, g);
        }
        for (std::size_t i = 0; i < c.entry_count; ++i) {
            auto& e = fb.entries[c.first_entry + i];
            bool keep = !any || e.kind == gpu_vendors::nvidia::EntryKind::lto ||
                        (ptx && e.is_ptx() && e.variant != gpu_vendors::nvidia::ArchVariant::a &&
                         e.arch == newest);
            for (unsigned g : gpus) keep = keep || loads_on(e, g);
            if (keep) x.entries.emplace_back(e.arch_name(), bytes.substr(e.offset, e.disk_size()));
        }
        out.push_back(std::move(x));
    }
    return out;
}

// Runs `fn` in a child process; true when it exits 0.
template <typename F>
bool in_child(F fn) {
    pid_t pid = ::fork();
    if (pid == 0) ::_exit(fn() ? 0 : 1);
    int st = 0;
    ::waitpid(pid, &st, 0);
    return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

std::string run_capture(const std::string& cmd) {
    std::string out;
    if (FILE* p = ::popen((cmd + " 2>&1").c_str(), "r")) {
        char buf[4096];
        while (std::size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
        ::pclose(p);
    }
    return out;
}

} // namespace

class TailorCudaNvcc : public ::testing::Test {
  protected:
    void SetUp() override {
        if (tailor_test::find_nvcc().empty()) GTEST_SKIP() << "nvcc not found";
    }
    static void TearDownTestSuite() {
        if (!tailor_test::find_nvcc().empty()) {
            std::error_code ec;
            stdfs::remove_all(scratch(), ec);
        }
    }
    static std::string lib(const std::string& name) {
        auto& b = tailor_test::nvcc_builds();
        auto it = b.built.find(name);
        if (it == b.built.end()) {
            ADD_FAILURE() << "nvcc failed to build " << name << ":\n" << b.log(name);
            return {};
        }
        return fs::read_file(it->second, 1u << 30);
    }
    static stdfs::path scratch() {
        auto d = tailor_test::nvcc_builds().dir / ("out-" + std::to_string(::getpid()));
        stdfs::create_directories(d);
        return d;
    }

    // Tailors `name` to `gpus`, checks the result against the rule; returns the result's bytes.
    static std::string check(const std::string& name, std::vector<unsigned> gpus, bool ptx,
                             bool expect_change = true) {
        SCOPED_TRACE(name + " keep " + std::to_string(gpus.front()) + (ptx ? " +ptx" : ""));
        const std::string original = lib(name);
        if (original.empty()) return {};
        KeepSet keep;
        for (unsigned g : gpus) keep.by_format["cuda"].push_back("sm_" + std::to_string(g));
        if (!ptx) keep.options.insert(kNoPtx);
        auto want = expected(original, gpus, ptx);
        EXPECT_FALSE(want.empty());

        std::string bytes = original;
        auto dry = tailor_cuda(bytes, keep, name, false);
        EXPECT_TRUE(bytes == original);
        auto r = tailor_cuda(bytes, keep, name, true);
        EXPECT_EQ(r.outcome,
                  expect_change ? FileReport::Outcome::changed : FileReport::Outcome::unchanged)
            << r.refused;
        EXPECT_EQ(dry.outcome, r.outcome);
        EXPECT_EQ(dry.zeroed, r.zeroed);
        EXPECT_EQ(bytes.size(), original.size());

        // The result re-reads with exactly the expected entries, byte-identical.
        auto fb = gpu_vendors::nvidia::scan_fatbin_bytes(
            bytes, {gpu_vendors::nvidia::FatbinOptions::Cubin::none});
        EXPECT_TRUE(fb.problems.empty()) << fb.problems.front();
        std::size_t i = 0, before = 0, after = 0;
        std::uint64_t freed = 0;
        for (auto& c : fb.containers) {
            if (c.region != ".nv_fatbin") continue;
            if (i >= want.size()) {
                ADD_FAILURE() << "extra container at " << c.offset;
                break;
            }
            auto& w = want[i++];
            EXPECT_EQ(c.offset, w.offset);
            EXPECT_TRUE(c.error.empty()) << c.error;
            std::vector<std::pair<std::string, std::string>> got;
            for (std::size_t j = 0; j < c.entry_count; ++j) {
                auto& e = fb.entries[c.first_entry + j];
                got.emplace_back(e.arch_name(), bytes.substr(e.offset, e.disk_size()));
            }
            EXPECT_TRUE(got == w.entries) << "container at " << c.offset;
            after += got.size();
            freed += w.declared - c.declared;
            // Every other byte: the header's magic/version, and everything up to the next one.
        }
        for (auto& c : gpu_vendors::nvidia::scan_fatbin_bytes(
                           original, {gpu_vendors::nvidia::FatbinOptions::Cubin::none})
                           .containers)
            if (c.region == ".nv_fatbin") before += c.entry_count;
        EXPECT_EQ(i, want.size());
        EXPECT_EQ(r.entries_before, before);
        EXPECT_EQ(r.entries_after, after);
        EXPECT_EQ(r.zeroed, freed);
        // Every byte outside the .nv_fatbin containers (as the original declares them) is the
        // original's; inside, only the 8-byte fatSize, the kept entries and zeros (checked above
        // and here: the freed tails are zero).
        std::size_t at = 0;
        for (auto& w : want) {
            EXPECT_TRUE(std::equal(bytes.begin() + at, bytes.begin() + w.offset + 8,
                                   original.begin() + at));
            std::uint64_t used = 16;
            for (auto& e : w.entries) used += e.second.size();
            EXPECT_TRUE(std::all_of(bytes.begin() + w.offset + used,
                                    bytes.begin() + w.offset + w.declared,
                                    [](char ch) { return ch == 0; }));
            at = w.offset + w.declared;
        }
        EXPECT_TRUE(std::equal(bytes.begin() + at, bytes.end(), original.begin() + at));

        // The tailored library loads and relocates on the host.
        auto path = scratch() / name;
        fs::write_atomic(path, bytes, 0755);
        EXPECT_TRUE(in_child([&] {
            void* h = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
            if (!h) std::fprintf(stderr, "dlopen %s: %s\n", path.c_str(), ::dlerror());
            return h != nullptr;
        })) << path;
        return bytes;
    }
};

TEST_F(TailorCudaNvcc, SassOnly) {
    check("libsass.so", {80}, true);
    check("libsass.so", {90}, true);
    check("libsass.so", {80, 90}, false);
    // sm_86 keeps the sm_80 SASS (same major, lower minor) and its own, drops sm_75 and sm_90.
    auto bytes = check("libsass.so", {86}, false);
    auto fb = gpu_vendors::nvidia::scan_fatbin_bytes(
        bytes, {gpu_vendors::nvidia::FatbinOptions::Cubin::none});
    std::set<std::string> archs;
    for (auto& e : fb.kernel_entries()) archs.insert(e.arch_name());
    EXPECT_EQ(archs, (std::set<std::string>{"sm_80", "sm_86"}));
}

TEST_F(TailorCudaNvcc, PtxOnly) {
    // compute_75 runs on sm_80 by JIT; compute_90 goes, unless the newest PTX is kept.
    check("libptx.so", {80}, false);
    check("libptx.so", {80}, true, false);
    // Every PTX here loads on sm_90 (75 and 90 are at or below): nothing to drop.
    check("libptx.so", {90}, true, false);
}

TEST_F(TailorCudaNvcc, SassAndPtxUncompressed) {
    for (bool ptx : {true, false}) {
        check("libboth.so", {80}, ptx);
        check("libboth.so", {90}, ptx);
        check("libboth.so", {80, 90}, ptx);
        check("libboth.so", {86}, ptx);
    }
}

TEST_F(TailorCudaNvcc, SassAndPtxCompressed) {
    for (bool ptx : {true, false}) {
        check("libboth_zstd.so", {80}, ptx);
        check("libboth_zstd.so", {86}, ptx);
        check("libboth_size.so", {90}, ptx);
        check("libboth_size.so", {80, 90}, ptx);
    }
}

TEST_F(TailorCudaNvcc, ArchSpecific) {
    // sm_90a SASS and compute_90a PTX stay for sm_90 only; sm_80 keeps neither.
    auto b90 = check("libsm90a.so", {90}, false);
    auto b80 = check("libsm90a.so", {80}, true);
    std::set<std::string> a90, a80;
    for (auto& e : gpu_vendors::nvidia::scan_fatbin_bytes(b90, {}).kernel_entries())
        a90.insert(e.arch_name());
    for (auto& e : gpu_vendors::nvidia::scan_fatbin_bytes(b80, {}).kernel_entries())
        a80.insert(e.arch_name());
    EXPECT_TRUE(a90.count("sm_90a") && a90.count("compute_90a")) << *a90.begin();
    EXPECT_FALSE(a80.count("sm_90a") || a80.count("compute_90a"));
    EXPECT_TRUE(a80.count("sm_80"));
}

TEST_F(TailorCudaNvcc, Family) {
    // sm_100f runs on 10.x at or above 10.0: kept for sm_103, dropped for sm_90 and sm_120.
    check("libfamily.so", {103}, false);
    check("libfamily.so", {90}, true);
    check("libfamily.so", {120}, true);
}

TEST_F(TailorCudaNvcc, RelocatableDeviceCode) {
    std::string original = lib("librdc.so");
    if (original.empty()) return;
    auto bytes = check("librdc.so", {90}, true);
    // __nv_relfatbin is left alone and said so.
    KeepSet keep{{{"cuda", {"sm_90"}}}}; // the newest PTX kept
    std::string copy = original;
    auto r = tailor_cuda(copy, keep, "librdc.so", false);
    bool rel = false;
    for (auto& l : r.left_alone) rel = rel || l.starts_with("__nv_relfatbin:");
    EXPECT_TRUE(rel);
    auto before = gpu_vendors::nvidia::scan_fatbin_bytes(
        original, {gpu_vendors::nvidia::FatbinOptions::Cubin::none});
    auto after = gpu_vendors::nvidia::scan_fatbin_bytes(
        bytes, {gpu_vendors::nvidia::FatbinOptions::Cubin::none});
    std::size_t n = 0;
    for (auto& c : before.containers)
        if (c.relocatable) {
            ++n;
            EXPECT_EQ(original.substr(c.offset, c.declared), bytes.substr(c.offset, c.declared));
        }
    EXPECT_GT(n, 0u);
}

TEST_F(TailorCudaNvcc, ProgramRegistersTailoredContainers) {
    auto& b = tailor_test::nvcc_builds();
    ASSERT_TRUE(b.built.count("prog")) << b.log("prog");
    ASSERT_TRUE(b.built.count("shim.so")) << b.log("shim.so");
    auto bytes = check("libboth_zstd.so", {90}, false);
    ASSERT_FALSE(bytes.empty());
    auto dir = scratch(); // check() wrote the tailored libboth_zstd.so here
    std::vector<std::uint64_t> want, orig;
    // The runtime registers the containers with kernels (not nvlink's stub, whose wrapper
    // the device-link code keeps to itself).
    for (auto& c : gpu_vendors::nvidia::scan_fatbin_bytes(bytes, {}).containers)
        if (c.region == ".nv_fatbin" && !c.stub) want.push_back(c.declared - 16);
    for (auto& c : gpu_vendors::nvidia::scan_fatbin_bytes(lib("libboth_zstd.so"), {}).containers)
        if (c.region == ".nv_fatbin" && !c.stub) orig.push_back(c.declared - 16);
    ASSERT_EQ(want.size(), 2u); // k.cu and k2.cu
    auto out =
        run_capture("LD_LIBRARY_PATH='" + dir.string() + "' LD_PRELOAD='" +
                    b.built.at("shim.so").string() + "' '" + b.built.at("prog").string() + "'");
    EXPECT_NE(out.find("main reached"), std::string::npos) << out;
    std::vector<std::uint64_t> got;
    std::istringstream in(out);
    for (std::string line; std::getline(in, line);) {
        if (!line.starts_with("gantry-shim: object=" + (dir / "libboth_zstd.so").string()))
            continue;
        EXPECT_NE(line.find("wrapper=ok container=ok"), std::string::npos) << line;
        got.push_back(std::stoull(line.substr(line.find("fatSize=") + 8)));
    }
    std::sort(got.begin(), got.end());
    std::sort(want.begin(), want.end());
    std::sort(orig.begin(), orig.end());
    EXPECT_EQ(got, want) << out;
    EXPECT_NE(got, orig);
}

} // namespace tailor_cuda_nvcc_test
