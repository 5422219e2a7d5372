// kernel_cache/variables: where a container finds its kernel cache, and the variables that point
// each JIT, compiler and autotuner there. The cache is mounted at one fixed path in every
// container (kMountPath: caches whose keys hash their own directory, as vLLM's does, hit only when
// it never moves); each variable below is set to a place under it unless the container's
// environment (the image's Env, then -e) already sets it: the image and the user win. The table
// and its sources are docs/kernel-caches.md's.
#pragma once

#include "findings/finding.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace gantry::kernel_cache {

// Where the cache is mounted inside the container.
inline constexpr const char* kMountPath = "/var/cache/gantry/kernels";

struct Variable {
    std::string_view name;  // "CUDA_CACHE_PATH"
    std::string_view value; // a path under kMountPath ("nv/ComputeCache"), or a fixed value
    bool path = true;       // VALUE is a path under kMountPath, made as a directory (its parent
                            // when FILE)
    bool file = false;      // the path names a file (TunableOp's results)
    std::string_view cache; // what reads it: "NVIDIA driver's PTX JIT cache"
};

// Every variable gantry points, in the order docs/kernel-caches.md lists them.
const std::vector<Variable>& variables();

// The "NAME=VALUE" entries to add to ENV (a container's final environment): one per variable
// ENV does not set.
std::vector<std::string> pointed_env(const std::vector<std::string>& env);

// The directories under the cache's root that pointed variables name ("nv/ComputeCache",
// "tunableop"): made in every new cache, writable by any user of the container.
std::vector<std::string> directories();

// `gantry doctor`'s findings for ENV (an image's Env, then -e): a warning for each variable that
// turns one of these caches off (CUDA_CACHE_DISABLE=1, ...), naming it and the fix.
std::vector<findings::Finding> disabled_caches(const std::vector<std::string>& env);

} // namespace gantry::kernel_cache
