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

} // namespace gantry::gpu_vendors::nvidia
