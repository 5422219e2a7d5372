// The doctor's image rules as `doctor IMAGE` and `run`'s pre-launch check use them: facts read
// from the store in one walk of the image's merged view (config env, version.json, the glibc,
// CUDA forward-compat libraries, every ELF file's fat binaries), checked against the host's
// driver and the selected GPUs. `run` caches them (gpu_vendors/nvidia/gpu_facts.hpp).
#pragma once

#include "gpu_vendors/nvidia/doctor_rules.hpp"
#include "gpu_vendors/nvidia/host.hpp"
#include "gpu_vendors/nvidia/request.hpp"
#include "store/images.hpp"

#include <string>
#include <vector>

namespace gantry::gpu_vendors::nvidia {

std::vector<findings::Finding>
image_findings(const store::Store& store, const store::Image& img, const std::string& ref,
               const std::vector<std::string>& env, const gpu_vendors::nvidia::Host& host,
               const gpu_vendors::nvidia::GpuRequest& req,
               const gpu_vendors::nvidia::Selection& sel, const std::string& path_prefix = {});

} // namespace gantry::gpu_vendors::nvidia
