// Test helper for tests/unit/gpu_vendors/nvidia/test_cuda_*.cpp: CUDA shared libraries built here
// with nvcc (two translation units each, several -gencode sets, compressed and not, -rdc, sm_90a,
// family), a program linked against one of them, and an LD_PRELOAD shim (cuda_register_shim.c).
// ctest runs every test in its own process, so the builds go to a private cache directory keyed by
// nvcc and the build commands: the first process compiles (in parallel), later ones reuse it.
#pragma once

#include "util/fs.hpp"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <sstream>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace tailor_test {

namespace stdfs = std::filesystem;

inline std::string find_nvcc() {
    std::vector<std::string> candidates;
    if (const char* v = std::getenv("CUDACXX"); v && *v) candidates.push_back(v);
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

// The CUDA runtime's directory, for rpaths: next to nvcc's bin/.
inline std::string cuda_lib64(const std::string& nvcc) {
    return (stdfs::path(nvcc).parent_path().parent_path() / "lib64").string();
}

struct Builds {
    std::string nvcc;
    stdfs::path dir;
    std::map<std::string, stdfs::path> built; // name -> path, for the builds that succeeded

    std::string log(const std::string& name) const {
        std::ifstream in(dir / (name + ".log"));
        std::stringstream ss;
        ss << in.rdbuf();
        return ss.str();
    }
};

inline const std::string kCudartShared = "--cudart shared -Xlinker -rpath,";

// Builds everything once per cache key; later calls (and processes) reuse the results.
inline const Builds& nvcc_builds() {
    static Builds builds_once = [] {
        Builds b;
        b.nvcc = find_nvcc();
        if (b.nvcc.empty()) return b;
        const std::string shared =
            "-shared -Xcompiler -fPIC " + kCudartShared + cuda_lib64(b.nvcc) + " ";
        const std::string k = "__global__ void k(float* x) { x[threadIdx.x] *= 2.0f; }\n"
                              "void launch_k(float* x) { k<<<1, 32>>>(x); }\n";
        const std::string k2 = "__global__ void k2(double* x, const double* y, int n) {\n"
                               "  int i = blockIdx.x * blockDim.x + threadIdx.x;\n"
                               "  if (i < n) x[i] = x[i] * y[i] + __sinf((float)y[i]);\n}\n"
                               "void launch_k2(double* x, const double* y, int n) {\n"
                               "  k2<<<(n + 127) / 128, 128>>>(x, y, n);\n}\n";
        const std::string main_cu = "#include <cstdio>\nvoid launch_k(float*);\n"
                                    "int main(int argc, char**) {\n"
                                    "  std::printf(\"main reached\\n\");\n"
                                    "  if (argc > 99) launch_k(nullptr);\n  return 0;\n}\n";
        const std::string sass = "-gencode arch=compute_75,code=sm_75 "
                                 "-gencode arch=compute_80,code=sm_80 "
                                 "-gencode arch=compute_86,code=sm_86 "
                                 "-gencode arch=compute_90,code=sm_90 ";
        const std::string both = sass + "-gencode arch=compute_80,code=compute_80 "
                                        "-gencode arch=compute_90,code=compute_90 ";
        const std::string two = " k.cu k2.cu -o ";
        const std::vector<std::pair<std::string, std::string>> builds = {
            // SASS only, the CUDA runtime linked statically (nvcc's default)
            {"libsass.so", "-shared -Xcompiler -fPIC " + sass + two},
            {"libptx.so", shared +
                              "-gencode arch=compute_75,code=compute_75 "
                              "-gencode arch=compute_90,code=compute_90" +
                              two},
            {"libboth.so", shared + both + "-Xfatbin --compress=false" + two},
            {"libboth_zstd.so", shared + both + "-Xfatbin -compress-all" + two},
            {"libboth_size.so", shared + both + "--compress-mode=size" + two},
            {"libsm90a.so", shared +
                                "-gencode arch=compute_90a,code=[sm_90a,compute_90a] "
                                "-gencode arch=compute_80,code=[sm_80,compute_80]" +
                                two},
            {"libfamily.so", shared +
                                 "-gencode arch=compute_100f,code=sm_100f "
                                 "-gencode arch=compute_80,code=sm_80 "
                                 "-gencode arch=compute_90,code=compute_90" +
                                 two},
            {"librdc.so", shared + "-rdc=true " + both + two},
        };
        struct stat st {};
        std::string key = b.nvcc + k + k2 + main_cu;
        if (::stat(b.nvcc.c_str(), &st) == 0)
            key += std::to_string(st.st_size) + "/" + std::to_string(st.st_mtime);
        for (auto& [n, a] : builds) key += n + a;
        char name[64];
        std::snprintf(name, sizeof name, "gantry-tailor-nvcc-%u-%016zx",
                      static_cast<unsigned>(::getuid()), std::hash<std::string>{}(key));
        b.dir = stdfs::temp_directory_path() / name;
        ::mkdir(b.dir.c_str(), 0700);
        // Only a directory of ours that nobody else can write (it lives in a shared /tmp).
        if (::lstat(b.dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != ::getuid() ||
            (st.st_mode & 022)) {
            std::string tmpl = (stdfs::temp_directory_path() / "gantry-tailor-XXXXXX").string();
            if (!::mkdtemp(tmpl.data())) return b;
            b.dir = tmpl;
        }
        gantry::fs::write_atomic(b.dir / "k.cu", k);
        gantry::fs::write_atomic(b.dir / "k2.cu", k2);
        gantry::fs::write_atomic(b.dir / "main.cu", main_cu);
        const std::string tag = ".tmp-" + std::to_string(::getpid());
        const std::string cd = "cd '" + b.dir.string() + "' && ";
        std::vector<std::pair<std::string, std::future<int>>> jobs;
        for (auto& [n, a] : builds) {
            if (stdfs::exists(b.dir / n)) {
                b.built[n] = b.dir / n;
                continue;
            }
            std::string cmd = cd + "'" + b.nvcc + "' " + a + n + tag + " > " + n +
                              ".log 2>&1 && mv -f " + n + tag + " " + n;
            jobs.emplace_back(
                n, std::async(std::launch::async, [cmd] { return std::system(cmd.c_str()); }));
        }
        for (auto& [n, job] : jobs)
            if (job.get() == 0) b.built[n] = b.dir / n;
        // The program, linked against libboth_zstd.so with the shared CUDA runtime.
        if (!stdfs::exists(b.dir / "prog") && b.built.count("libboth_zstd.so")) {
            std::string cmd = cd + "'" + b.nvcc + "' " + kCudartShared + cuda_lib64(b.nvcc) +
                              " main.cu -L. -lboth_zstd -o prog" + tag +
                              " > prog.log 2>&1 && mv -f prog" + tag + " prog";
            std::system(cmd.c_str());
        }
        if (stdfs::exists(b.dir / "prog")) b.built["prog"] = b.dir / "prog";
        if (!stdfs::exists(b.dir / "shim.so")) {
            std::string cmd = cd + "cc -shared -fPIC -O1 -o shim.so" + tag + " '" +
                              GANTRY_TESTS_DIR +
                              "/unit/gpu_vendors/nvidia/cuda_register_shim.c' -ldl" +
                              " > shim.so.log 2>&1 && mv -f shim.so" + tag + " shim.so";
            std::system(cmd.c_str());
        }
        if (stdfs::exists(b.dir / "shim.so")) b.built["shim.so"] = b.dir / "shim.so";
        return b;
    }();
    return builds_once;
}

} // namespace tailor_test
