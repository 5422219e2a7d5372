// Intel device code in SYCL and OpenMP offload binaries, read without executing anything: the
// device images an ELF file (or a raw container) carries, and whether a host's GPU can run them.
// Containers read (docs/reference/intel-gpu.md §6):
//   - ELF sections "__CLANG_OFFLOAD_BUNDLE__<id>" (clang-offload-bundler's object files: the
//     section holds one device image, the name its bundle ID "<kind>-<triple>[-<target>]");
//   - clang offload bundles, binary form: "__CLANG_OFFLOAD_BUNDLE__", u64 entry count, per entry
//     u64 offset, u64 size, u64 ID length and the ID, offsets from the bundle's start;
//   - the ELF section ".llvm.offloading" (clang's new offload driver) holding OffloadBinary
//     blobs (magic 10 FF 10 AD, LLVM's llvm-offload-binary docs): entries with image kind,
//     offload kind and "triple"/"arch" strings, Intel SPIR-V possibly nested one level;
//   - in a linked program (executable or shared library), the images DPC++'s wrappers keep as
//     host data, through SYCL descriptors and .tgtimg (linked.hpp).
// A device image is SPIR-V (magic 0x07230203: the driver compiles it when loaded, JIT) or native
// code for a named device (an ELF image for EM_INTELGT 205, or a spir64_gen image with an arch:
// ahead-of-time, AOT, runs only on that device). Every offset, size and count is checked: a
// hostile file throws Error(invalid), never reads out of bounds.
#pragma once

#include "findings/finding.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gantry::gpu_vendors::intel {

enum class ImageFormat { spirv, native, unknown };
const char* to_string(ImageFormat f); // "SPIR-V", "native", "unknown"

struct DeviceImage {
    std::string source;   // "bundle section", "bundle", "offloading" (.llvm.offloading),
                          // "descriptor" (a linked program's SYCL descriptor), "tgtimg"
    std::string producer; // "sycl", "openmp", "hip", ... as the container names it
    std::string triple; // "spir64_gen-unknown-unknown", "spirv64-intel", "x86_64-unknown-linux-gnu"
    std::string arch;   // as written ("pvc", "intel_gpu_acm_g10"), "" when none
    ImageFormat format = ImageFormat::unknown;
    std::uint64_t size = 0;
    // Intel GPU code: a SPIR triple (spir64, spir64_gen, spirv64...), not the host's or a CPU's
    // (spir64_x86_64).
    bool for_intel_gpu() const;
};

// What an image's bytes are: SPIR-V (magic 0x07230203), an Intel GPU ELF (EM_INTELGT, native),
// or unknown.
ImageFormat sniff_image(std::string_view bytes);

// The device images DATA holds (an ELF file, a binary bundle or an OffloadBinary); empty when it
// is none of them or carries no device code. WHAT names the file in errors.
std::vector<DeviceImage> read_offload_images(std::string_view data, const std::string& what);

// An AOT device name as ocloc and -fsycl-targets write it, made comparable: lower case, '_' as
// '-', "intel_gpu_" dropped, DG2's and ATS-M's names as ACM's ("intel_gpu_dg2_g10" and
// "ats-m150" -> "acm-g10").
std::string normalize_device_name(std::string_view name);

// Whether NAME (normalised) is a device name gantry's table knows ("pvc", "acm-g10", ...).
bool known_device_name(std::string_view name);

// What a file's Intel GPU images mean for a device whose AOT name is DEVICE ("" unknown).
struct CodeVerdict {
    bool intel_code = false;          // any Intel GPU image at all
    bool native_match = false;        // AOT code for DEVICE
    bool spirv = false;               // SPIR-V the driver can compile
    std::vector<std::string> targets; // the AOT targets present, normalised, once each
};
CodeVerdict judge(const std::vector<DeviceImage>& images, std::string_view device);

// The doctor's finding for one file (PATH in the image) on device DEVICE (LABEL names it: "GPU 0
// (card1, pvc)"): INTEL-AOT-OTHER-DEVICE (fail) when only AOT code for known other devices is
// present, INTEL-AOT-UNKNOWN (warn) when the device or the targets are not known, INTEL-SPIRV-JIT
// (info) when SPIR-V will be compiled at load; nothing when native code for DEVICE is present or
// the file has no Intel GPU code.
std::optional<findings::Finding> judge_file(const std::string& path,
                                            const std::vector<DeviceImage>& images,
                                            std::string_view device, const std::string& label);

} // namespace gantry::gpu_vendors::intel
