// gpu_vendors/amd/rocm: the facts gantry doctor's ROCm rules reason with, as pure functions over
// untrusted text (reference rocm.md §2, §4, §5): ROCm release numbers as images carry them
// (/opt/rocm/.info/version, /opt/rocm-X.Y.Z, libamdhip64 / libhsa-runtime64 file names, PyTorch's
// `hip` string and `+rocmX.Y` wheel tags), AMD's kernel-driver ↔ user-space compatibility table
// kept as data with its source, HSA_OVERRIDE_GFX_VERSION values, GPU target lists
// (PYTORCH_ROCM_ARCH) and the generic targets a code object may be built for. No I/O.
#pragma once

#include "gpu_vendors/amd/hip_fatbin.hpp"

#include <compare>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gantry::gpu_vendors::amd {

// A ROCm release, major.minor (what AMD's compatibility table speaks of: "6.1.x").
struct RocmRelease {
    int major = 0, minor = 0;
    std::string str() const; // "6.1"
    auto operator<=>(const RocmRelease&) const = default;
};

// "6.1.2", "6.1.2-39" (/opt/rocm/.info/version), "6.4.43482-0f2d60242" (torch.version.hip),
// "6.1": the leading major.minor. nullopt unless it starts with two decimal components (each at
// most 3 digits) followed by nothing, '.', '-' or '+'.
std::optional<RocmRelease> parse_rocm_version(std::string_view text);

// "rocm-6.1.2" (a directory under /opt) -> 6.1; nullopt for anything else.
std::optional<RocmRelease> rocm_from_dir_name(std::string_view name);

// ROCm's release from a library file name: libamdhip64.so.6.1.40091 -> 6.1 (HIP's major.minor is
// ROCm's), libhsa-runtime64.so.1.13.60100 -> 6.1 (the last component is major*10000 +
// minor*100 + patch). nullopt for other names or unversioned ones (libamdhip64.so.6).
std::optional<RocmRelease> rocm_from_library_name(std::string_view name);

// A PyTorch version's ROCm tag: "2.4.0+rocm6.1" -> 6.1, "2.7.1+rocm6.3.4" -> 6.3.
std::optional<RocmRelease> rocm_from_torch_tag(std::string_view version);

// torch/version.py's `hip: Optional[str] = '6.1.40091-a8dbc0c19'` (or `hip = '...'`): the
// string, "" when it says None, nullopt when the file has no hip line.
std::optional<std::string> parse_torch_hip(std::string_view version_py);

// ---- AMD's kernel-mode driver (KMD) ↔ user space table, as data ----

// One row: a KMD release and the user-space (ROCm) releases AMD lists as supported with it.
struct KmdCompatRow {
    const char* kmd; // "6.2" (ROCm release the driver shipped with) or "30.10" (AMD GPU Driver)
    RocmRelease lo, hi;
};
// Where the rows come from (URLs and dates), for messages and docs/doctor.md.
extern const char* const kKmdCompatSource;
const std::vector<KmdCompatRow>& kmd_compat_table();

// The amdgpu version a DKMS build reports (/sys/module/amdgpu/version, "6.16.6") is the driver
// code base's, not a ROCm release; AMD publishes no full map (ROCm/rocm-install-on-linux#684).
// The entries gantry knows, each with its source.
struct DriverRelease {
    const char* driver; // "5.18": matches 5.18 and 5.18.x
    const char* kmd;    // the KMD release of kmd_compat_table(), or an AMD GPU Driver release
    const char* source;
};
const std::vector<DriverRelease>& driver_release_table();
// The table entry for an amdgpu version, or null when gantry does not know it.
const DriverRelease* driver_release(std::string_view amdgpu_version);

enum class KmdVerdict {
    supported,          // the user space is in the KMD's row
    user_space_too_new, // newer than the row's newest
    user_space_too_old, // older than the row's oldest
    unknown_kmd         // no row for the KMD
};
struct KmdCheck {
    KmdVerdict verdict = KmdVerdict::unknown_kmd;
    const KmdCompatRow* row = nullptr;
};
KmdCheck check_kmd(std::string_view kmd, const RocmRelease& user_space);

// ---- GPU targets ----

// HSA_OVERRIDE_GFX_VERSION: "major.minor.stepping", decimal, as libhsakmt reads it ("10.3.0" ->
// gfx1030, "9.0.10" -> gfx90a, "11.0.0" -> gfx1100). nullopt for anything else.
struct GfxOverride {
    unsigned major = 0, minor = 0, stepping = 0;
    std::string processor; // "gfx1030"
};
std::optional<GfxOverride> parse_hsa_override(std::string_view value);

// The generic target whose code objects run on PROCESSOR (LLVM AMDGPUUsage "AMDGPU Generic
// Processors"): gfx942 -> gfx9-4-generic, gfx1100 -> gfx11-generic; nullopt when none.
std::optional<std::string> generic_target_of(std::string_view processor);

// Whether the processor has the xnack target feature (its ISA name carries :xnack+/-).
bool has_xnack_feature(std::string_view processor);

// The HIP runtime's choice, generic targets included: the code object's processor is the
// device's or the device's generic target, and every feature the code object states (+/-) is
// the device's. A device feature that is `any` is unknown to gantry and matches either.
bool hip_code_object_fits(const amd::TargetId& code_object, const amd::TargetId& device);

// A GPU target list as PYTORCH_ROCM_ARCH, GPU_TARGETS or AMDGPU_TARGETS hold it ("gfx90a;gfx942",
// also ',' or ' ' separated): the processors, features dropped. Empty items are skipped.
std::vector<std::string> parse_arch_list(std::string_view text);

} // namespace gantry::gpu_vendors::amd
