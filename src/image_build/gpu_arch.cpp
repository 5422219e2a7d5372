#include "image_build/gpu_arch.hpp"

#include "tailor/tailor.hpp"
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
    std::string named;
    for (const device_code::Format* f : gpu_vendors::device_code_formats()) {
        const auto& targets = keep.targets(std::string(f->name()));
        if (targets.empty()) continue;
        env.merge(f->build_env(targets));
        for (const auto& t : targets) append_item(named, ',', t);
    }
    env["GANTRY_GPU_ARCH"] = named;
    return env;
}

} // namespace gantry::image_build
