// compat/fatbin against binaries nvcc builds here (gencode lists, sm_90a, zstd, LZ4, no
// compression, -rdc, family and LTO entries, a raw .fatbin), and can_run on their entries.
// Skipped when nvcc is not found.
#include "gpu_vendors/nvidia/fatbin.hpp"
#include "gpu_vendors/nvidia/kernels.hpp"
#include "util/fs.hpp"
#include "util/lz4.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <gtest/gtest.h>
#include <map>
#include <sstream>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace compat_fatbin_nvcc_test {

using namespace gantry::gpu_vendors::nvidia;

namespace stdfs = std::filesystem;

namespace {

bool contains(const std::string& s, const std::string& part) {
    return s.find(part) != std::string::npos;
}

} // namespace

namespace {

std::string find_nvcc() {
    std::vector<std::string> candidates;
    for (auto var : {"CUDACXX"})
        if (const char* v = std::getenv(var); v && *v) candidates.push_back(v);
    for (auto var : {"CUDA_HOME", "CUDA_PATH"})
        if (const char* v = std::getenv(var); v && *v)
            candidates.push_back(std::string(v) + "/bin/nvcc");
    candidates.push_back("/usr/local/cuda/bin/nvcc");
    if (const char* path = std::getenv("PATH")) {
        std::stringstream ss(path);
        std::string dir;
        while (std::getline(ss, dir, ':'))
            if (!dir.empty()) candidates.push_back(dir + "/nvcc");
    }
    for (auto& c : candidates)
        if (::access(c.c_str(), X_OK) == 0) return c;
    return {};
}

struct Build {
    std::string name;
    std::string args;
};

struct Row {
    std::string kind, arch, compression;
    bool operator==(const Row&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Row& r) {
    return os << r.kind << ' ' << r.arch << ' ' << r.compression;
}

std::vector<Row> rows(const std::vector<FatbinEntry>& es) {
    std::vector<Row> v;
    for (auto& e : es)
        v.push_back({std::string(to_string(e.kind)) + (e.relocatable ? "/rdc" : ""), e.arch_name(),
                     to_string(e.compression)});
    return v;
}

} // namespace

class CompatNvcc : public ::testing::Test {
  protected:
    // ctest runs every test in its own process (gtest_discover_tests), so the builds go to a
    // private cache directory keyed by nvcc and the build commands: the first process compiles
    // (all builds in parallel), later ones reuse the results.
    static void SetUpTestSuite() {
        nvcc_ = find_nvcc();
        if (nvcc_.empty()) return;
        const std::string source = "__global__ void k(float* x) { x[threadIdx.x] *= 2.0f; }\n"
                                   "void launch(float* x) { k<<<1, 32>>>(x); }\n";
        const std::string two = "-gencode arch=compute_80,code=sm_80 "
                                "-gencode arch=compute_90,code=compute_90";
        const std::vector<Build> builds = {
            {"libgencode.so", "-shared -Xcompiler -fPIC " + two},
            {"libsm90a.so", "-shared -Xcompiler -fPIC -arch=sm_90a"},
            {"libzstd.so", "-shared -Xcompiler -fPIC " + two + " -Xfatbin -compress-all"},
            {"libnone.so", "-shared -Xcompiler -fPIC " + two + " -Xfatbin --compress=false"},
            {"liblz4.so", "-shared -Xcompiler -fPIC " + two + " --compress-mode=speed"},
            {"librdc.so", "-shared -Xcompiler -fPIC -rdc=true " + two},
            {"libfamily.so", "-shared -Xcompiler -fPIC -gencode arch=compute_100f,code=[sm_100f,"
                             "compute_100f] -gencode arch=compute_80,code=lto_80"},
            {"k.fatbin", "-fatbin " + two},
        };
        struct stat st {};
        std::string key = nvcc_ + source;
        if (::stat(nvcc_.c_str(), &st) == 0)
            key += std::to_string(st.st_size) + "/" + std::to_string(st.st_mtime);
        for (auto& b : builds) key += b.name + b.args;
        char name[64];
        std::snprintf(name, sizeof name, "gantry-nvcc-%u-%016zx", static_cast<unsigned>(::getuid()),
                      std::hash<std::string>{}(key));
        dir_ = stdfs::temp_directory_path() / name;
        ::mkdir(dir_.c_str(), 0700);
        // Only a directory of ours that nobody else can write (it lives in a shared /tmp).
        if (::lstat(dir_.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != ::getuid() ||
            (st.st_mode & 022)) {
            std::string tmpl = (stdfs::temp_directory_path() / "gantry-nvcc-XXXXXX").string();
            if (!::mkdtemp(tmpl.data())) return;
            dir_ = tmpl;
            private_dir_ = true;
        }
        gantry::fs::write_atomic(dir_ / "k.cu", source);
        const std::string tag = ".tmp-" + std::to_string(::getpid());
        std::vector<std::pair<std::string, std::future<int>>> jobs;
        for (auto& b : builds) {
            if (stdfs::exists(dir_ / b.name)) {
                built_[b.name] = dir_ / b.name;
                continue;
            }
            std::string cmd = "cd '" + dir_.string() + "' && '" + nvcc_ + "' " + b.args +
                              " k.cu -o " + b.name + tag + " > " + b.name + ".log 2>&1 && mv -f " +
                              b.name + tag + " " + b.name;
            jobs.emplace_back(
                b.name, std::async(std::launch::async, [cmd] { return std::system(cmd.c_str()); }));
        }
        for (auto& [n, job] : jobs)
            if (job.get() == 0) built_[n] = dir_ / n;
    }
    static void TearDownTestSuite() {
        if (private_dir_) gantry::fs::remove_tree(dir_);
    }

    void SetUp() override {
        if (nvcc_.empty()) GTEST_SKIP() << "nvcc not found";
    }

    // Scans one build; fails the test when nvcc did not produce it.
    static FatbinFile scan(const std::string& name,
                           FatbinOptions::Cubin mode = FatbinOptions::Cubin::cheap) {
        auto it = built_.find(name);
        if (it == built_.end()) {
            std::ifstream log(dir_ / (name + ".log"));
            std::stringstream ss;
            ss << log.rdbuf();
            ADD_FAILURE() << "nvcc failed to build " << name << ":\n" << ss.str();
            return {};
        }
        FatbinOptions o;
        o.cubin = mode;
        return scan_fatbin_file(it->second.string(), o);
    }

    static inline std::string nvcc_;
    static inline stdfs::path dir_;
    static inline bool private_dir_ = false;
    static inline std::map<std::string, stdfs::path> built_;
};

TEST_F(CompatNvcc, GencodeSassAndPtx) {
    auto fb = scan("libgencode.so");
    EXPECT_TRUE(fb.elf);
    EXPECT_TRUE(fb.problems.empty());
    ASSERT_EQ(fb.containers.size(), 2u);
    EXPECT_TRUE(fb.containers[0].stub); // nvlink's container: an empty sm_80 cubin
    EXPECT_EQ(fb.containers[0].region, ".nv_fatbin");
    auto k = fb.kernel_entries();
    EXPECT_EQ(rows(k),
              (std::vector<Row>{{"sass", "sm_80", "none"}, {"ptx", "compute_90", "zstd"}}));
    ASSERT_EQ(k.size(), 2u);
    EXPECT_EQ(k[0].toolkit, 130u); // built by CUDA 13.0
    EXPECT_EQ(k[0].cubin_sm, 80u);
    EXPECT_EQ(k[0].has_code, HasCode::yes);
    EXPECT_EQ(k[1].code_major, 9); // PTX ISA 9.0
    EXPECT_EQ(k[1].code_minor, 0);
    EXPECT_GT(k[1].uncompressed_size, k[1].compressed_size);
}

TEST_F(CompatNvcc, ArchSpecific) {
    auto fb = scan("libsm90a.so");
    EXPECT_EQ(fb.stub_containers(), 1u);
    EXPECT_EQ(rows(fb.kernel_entries()), (std::vector<Row>{{"ptx", "compute_90", "zstd"},
                                                           {"sass", "sm_90a", "none"},
                                                           {"ptx", "compute_90a", "zstd"}}));
}

TEST_F(CompatNvcc, CompressAll) {
    auto fb = scan("libzstd.so");
    EXPECT_EQ(fb.stub_containers(), 1u); // recognised although its cubin is compressed
    auto k = fb.kernel_entries();
    EXPECT_EQ(rows(k),
              (std::vector<Row>{{"sass", "sm_80", "zstd"}, {"ptx", "compute_90", "zstd"}}));
    ASSERT_EQ(k.size(), 2u);
    EXPECT_EQ(k[0].toolkit, 130u); // read after decompressing
    EXPECT_EQ(k[0].has_code, HasCode::yes);
    EXPECT_LT(k[0].size, k[0].uncompressed_size);
}

TEST_F(CompatNvcc, NoCompression) {
    auto fb = scan("libnone.so");
    auto k = fb.kernel_entries();
    EXPECT_EQ(rows(k),
              (std::vector<Row>{{"sass", "sm_80", "none"}, {"ptx", "compute_90", "none"}}));
    ASSERT_EQ(k.size(), 2u);
    EXPECT_EQ(k[1].compressed_size, 0u);
    EXPECT_EQ(k[1].uncompressed_size, k[1].size);
}

TEST_F(CompatNvcc, Lz4) {
    auto fb = scan("liblz4.so");
    auto k = fb.kernel_entries();
    EXPECT_EQ(rows(k), (std::vector<Row>{{"sass", "sm_80", "none"}, {"ptx", "compute_90", "lz4"}}));
    ASSERT_EQ(k.size(), 2u);
    // The PTX payload is a raw LZ4 block that decodes to the PTX text.
    std::ifstream in(built_["liblz4.so"], std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), {});
    std::string ptx;
    ASSERT_TRUE(gantry::lz4::decompress_block(
        std::string_view(bytes).substr(k[1].offset + k[1].header_size, k[1].compressed_size), ptx,
        k[1].uncompressed_size));
    EXPECT_TRUE(contains(ptx, ".version 9.0")) << ptx;
    EXPECT_TRUE(contains(ptx, ".target sm_90")) << ptx;
}

TEST_F(CompatNvcc, RelocatableSharedObject) {
    auto fb = scan("librdc.so");
    EXPECT_EQ(fb.stub_containers(), 0u); // the linked cubin holds the kernel
    EXPECT_EQ(rows(fb.kernel_entries()), (std::vector<Row>{{"sass", "sm_80", "none"},
                                                           {"sass/rdc", "sm_80", "zstd"},
                                                           {"ptx/rdc", "compute_90", "zstd"}}));
    bool relfatbin = false;
    for (auto& c : fb.containers) relfatbin |= c.region == "__nv_relfatbin" && c.relocatable;
    EXPECT_TRUE(relfatbin);
    // The runtime loads only the linked sm_80 cubin: nothing for Hopper, despite compute_90.
    auto k = can_run(fb.kernel_entries(), 9, 0, 13000);
    EXPECT_FALSE(k.ok) << k.reason;
    EXPECT_TRUE(can_run(fb.kernel_entries(), 8, 6, 13000).ok);
}

TEST_F(CompatNvcc, FamilyAndLto) {
    auto fb = scan("libfamily.so");
    EXPECT_EQ(rows(fb.kernel_entries()), (std::vector<Row>{{"sass", "sm_100f", "none"},
                                                           {"ptx", "compute_100f", "zstd"},
                                                           {"lto", "lto_80", "zstd"}}));
}

TEST_F(CompatNvcc, RawFatbinFile) {
    auto fb = scan("k.fatbin");
    EXPECT_FALSE(fb.elf);
    ASSERT_EQ(fb.containers.size(), 1u);
    EXPECT_EQ(fb.containers[0].region, "file");
    EXPECT_EQ(rows(fb.kernel_entries()),
              (std::vector<Row>{{"sass", "sm_80", "none"}, {"ptx", "compute_90", "zstd"}}));
}

TEST_F(CompatNvcc, CanRunRealEntries) {
    auto k = scan("libgencode.so").entries; // stubs included: can_run must skip them
    auto r = can_run(k, 8, 6, 13000);
    EXPECT_TRUE(r.ok);
    EXPECT_EQ(r.verdict, KernelVerdict::sass);
    EXPECT_EQ(r.arch, "sm_80");
    r = can_run(k, 9, 0, 13000);
    EXPECT_EQ(r.verdict, KernelVerdict::ptx_jit) << r.reason;
    EXPECT_EQ(r.arch, "compute_90");
    r = can_run(k, 9, 0, 12080); // PTX ISA 9.0 needs a CUDA 13.0 driver
    EXPECT_FALSE(r.ok);
    EXPECT_TRUE(r.ptx_too_new);
    EXPECT_TRUE(contains(r.reason, "13.0")) << r.reason;
    EXPECT_TRUE(contains(r.reason, "222")) << r.reason;
    r = can_run(k, 7, 0, 13000);
    EXPECT_FALSE(r.ok);
    EXPECT_TRUE(contains(r.reason, "7.0")) << r.reason;
    EXPECT_TRUE(contains(r.reason, "209")) << r.reason;

    auto a = scan("libsm90a.so").entries;
    EXPECT_EQ(can_run(a, 9, 0, 13000).arch, "sm_90a");
    r = can_run(a, 10, 0, 13000); // the plain compute_90 PTX JIT-compiles for Blackwell
    EXPECT_EQ(r.verdict, KernelVerdict::ptx_jit);
    EXPECT_EQ(r.arch, "compute_90");
}

} // namespace compat_fatbin_nvcc_test
