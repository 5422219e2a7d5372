// The doctor's Intel rules (stable IDs, docs/intel.md): the host's i915/xe GPUs, their render
// nodes and whether the caller can open them, and the compute user space under the driver root;
// an image's SYCL/OpenMP offload binaries (offload.hpp) against the GPUs a run would get: AOT
// code only for another device fails before launch, SPIR-V gets a JIT note. Nothing from the
// image is executed.
#pragma once

#include "findings/finding.hpp"
#include "gpu_vendors/backend.hpp"
#include "gpu_vendors/intel/topology.hpp"
#include "gpu_vendors/intel/userspace.hpp"
#include "store/images.hpp"

#include <string>
#include <vector>

namespace gantry::gpu_vendors::intel {

std::vector<findings::Finding> host_findings(const Host& host, const UserSpace& user,
                                             const CallerIds& caller);

// The image's ELF files under PATH_PREFIX with Intel GPU code, judged for each of SELECTED.
std::vector<findings::Finding> image_findings(const store::Store& store, const store::Image& image,
                                              const std::vector<const Gpu*>& selected,
                                              const std::string& path_prefix = {});

// image_findings for a run, cached in CACHE_DIR ("": not cached) per image (manifest digest)
// and the selected GPUs' AOT names, so a repeated launch reads nothing of the image. Entries are
// "intel-doctor-<sha256>.json", written atomically; a damaged one is found afresh.
std::vector<findings::Finding> image_findings_cached(const store::Store& store,
                                                     const store::Image& image,
                                                     const std::vector<const Gpu*>& selected,
                                                     const std::string& cache_dir);

// "GPU 0 (card1, pvc)"
std::string gpu_label(const Gpu& g);

} // namespace gantry::gpu_vendors::intel
