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

} // namespace

const std::vector<Variable>& neutral_variables() {
    static const std::vector<Variable> v = {
        {"TRITON_CACHE_DIR", "triton", true, false, "Triton"},
        {"TORCHINDUCTOR_CACHE_DIR", "torchinductor", true, false, "TorchInductor"},
        {"VLLM_CACHE_ROOT", "vllm", true, false, "vLLM"},
        {"JAX_COMPILATION_CACHE_DIR", "jax", true, false, "JAX's persistent compilation cache"},
        {"PYTORCH_TUNABLEOP_FILENAME", "tunableop/tunableop_results.csv", true, true,
         "PyTorch TunableOp's results"},
        {"CCACHE_DIR", "ccache", true, false, "ccache (compilers run in the container)"},
    };
    return v;
}

const std::vector<Disabler>& neutral_disablers() {
    static const std::vector<Disabler> d = {
        {"VLLM_DISABLE_COMPILE_CACHE",
         {"1", "true", "True"},
         "vLLM's torch.compile cache",
         "VLLM_DISABLE_COMPILE_CACHE=0"},
        {"TORCHINDUCTOR_FX_GRAPH_CACHE",
         {"0"},
         "TorchInductor's FX graph cache",
         "TORCHINDUCTOR_FX_GRAPH_CACHE=1"},
        // ccache's boolean variables are true whenever set, whatever the value (ccache(1))
        {"CCACHE_DISABLE", {}, "ccache", "CCACHE_NODISABLE=1"},
    };
    return d;
}

std::vector<std::string> pointed_env(const std::vector<std::string>& env,
                                     const std::vector<Variable>& variables) {
    std::vector<std::string> out;
    for (const auto& v : variables) {
        if (value_of(env, v.name)) continue; // the image's or -e's: it wins
        std::string value =
            v.path ? std::string(kMountPath) + "/" + std::string(v.value) : std::string(v.value);
        out.push_back(std::string(v.name) + "=" + value);
    }
    return out;
}

std::vector<std::string> directories(const std::vector<Variable>& variables) {
    std::vector<std::string> out;
    for (const auto& v : variables) {
        if (!v.path) continue;
        std::string d(v.value);
        if (v.file) d = d.substr(0, d.rfind('/'));
        if (std::find(out.begin(), out.end(), d) == out.end()) out.push_back(d);
    }
    return out;
}

std::vector<findings::Finding> disabled_caches(const std::vector<std::string>& env,
                                               const std::vector<Disabler>& disablers) {
    std::vector<findings::Finding> out;
    for (const auto& d : disablers) {
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
