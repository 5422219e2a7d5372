// What a GPU run needs to know of its image, found once per image, host driver, selected GPUs
// and environment and cached in the runtime directory, so a repeated launch reads nothing of the
// image: the doctor's findings (gpu_vendors/nvidia/image_checks.hpp) and the image's GPU layout
// (where its libraries live, its CUDA forward-compat libcuda, what its linker cache lists).
#pragma once

#include "gpu_vendors/nvidia/cdi.hpp"
#include "gpu_vendors/nvidia/doctor_rules.hpp"
#include "gpu_vendors/nvidia/host.hpp"
#include "gpu_vendors/nvidia/request.hpp"
#include "rootfs/image_files.hpp"
#include "store/images.hpp"

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace gantry::gpu_vendors::nvidia {

struct ImageGpuFacts {
    std::vector<findings::Finding> findings;
    gantry::gpu_vendors::nvidia::ImageGpuLayout layout;
};

// The image's GPU layout, read from its files (the store's layers or a squashfs file).
gantry::gpu_vendors::nvidia::ImageGpuLayout image_gpu_layout(const rootfs::ImageFiles& files);

// Both, cached in CACHE_DIR ("" disables the cache); a missing or damaged entry is found again.
ImageGpuFacts image_gpu_facts_cached(const store::Store& store, const store::Image& img,
                                     const rootfs::ImageFiles& files, const std::string& ref,
                                     const std::vector<std::string>& env,
                                     const gpu_vendors::nvidia::Host& host,
                                     const gpu_vendors::nvidia::GpuRequest& req,
                                     const gpu_vendors::nvidia::Selection& sel,
                                     const std::string& cache_dir);

// The cache entry's JSON form, and back (Error or nlohmann's exceptions for a damaged one).
nlohmann::json to_json(const ImageGpuFacts& facts);
ImageGpuFacts gpu_facts_from_json(const nlohmann::json& j);

} // namespace gantry::gpu_vendors::nvidia
