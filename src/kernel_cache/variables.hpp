// kernel_cache/variables: where a container finds its kernel cache, and the variables that point
// each JIT, compiler and autotuner there. The cache is mounted at one fixed path in every
// container (kMountPath: caches whose keys hash their own directory, as vLLM's does, hit only when
// it never moves); each variable is set to a place under it unless the container's environment
// (the image's Env, then -e) already sets it: the image and the user win. The vendor-neutral
// variables are here; each GPU vendor's are its own (gpu_vendors::Backend::kernel_cache_variables,
// all of them with these in gpu_vendors::kernel_cache_variables()). docs/kernel-caches.md lists
// them with their sources.
#pragma once

#include "findings/finding.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace gantry::kernel_cache {

// Where the cache is mounted inside the container.
inline constexpr const char* kMountPath = "/var/cache/gantry/kernels";

struct Variable {
    std::string_view name;  // "TRITON_CACHE_DIR"
    std::string_view value; // a path under kMountPath ("triton"), or a fixed value
    bool path = true;       // VALUE is a path under kMountPath, made as a directory (its parent
                            // when FILE)
    bool file = false;      // the path names a file (TunableOp's results)
    std::string_view cache; // what reads it: "Triton"
};

// A variable that turns a cache off, and the values that do (none: any value does).
struct Disabler {
    std::string_view name;
    std::vector<std::string_view> values;
    std::string_view cache;
    std::string_view on; // the -e that turns it on again
};

// The variables and disablers that name no GPU vendor: Triton, TorchInductor, vLLM, JAX,
// PyTorch TunableOp, ccache.
const std::vector<Variable>& neutral_variables();
const std::vector<Disabler>& neutral_disablers();

// The "NAME=VALUE" entries to add to ENV (a container's final environment): one per variable of
// VARIABLES that ENV does not set.
std::vector<std::string> pointed_env(const std::vector<std::string>& env,
                                     const std::vector<Variable>& variables);

// The directories under the cache's root that VARIABLES name ("nv/ComputeCache", "tunableop"):
// made in every new cache, writable by any user of the container.
std::vector<std::string> directories(const std::vector<Variable>& variables);

// `gantry doctor`'s findings for ENV (an image's Env, then -e): a warning for each of DISABLERS
// that turns its cache off (CUDA_CACHE_DISABLE=1, ...), naming it and the fix.
std::vector<findings::Finding> disabled_caches(const std::vector<std::string>& env,
                                               const std::vector<Disabler>& disablers);

} // namespace gantry::kernel_cache
