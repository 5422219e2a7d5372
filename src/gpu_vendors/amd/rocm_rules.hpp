// gpu_vendors/amd/rocm_rules: gantry doctor's ROCm image rules as pure functions (docs/doctor.md
// has every ID). What an image holds (RocmImageFacts: its ROCm releases, PyTorch build, CUDA
// evidence, the HIP code objects of its ELF files, the environment's HSA_OVERRIDE_GFX_VERSION,
// HSA_XNACK and PYTORCH_ROCM_ARCH) and what the host offers (RocmHostFacts: the amdgpu version and
// the selected GPUs' targets) in, findings out. The facts are gathered by
// gpu_vendors/amd/doctor.cpp in one walk of the image (add_rocm_file_facts per file); nothing from
// the image is executed.
#pragma once

#include "findings/finding.hpp"
#include "gpu_vendors/amd/rocm.hpp"
#include "image_facts/image_facts.hpp"

#include <string>
#include <vector>

namespace gantry::gpu_vendors::amd {

// The HIP code objects one image file carries.
struct HipCodeFile {
    std::string path;                   // "/usr/lib/libk.so"
    std::vector<amd::TargetId> targets; // each device code object's target, in order
    std::vector<std::string> texts;     // the same as written ("gfx90a:xnack-")
    std::string error;                  // the bundle could not be read (then targets is empty)
    bool program = false;               // an executable (ET_EXEC, or PIE with an interpreter)
};

struct RocmImageFacts {
    std::vector<image_facts::Evidence> rocm; // ROCm releases ("6.1") and where, system ROCm first
    bool torch = false;                      // a torch/version.py was found
    std::string torch_path, torch_version, torch_hip, torch_cuda;
    std::vector<std::string> torch_rocm_libs; // ROCm libraries bundled in torch/lib
    std::vector<image_facts::Evidence> cuda;  // CUDA evidence (env, version.json, libcudart)
    std::vector<HipCodeFile> hip;             // files with a .hip_fatbin
    std::size_t elf_files = 0;                // files the code object scan looked at
    // From the container's environment:
    std::optional<std::string> hsa_override;      // HSA_OVERRIDE_GFX_VERSION
    std::optional<std::string> pytorch_rocm_arch; // PYTORCH_ROCM_ARCH
    bool xnack_on = false;                        // HSA_XNACK=1

    bool is_rocm() const { return !rocm.empty() || !torch_hip.empty() || !hip.empty(); }
};

// Whether the walk should read FILE's contents for add_rocm_file_facts (small text files).
bool rocm_wants_contents(const std::string& path);
// Adds what one image file (PATH relative to the image root, TEXT its contents when
// rocm_wants_contents said so) tells about ROCm, PyTorch and CUDA.
void add_rocm_file_facts(RocmImageFacts& img, const std::string& path, const std::string& text);
// Adds the environment's facts (the container's final env, "K=V").
void add_rocm_env_facts(RocmImageFacts& img, const std::vector<std::string>& env);

// A GPU the container would get, as the rules see it.
struct RocmGpu {
    int index = 0;
    std::string name;     // "AMD Instinct MI300X" or the KFD name
    amd::TargetId target; // the GPU's processor and features (any = unknown)
};

struct RocmHostFacts {
    std::string driver_version; // /sys/module/amdgpu/version; "" for an in-tree driver
    bool nvidia_driver = false; // the host also has NVIDIA's kernel driver
    std::vector<RocmGpu> gpus;  // the selected GPUs
};

// The device target the HIP runtime would see for GPU G in an environment: xnack from HSA_XNACK
// on targets with the feature (off by default, as rocminfo shows).
amd::TargetId runtime_target(const RocmGpu& g, const RocmImageFacts& img);

// Every ROCm image rule: ROCM-KMD-*, HIP-*, HSA-OVERRIDE-*, ROCM-ARCH-LIST, ROCM-TORCH-*,
// AMD-CUDA-IMAGE.
std::vector<findings::Finding> check_rocm_image(const RocmHostFacts& host,
                                                const RocmImageFacts& img);

// The pieces, for tests.
std::vector<findings::Finding> check_kmd_compat(const RocmHostFacts& host,
                                                const RocmImageFacts& img);
std::vector<findings::Finding> check_hip_code(const RocmHostFacts& host, const RocmImageFacts& img);
std::vector<findings::Finding> check_torch_rocm(const RocmHostFacts& host,
                                                const RocmImageFacts& img);

} // namespace gantry::gpu_vendors::amd
