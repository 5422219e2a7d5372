// The GPU user space a Dockerfile installs itself, as opposed to the one its base image brings:
// CUDA from the versioned packages of NVIDIA's CUDA repository (cuda-toolkit-12-1,
// cuda-runtime-12-1, cuda-12-1, cuda-cudart-12-1=12.1.105-1), ROCm from AMD's repositories (an
// amdgpu-install package or repository line of repo.radeon.com whose path names the release:
// amdgpu-install/6.1/..., rocm/apt/6.1, rocm/rhel9/6.1) or from ROCm's versioned packages
// (rocm-hip-sdk6.1.2), with the ARG and ENV values in effect. GL008 compares a framework wheel's
// build with it before the base image's (rules_gpu.cpp).
#pragma once

#include "lint/model.hpp"

#include <cstddef>
#include <optional>
#include <string>
#include <utility>

namespace gantry::lint {

struct InstalledStack {
    enum Kind { cuda, rocm } kind = cuda;
    std::pair<int, int> version{0, 0};
    std::string evidence; // the package or URL that says so, as expanded
    int line = 0;         // the RUN instruction's first line
};

// What one command installs or configures, or nullopt: `apt-get install cuda-toolkit-12-1`,
// `wget
// https://repo.radeon.com/amdgpu-install/6.1/ubuntu/jammy/amdgpu-install_6.1.60100-1_all.deb`,
// `echo "deb [...] https://repo.radeon.com/rocm/apt/6.1 jammy main"`. ENV holds the values
// in effect.
std::optional<InstalledStack> installed_by(const Command& c, const Env& env);

// The last stack installed by a RUN of STAGE before the instruction at BEFORE (a position in
// Dockerfile::instructions), or of the stages it is built FROM; nullopt when the Dockerfile
// installs none there.
std::optional<InstalledStack> installed_stack(const Build& b, int stage, std::size_t before);

} // namespace gantry::lint
