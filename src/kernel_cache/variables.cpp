#include "kernel_cache/variables.hpp"

#include <algorithm>
#include <optional>

namespace gantry::kernel_cache {

namespace {

std::optional<std::string> value_of(const std::vector<std::string>& env, std::string_view key) {
    std::optional<std::string> v;
    for (const auto& e : env)
        if (e.size() > key.size() && e.compare(0, key.size(), key) == 0 && e[key.size()] == '=')
            v = e.substr(key.size() + 1);
        else if (e == key)
            v = std::string();
    return v;
}

// A variable that turns a cache off, and the values that do.
struct Disabler {
    std::string_view name;
    std::vector<std::string_view> values; // empty: any value
    std::string_view cache;
    std::string_view on; // the -e that turns it on again
};

const std::vector<Disabler>& disablers() {
    static const std::vector<Disabler> d = {
        {"CUDA_CACHE_DISABLE",
         {"1"},
         "the NVIDIA driver's PTX JIT cache (ComputeCache)",
         "CUDA_CACHE_DISABLE=0"},
        {"MIOPEN_DISABLE_CACHE",
         {"1", "true", "TRUE", "on", "ON", "yes"},
         "MIOpen's kernel cache",
         "MIOPEN_DISABLE_CACHE=0"},
        {"AMD_COMGR_CACHE", {"0"}, "ROCm comgr's cache", "AMD_COMGR_CACHE=1"},
        {"VLLM_DISABLE_COMPILE_CACHE",
         {"1", "true", "True"},
         "vLLM's torch.compile cache",
         "VLLM_DISABLE_COMPILE_CACHE=0"},
        {"TORCHINDUCTOR_FX_GRAPH_CACHE",
         {"0"},
         "TorchInductor's FX graph cache",
         "TORCHINDUCTOR_FX_GRAPH_CACHE=1"},
        {"NEO_CACHE_PERSISTENT", {"0"}, "Intel's compute runtime cache", "NEO_CACHE_PERSISTENT=1"},
        // ccache's boolean variables are true whenever set, whatever the value (ccache(1))
        {"CCACHE_DISABLE", {}, "ccache", "CCACHE_NODISABLE=1"},
    };
    return d;
}

} // namespace

const std::vector<Variable>& variables() {
    static const std::vector<Variable> v = {
        {"CUDA_CACHE_PATH", "nv/ComputeCache", true, false, "the NVIDIA driver's PTX JIT cache"},
        // 4 GiB: the largest the driver takes (docs/kernel-caches.md)
        {"CUDA_CACHE_MAXSIZE", "4294967296", false, false, "the NVIDIA driver's PTX JIT cache"},
        {"TRITON_CACHE_DIR", "triton", true, false, "Triton"},
        {"TORCHINDUCTOR_CACHE_DIR", "torchinductor", true, false, "TorchInductor"},
        {"VLLM_CACHE_ROOT", "vllm", true, false, "vLLM"},
        {"JAX_COMPILATION_CACHE_DIR", "jax", true, false, "JAX's persistent compilation cache"},
        {"MIOPEN_USER_DB_PATH", "miopen/db", true, false, "MIOpen's user performance database"},
        {"MIOPEN_CUSTOM_CACHE_DIR", "miopen/cache", true, false, "MIOpen's kernel cache"},
        {"AMD_COMGR_CACHE_DIR", "comgr", true, false, "ROCm comgr's cache (hipRTC)"},
        {"NEO_CACHE_PERSISTENT", "1", false, false, "Intel's compute runtime cache"},
        {"NEO_CACHE_DIR", "neo", true, false, "Intel's compute runtime cache"},
        {"PYTORCH_TUNABLEOP_FILENAME", "tunableop/tunableop_results.csv", true, true,
         "PyTorch TunableOp's results"},
        {"CCACHE_DIR", "ccache", true, false, "ccache (compilers run in the container)"},
    };
    return v;
}

std::vector<std::string> pointed_env(const std::vector<std::string>& env) {
    std::vector<std::string> out;
    for (const auto& v : variables()) {
        if (value_of(env, v.name)) continue; // the image's or -e's: it wins
        std::string value =
            v.path ? std::string(kMountPath) + "/" + std::string(v.value) : std::string(v.value);
        out.push_back(std::string(v.name) + "=" + value);
    }
    return out;
}

std::vector<std::string> directories() {
    std::vector<std::string> out;
    for (const auto& v : variables()) {
        if (!v.path) continue;
        std::string d(v.value);
        if (v.file) d = d.substr(0, d.rfind('/'));
        if (std::find(out.begin(), out.end(), d) == out.end()) out.push_back(d);
    }
    return out;
}

std::vector<findings::Finding> disabled_caches(const std::vector<std::string>& env) {
    std::vector<findings::Finding> out;
    for (const auto& d : disablers()) {
        auto v = value_of(env, d.name);
        if (!v) continue;
        bool off =
            d.values.empty() || std::find(d.values.begin(), d.values.end(), *v) != d.values.end();
        if (!off) continue;
        out.push_back({"KERNEL-CACHE-DISABLED", findings::Severity::warn,
                       std::string(d.name) + "=" + *v + " turns off " + std::string(d.cache) +
                           ": every start compiles its kernels again, with or without "
                           "--kernel-cache",
                       "run with -e " + std::string(d.on) +
                           ", or rebuild the image without it (docs/kernel-caches.md)"});
    }
    return out;
}

} // namespace gantry::kernel_cache
