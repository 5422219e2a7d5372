#include "image_build/gpu_arch.hpp"

#include "tailor/cuda.hpp"
#include "util/error.hpp"

namespace gantry::image_build {

namespace {
// ITEM appended to LIST after SEP. Not `(list.empty() ? "" : ";") + item`: GCC 12 at -O3
// (CMake's Release) warns -Wrestrict on that operator+ (a false positive in libstdc++'s
// insert), an error under GANTRY_WERROR.
void append_item(std::string& list, char sep, const std::string& item) {
    if (!list.empty()) list += sep;
    list += item;
}
} // namespace

std::map<std::string, std::string> gpu_arch_env(const std::string& value,
                                                const gpu_vendors::Roots& roots) {
    if (value.empty())
        throw Error(Errc::usage, "--gpu-arch needs host or a list",
                    "for example --gpu-arch host, --gpu-arch sm_90 or --gpu-arch gfx90a,gfx942");
    std::string list;
    try {
        list = gpu_vendors::keep_arch_list(value, roots);
    } catch (const Error& e) {
        throw Error(e.code(), "--gpu-arch " + value + ": " + e.message(), e.hint());
    }
    tailor::KeepSet keep;
    try {
        keep = tailor::parse_keep_list(list);
    } catch (const Error& e) {
        throw Error(e.code(), "--gpu-arch: " + e.message(), e.hint());
    }
    std::map<std::string, std::string> env;
    std::string torch, cmake, rocm, named;
    for (const auto& t : keep.targets("cuda")) {
        unsigned sm = tailor::sm_number(t);
        std::string dotted = std::to_string(sm / 10);
        dotted += '.';
        dotted += std::to_string(sm % 10);
        append_item(torch, ';', dotted);
        append_item(cmake, ';', std::to_string(sm));
        append_item(named, ',', t);
    }
    for (const auto& t : keep.targets("hip")) {
        append_item(rocm, ';', t);
        append_item(named, ',', t);
    }
    if (!torch.empty()) {
        env["TORCH_CUDA_ARCH_LIST"] = torch;
        env["CMAKE_CUDA_ARCHITECTURES"] = cmake;
        env["CUDAARCHS"] = cmake;
    }
    if (!rocm.empty()) {
        env["PYTORCH_ROCM_ARCH"] = rocm;
        env["GPU_TARGETS"] = rocm;
        env["AMDGPU_TARGETS"] = rocm;
    }
    env["GANTRY_GPU_ARCH"] = named;
    return env;
}

} // namespace gantry::image_build
