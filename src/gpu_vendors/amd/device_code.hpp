// amd/device_code: HIP offload bundles as a device-code format (device_code/format.hpp): the
// --keep-arch grammar of AMD target IDs and the rewrite (tailor_hip.hpp), the reader's bytes per
// target and doctor --fatbin's listing (hip_fatbin.hpp, hip_report.hpp), and the variables ROCm
// toolchains read for build --gpu-arch (PYTORCH_ROCM_ARCH, GPU_TARGETS, AMDGPU_TARGETS).
#pragma once

#include "device_code/format.hpp"

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace gantry::gpu_vendors::amd {

const device_code::Format& hip_format();

// Bytes of HIP code objects per target ID in an ELF file's .hip_fatbin ("gfx90a:xnack-"); a
// compressed bundle's size is shared among its code objects in proportion to their inflated
// sizes. Empty when there is no .hip_fatbin section or the bundle is damaged.
std::map<std::string, std::uint64_t> hip_target_bytes(std::string_view elf,
                                                      const std::string& name);

} // namespace gantry::gpu_vendors::amd
