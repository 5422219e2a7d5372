// Forward compatibility (cuda-compat): an image's cuda-compat libcuda is used on data-center
// GPUs, so a CUDA the host driver is too old for still runs when the compat driver serves it.
// This file reads what a compat libcuda says it serves (its ELF note), and turns doctor's
// verdicts about a too-old driver into warnings when the compat library covers them.
#pragma once

#include "findings/finding.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gantry::gpu_vendors::nvidia {

// The JSON description of a cuda-compat libcuda's `.note.cuda.fwd_compatibility` section (owner
// "NVIDIA Corporation"), e.g. {"Format":1,"CUDA Version":"13.1","Driver":[535,...],...}; nullopt
// when the file has none. Bounds-checked; throws Error for an unreadable file.
std::optional<std::string> cuda_fwd_compat_note(const std::string& path);
// The same for an ELF file already in memory (any bytes: nullopt when they are not ELF64).
std::optional<std::string> cuda_fwd_compat_note_bytes(std::string_view elf);

// Turns CUDA-DRIVER-TOO-OLD / TORCH-CUDA-TOO-NEW findings whose CUDA version (Finding::cuda) the
// compat library serves into CUDA-/TORCH-FORWARD-COMPAT warnings naming compat_path. What it
// serves: the "CUDA Version" of its ELF note (note: that JSON text, may be empty), else the
// newest CUDA of its driver branch (compat_version, e.g. "580.65.06").
void apply_forward_compat(std::vector<findings::Finding>& out, const std::string& compat_path,
                          const std::string& compat_version, const std::string& note);

// Whether the image's forward-compat libraries should be used on this host (reference
// nvidia-driver.md §7.7, NCT's enable-cuda-compat): with the ELF note, when the host driver's
// branch is listed and the compat CUDA version is newer than the host's; without it, when the
// compat driver's major is newer than the host driver's. Never mounted: a run lists their
// directory first in the container's linker cache (CVE-2024-0132 / CVE-2025-23359).
bool compat_applies(const std::string& compat_driver_version,
                    const std::string& host_driver_version, const std::string& note_json = {},
                    int host_cuda_version = 0);

} // namespace gantry::gpu_vendors::nvidia
