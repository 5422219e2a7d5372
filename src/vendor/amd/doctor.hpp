// The doctor's ROCm rules (stable IDs, docs/doctor.md): the host's amdgpu driver, /dev/kfd and
// render nodes and each GPU's gfx target; an image's ROCm user space (its version, PyTorch ROCm
// builds, PYTORCH_ROCM_ARCH, HSA_OVERRIDE_GFX_VERSION) and HIP code objects (every ELF's
// .hip_fatbin offload bundle, compat/hip_fatbin.hpp) against the selected GPUs; a CUDA image on an
// AMD host. Facts in, findings out; nothing from the image is executed.
#pragma once

#include "compat/doctor.hpp"
#include "gpu/amd/topology.hpp"
#include "store/images.hpp"
#include "vendor/backend.hpp"

#include <string>
#include <vector>

namespace gantry::vendor::amd {

// Host rules: the amdgpu driver and its version, /dev/kfd and render nodes present and openable
// by CALLER (the group named), each GPU's gfx target.
std::vector<compat::Finding> host_findings(const gpu::amd::Host& host, const CallerIds& caller);

// Image rules for the GPUs a container would get (SELECTED, a subset of host.gpus). ENV is the
// container's environment; PATH_PREFIX limits the code object scan (doctor --path).
std::vector<compat::Finding> image_findings(const store::Store& store, const store::Image& image,
                                            const std::string& ref,
                                            const std::vector<std::string>& env,
                                            const gpu::amd::Host& host,
                                            const std::vector<const gpu::amd::Gpu*>& selected,
                                            const std::string& path_prefix = {});

// image_findings, cached in CACHE_DIR per image, driver, selected GPUs and environment ("":
// not cached), so a repeated `run` reads nothing of the image.
std::vector<compat::Finding>
image_findings_cached(const store::Store& store, const store::Image& image, const std::string& ref,
                      const std::vector<std::string>& env, const gpu::amd::Host& host,
                      const std::vector<const gpu::amd::Gpu*>& selected,
                      const std::string& cache_dir);

} // namespace gantry::vendor::amd
