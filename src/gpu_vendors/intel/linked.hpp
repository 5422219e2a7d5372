// Device images a linked DPC++/SYCL program (an executable or shared library, ELF64 little-endian
// ET_EXEC or ET_DYN) keeps wrapped into host data, read without executing anything
// (docs/reference/intel-gpu.md §6, "Linked programs"):
//   - SYCL binary descriptors, found by their layout in the file's allocated data: a
//     __sycl.tgt_bin_desc (u16 Version 1, u16 NumDeviceImages, pointer to the images, two null
//     host-entry pointers) whose images are __sycl.tgt_device_image structures of version 2
//     (clang-offload-wrapper, intel/llvm's SYCL wrapper: 96 bytes, manifest pointers) or 3 (the
//     linker wrapper's: 80 bytes), offload kind 4 or 8 (SYCL). Each gives the image's bytes
//     (ImageStart..ImageEnd), its target (DeviceTargetSpec: "spir64", "spir64_gen", a triple)
//     and, for AOT code, the device: the "compile_target" property of the "SYCL/device
//     requirements" property set ("intel_gpu_pvc"), else "-device NAME" in the compile or link
//     options;
//   - the ".tgtimg" section's <address, size> pairs (clang-offload-wrapper, intel/llvm's SYCL
//     wrapper) for images no descriptor names: SPIR-V or an Intel GPU ELF, without a device.
// A pointer field is read through the file's R_X86_64_RELATIVE / R_AARCH64_RELATIVE relocations
// (.rela sections: a position-independent file stores zero, or the addend, in the field) and
// otherwise as stored (a fixed-address executable, RELR's implicit addends). Addresses map to
// file offsets through PT_LOAD segments. Every pointer, count and size is checked; a descriptor
// whose header and first image match but which does not hold together throws Error(invalid).
#pragma once

#include "gpu_vendors/intel/offload.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gantry::gpu_vendors::intel {

// One SYCL descriptor read: where it and its image array lie, and per array slot the index of
// its image in WrappedImages::images (npos: an image an earlier descriptor named too).
struct WrappedDescriptor {
    std::uint64_t desc = 0, images = 0, stride = 0; // addresses; the structure's size (96, 80)
    std::vector<std::size_t> slot;
};

struct WrappedImages {
    bool linked = false; // the file is an executable or shared library gantry could map
    std::vector<DeviceImage> images;
    std::vector<WrappedDescriptor> descriptors;
    // file ranges [offset, offset + size) of the images found (to skip them in .llvm.offloading
    // and in the older wrapper's __CLANG_OFFLOAD_BUNDLE__ sections)
    std::vector<std::pair<std::uint64_t, std::uint64_t>> ranges;
    bool covers(std::uint64_t off, std::uint64_t size) const;  // inside one range
    bool touches(std::uint64_t off, std::uint64_t size) const; // overlaps any range
};

// The wrapped images of ELF (an ELF64 little-endian file: anything else, or a relocatable object,
// gives an empty result). The descriptors are looked for only when the file shows it is an
// offload program: a ".tgtimg", ".llvm.offloading" or "__CLANG_OFFLOAD_BUNDLE__*" section, or
// the name "__sycl_register_lib" among its dynamic strings. WHAT names the file in errors.
WrappedImages read_wrapped_images(std::string_view elf, const std::string& what);

// Tailoring a linked program in place (the file's size kept): each descriptor registers only the
// images DROP does not name. The kept image structures are moved to the front of their array
// (with the relocations that fill their pointers), NumDeviceImages lowered, the dropped images'
// bytes and .tgtimg pairs zeroed; then the file is read again and must list exactly the kept
// images, their bytes untouched (else nothing changes and the result says why).
struct WrappedRewrite {
    enum class Result { none, changed, refused } result = Result::none;
    std::string why; // refused, or none with a reason worth a line
    std::uint64_t zeroed = 0, images_before = 0, images_after = 0;
    std::vector<std::pair<std::uint64_t, std::uint64_t>> dropped; // file ranges, in file order
};
WrappedRewrite drop_wrapped_images(std::string& elf, bool (*drop)(const DeviceImage&, void*),
                                   void* ctx, const std::string& what, bool write);

} // namespace gantry::gpu_vendors::intel
