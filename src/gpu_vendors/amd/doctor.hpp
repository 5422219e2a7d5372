// The doctor's ROCm rules (stable IDs, docs/doctor.md): the host's amdgpu driver, /dev/kfd and
// render nodes and each GPU's gfx target; an image's ROCm user space (its version, PyTorch ROCm
// builds, PYTORCH_ROCM_ARCH, HSA_OVERRIDE_GFX_VERSION) and HIP code objects (every ELF's
// .hip_fatbin offload bundle, compat/hip_fatbin.hpp) against the selected GPUs; a CUDA image on an
// AMD host. The image's facts are read from the store in one walk of its merged view
// (doctor_image.cpp) and judged by gpu_vendors/amd/rocm_rules.hpp; nothing from the image is
// executed.
#pragma once

#include "findings/finding.hpp"
#include "gpu_vendors/amd/rocm_rules.hpp"
#include "gpu_vendors/amd/topology.hpp"
#include "gpu_vendors/backend.hpp"
#include "store/images.hpp"

#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace gantry::gpu_vendors::amd {

// Host rules: the amdgpu driver and its version, /dev/kfd and render nodes present and openable
// by CALLER (the group named), each GPU's gfx target.
std::vector<findings::Finding> host_findings(const gpu_vendors::amd::Host& host,
                                             const CallerIds& caller);
// The same with the caller's supplementary groups given (the overload above reads them with
// getgroups() when CALLER is this process's user, else assumes none).
std::vector<findings::Finding> host_findings(const gpu_vendors::amd::Host& host,
                                             const CallerIds& caller,
                                             const std::vector<gid_t>& groups);

// Image rules for the GPUs a container would get (SELECTED, a subset of host.gpus). ENV is the
// container's environment; PATH_PREFIX limits the code object scan (doctor --path).
std::vector<findings::Finding>
image_findings(const store::Store& store, const store::Image& image, const std::string& ref,
               const std::vector<std::string>& env, const gpu_vendors::amd::Host& host,
               const std::vector<const gpu_vendors::amd::Gpu*>& selected,
               const std::string& path_prefix = {});

// image_findings, cached in CACHE_DIR per image, driver, selected GPUs and environment ("":
// not cached), so a repeated `run` reads nothing of the image.
std::vector<findings::Finding>
image_findings_cached(const store::Store& store, const store::Image& image, const std::string& ref,
                      const std::vector<std::string>& env, const gpu_vendors::amd::Host& host,
                      const std::vector<const gpu_vendors::amd::Gpu*>& selected,
                      const std::string& cache_dir);

// ---- pieces (doctor_image.cpp), also for tests and the bench ----

// The image's ROCm facts: one walk of its merged view; the HIP code object scan covers ELF
// executables and shared libraries under PATH_PREFIX.
gpu_vendors::amd::RocmImageFacts gather_image_facts(const store::Store& store,
                                                    const store::Image& image,
                                                    const std::vector<std::string>& env,
                                                    const std::string& path_prefix = {});

// The HIP code objects of one file (nullopt: not an ELF executable or shared library, or no
// .hip_fatbin). PATH names it in messages.
std::optional<gpu_vendors::amd::HipCodeFile> scan_hip_file(const std::string& host_path,
                                                           const std::string& path);

// The rules' view of the host and the selected GPUs.
gpu_vendors::amd::RocmHostFacts
host_facts(const gpu_vendors::amd::Host& host,
           const std::vector<const gpu_vendors::amd::Gpu*>& selected);

// For `gantry doctor` with another vendor chosen (Backend::image_without_host): ROCM-IMAGE-NO-AMD
// when the image carries ROCm (/opt/rocm, /opt/rocm-X.Y.Z) and this host has no KFD topology under
// SYS_ROOT. Two directory lookups; never called on run's path.
std::optional<findings::Finding> rocm_image_without_amd(const store::Store& store,
                                                        const store::Image& image,
                                                        const std::string& sys_root);

} // namespace gantry::gpu_vendors::amd
