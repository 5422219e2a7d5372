// Which of the Intel driver libraries' own dependencies (their DT_NEEDED entries) gantry injects
// with them, and the host driver's version. The rule (docs/intel.md "What is injected", reference
// intel-gpu.md §5) follows NVIDIA's: gantry injects the vendor's driver files and never a
// library every image has its own copy of:
//   - the C and C++ runtime (glibc's libraries and loader, libgcc_s, libstdc++, libatomic) is
//     never injected: the image's are used, as for NVIDIA's driver (doctor's DRIVER-NO-GLIBC);
//   - the driver's own libraries are injected when a driver library or one of them needs them:
//     Intel's GMM library (libigdgmm), the graphics compiler (libigc, libigdfcl, libiga64) and
//     the LLVM it was built with where the build links it rather than carrying it inside
//     (Debian 12: libLLVM-14.so.1, libLLVMSPIRVLib.so.14, libopencl-clang.so.14,
//     libclang-cpp.so.14);
//   - any other library (general purpose: libz, libffi, libedit, libxml2, libtinfo, libz3) is
//     left to the image, since a host copy mounted at its own path would replace the image's
//     copy for every program of the image; the doctor names the ones the image lacks.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace gantry::gpu_vendors::intel {

enum class DepKind {
    c_runtime, // never injected
    driver,    // injected with the driver
    general    // left to the image
};

DepKind classify_dependency(std::string_view soname);

// Intel's compute-runtime build number, the third part of its release ("24.35.30872.22" ->
// 30872): it grows with every release, so it orders releases as the release string does.
struct DriverVersion {
    int build = 0;
    std::string text;   // "22.43.24595.41", or the file name's "1.3.24595"
    std::string source; // "the file name libze_intel_gpu.so.1.3.24595"
};

// The build number of a release or package version: "22.43.24595.41-1" -> 24595,
// "1.3.30872.22" (intel-level-zero-gpu's own numbering) -> 30872; nullopt unless it has at
// least three numeric parts.
std::optional<int> driver_build(std::string_view version);

// From the driver file's versioned name, libze_intel_gpu.so.<L0 major>.<minor>.<build>[.<fix>]
// (Intel's packaging: "libze_intel_gpu.so.%{L0_ver}.%{NEO_BUILD}"; Debian 12:
// libze_intel_gpu.so.1.3.24595); also the legacy1 driver's name.
std::optional<DriverVersion> driver_version_from_file(std::string_view file_name);

// The Level Zero loader's version from its file name: libze_loader.so.1.17.6 -> {1, 17, 6}.
struct LoaderVersion {
    int major = 0, minor = 0, patch = 0;
    std::string str() const;
};
std::optional<LoaderVersion> loader_version_from_file(std::string_view file_name);

// The oldest driver build the loader's release notes name for LOADER (reference intel-gpu.md §5:
// v1.2.3 and later 21.09.19150, v1.0.x 20.32.17625), as {build, release}; nullopt where no note
// is known (v1.1.x, v1.2.0-v1.2.2).
struct DriverMinimum {
    int build = 0;
    const char* release = "";
};
std::optional<DriverMinimum> loader_driver_minimum(const LoaderVersion& loader);

} // namespace gantry::gpu_vendors::intel
