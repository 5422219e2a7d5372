// The doctor's image rules as `doctor IMAGE` and `run`'s pre-launch check use them: facts read
// from the store in one walk of the image's merged view (config env, version.json, the glibc,
// CUDA forward-compat libraries, every ELF file's fat binaries), checked against the host's
// driver and the selected GPUs. `run` caches them (vendor/nvidia/gpu_facts.hpp).
#pragma once

#include "store/images.hpp"
#include "vendor/nvidia/doctor_rules.hpp"
#include "vendor/nvidia/host.hpp"
#include "vendor/nvidia/request.hpp"

#include <string>
#include <vector>

namespace gantry::vendor::nvidia {

std::vector<compat::Finding>
image_findings(const store::Store& store, const store::Image& img, const std::string& ref,
               const std::vector<std::string>& env, const gpu::Host& host, const gpu::Request& req,
               const gpu::Selection& sel, const std::string& path_prefix = {});

} // namespace gantry::vendor::nvidia
