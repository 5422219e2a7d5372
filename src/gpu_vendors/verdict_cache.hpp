// gpu_vendors/verdict_cache: a vendor doctor's image verdict kept per boot, so that every run of
// the same image on the same GPUs does not scan its files again. An entry is a JSON file
// CACHE_DIR/PREFIX-<sha256 of KEY>.json holding the findings (id, severity as a number of the
// scale, message, fix); a missing or damaged entry is found afresh, an unwritable cache only
// costs the next run a scan. What AMD's and Intel's doctors share (NVIDIA's facts file caches
// more than findings: gpu_vendors/nvidia/gpu_facts.hpp).
#pragma once

#include "findings/finding.hpp"

#include <functional>
#include <string>
#include <vector>

namespace gantry::gpu_vendors {

// The findings cached under KEY (everything they depend on: the image's manifest digest, the
// driver, the selected GPUs, the environment), or FIND()'s, then stored. Without CACHE_DIR,
// FIND()'s.
std::vector<findings::Finding>
cached_verdict(const std::string& cache_dir, const std::string& prefix, const std::string& key,
               const std::function<std::vector<findings::Finding>()>& find);

} // namespace gantry::gpu_vendors
