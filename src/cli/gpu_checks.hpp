// The doctor's image rules as `doctor IMAGE` and `run`'s pre-launch check use them: facts read
// from the store (config env, version.json, every ELF file's fat binaries), results cached per
// image, host driver, selected GPUs and environment so a repeated launch pays nothing.
#pragma once

#include "compat/doctor.hpp"
#include "gpu/host.hpp"
#include "gpu/request.hpp"
#include "store/images.hpp"

#include <string>
#include <vector>

namespace gantry::cli {

std::vector<compat::Finding>
image_findings(const store::Store& store, const store::Image& img, const std::string& ref,
               const std::vector<std::string>& env, const gpu::Host& host, const gpu::Request& req,
               const gpu::Selection& sel, const std::string& path_prefix = {});

// The same, cached in cache_dir ("" disables the cache).
std::vector<compat::Finding> image_findings_cached(const store::Store& store,
                                                   const store::Image& img, const std::string& ref,
                                                   const std::vector<std::string>& env,
                                                   const gpu::Host& host, const gpu::Request& req,
                                                   const gpu::Selection& sel,
                                                   const std::string& cache_dir);

} // namespace gantry::cli
