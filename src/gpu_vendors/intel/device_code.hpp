// intel/device_code: SYCL/OpenMP offload binaries as a device-code format (device_code/format.hpp,
// issue 55's device-code facet), over the reader of offload.hpp: the --keep-arch grammar of
// Intel's AOT device names (pvc, acm-g10, acm-g11, acm-g12; ocloc's and -fsycl-targets'
// spellings accepted), the bytes per target analyze counts ("spirv" for SPIR-V), and doctor
// --fatbin's listing. tailor rewrites a linked program's SYCL descriptors to the images the kept
// devices run (linked.hpp) and keeps object files' device code whole, saying so; no build
// variables (DPC++ takes its targets on the command line, -fsycl-targets).
#pragma once

#include "device_code/format.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace gantry::gpu_vendors::intel {

const device_code::Format& intel_format();

// An item of --keep-arch as Intel's format reads it: the canonical device name, or nullopt.
std::optional<std::string> parse_intel_target(const std::string& item);

// Bytes of Intel GPU device images per target in ELF ("pvc", "spirv"); empty when it has none
// or its offload data is damaged.
std::map<std::string, std::uint64_t> intel_target_bytes(std::string_view elf,
                                                        const std::string& path);

} // namespace gantry::gpu_vendors::intel
