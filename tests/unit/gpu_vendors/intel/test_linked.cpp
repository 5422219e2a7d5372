// The device images of linked DPC++/SYCL programs (gpu_vendors/intel/linked.hpp, through
// offload.hpp's reader): SYCL descriptors of version 2 and 3 in a fixed-address executable and in
// position-independent files (relocated pointers, zero or the addend in place), .tgtimg, the
// linker wrapper's raw images in .llvm.offloading, and damaged or hostile variants.
#include "gpu_vendors/intel/offload.hpp"
#include "linked_bytes.hpp"
#include "util/error.hpp"

#include <gtest/gtest.h>

namespace intel_linked_test {

using namespace gantry;
namespace intel = gantry::gpu_vendors::intel;
using namespace intel_unit;

const std::vector<SyclImage>& old_driver_images() {
    static const std::vector<SyclImage> images = {
        {"spir64_gen", 1, zebin_image(), "intel_gpu_pvc"},
        {"spir64", 2, spirv_image(), ""},
    };
    return images;
}

// The older driver's program: version 2 descriptors, images in the wrapper's bundle-named
// section, .tgtimg pairs, __sycl_register_lib imported.
std::string old_driver_program(bool pie, bool in_place = false, Wrapped* w = nullptr) {
    Linked l(pie, in_place);
    auto got =
        sycl_descriptor(l, 2, old_driver_images(), "__CLANG_OFFLOAD_BUNDLE__sycl-spir64_gen", true);
    if (w) *w = got;
    return l.build("__sycl_register_lib");
}

void expect_old_driver_images(const std::vector<intel::DeviceImage>& imgs) {
    ASSERT_EQ(imgs.size(), 2u); // nothing twice: not from .tgtimg, not from the bundle section
    EXPECT_EQ(imgs[0].source, "descriptor");
    EXPECT_EQ(imgs[0].producer, "sycl");
    EXPECT_EQ(imgs[0].triple, "spir64_gen");
    EXPECT_EQ(intel::normalize_device_name(imgs[0].arch), "pvc");
    EXPECT_EQ(imgs[0].format, intel::ImageFormat::native);
    EXPECT_EQ(imgs[0].size, zebin_image().size());
    EXPECT_EQ(imgs[1].triple, "spir64");
    EXPECT_EQ(imgs[1].format, intel::ImageFormat::spirv);
    EXPECT_TRUE(imgs[1].for_intel_gpu());
}

TEST(IntelLinked, FixedAddressExecutable) {
    expect_old_driver_images(intel::read_offload_images(old_driver_program(false), "/app"));
}

TEST(IntelLinked, PositionIndependentWithZeroFieldsAndRelocations) {
    expect_old_driver_images(intel::read_offload_images(old_driver_program(true), "/app"));
}

TEST(IntelLinked, PositionIndependentWithTheAddendInPlace) {
    expect_old_driver_images(intel::read_offload_images(old_driver_program(true, true), "/app"));
}

TEST(IntelLinked, VerdictsOnALinkedProgram) {
    Linked l(true);
    sycl_descriptor(l, 2, {old_driver_images()[0]}, "__CLANG_OFFLOAD_BUNDLE__sycl-spir64_gen",
                    true);
    auto imgs = intel::read_offload_images(l.build("__sycl_register_lib"), "/opt/app/pvc");
    auto f = intel::judge_file("/opt/app/pvc", imgs, "acm-g10", "GPU 0 (card1, acm-g10)");
    ASSERT_TRUE(f);
    EXPECT_EQ(f->id, "INTEL-AOT-OTHER-DEVICE");
    EXPECT_FALSE(intel::judge_file("/opt/app/pvc", imgs, "pvc", "GPU 0"));
    auto jit = intel::judge_file("/a", intel::read_offload_images(old_driver_program(true), "/a"),
                                 "acm-g10", "GPU 0");
    ASSERT_TRUE(jit);
    EXPECT_EQ(jit->id, "INTEL-SPIRV-JIT");
}

// The linker wrapper's (new offload driver): version 3 structures with the OffloadBinary's image
// kind and OFK_SYCL, raw images in .llvm.offloading, no property sets, no .tgtimg; an OpenMP
// OffloadBinary beside them in the same section is read as before.
TEST(IntelLinked, NewDriverRawImagesInLlvmOffloading) {
    Linked l(true);
    sycl_descriptor(l, 3,
                    {{"spir64_gen-unknown-unknown", 1, zebin_image(), ""},
                     {"spirv64-unknown-unknown", 6, spirv_image(), ""}},
                    ".llvm.offloading", false);
    l.section(".llvm.offloading");
    l.put(offload_binary(6, 1, {{"triple", "spirv64-intel"}}, spirv_image()), 8);
    auto imgs = intel::read_offload_images(l.build(), "/app");
    ASSERT_EQ(imgs.size(), 3u);
    EXPECT_EQ(imgs[0].triple, "spir64_gen-unknown-unknown");
    EXPECT_EQ(imgs[0].format, intel::ImageFormat::native);
    EXPECT_EQ(imgs[0].arch, ""); // the linker wrapper keeps no device name
    EXPECT_EQ(imgs[1].format, intel::ImageFormat::spirv);
    EXPECT_EQ(imgs[2].source, "offloading");
    EXPECT_EQ(imgs[2].producer, "openmp");
    EXPECT_EQ(intel::judge_file("/app", {imgs[0]}, "pvc", "GPU 0")->id, "INTEL-AOT-UNKNOWN");
}

TEST(IntelLinked, DeviceOptionWhenNoCompileTarget) {
    Linked l(false);
    SyclImage aot{"spir64_gen", 1, "not-elf-bytes", "", "-device acm-g10 -O2"};
    sycl_descriptor(l, 2, {aot}, ".rodata", false);
    auto imgs = intel::read_offload_images(l.build("__sycl_register_lib"), "/app");
    ASSERT_EQ(imgs.size(), 1u);
    EXPECT_EQ(imgs[0].arch, "acm-g10");
    EXPECT_EQ(imgs[0].format, intel::ImageFormat::native); // spir64_gen: AOT by its target
}

// No descriptor gantry reads (its version unknown): .tgtimg still names the images, whose
// target is inferred from their bytes.
TEST(IntelLinked, TgtimgAloneWhenNoDescriptorIsRead) {
    Linked l(true);
    auto w = sycl_descriptor(l, 2, old_driver_images(), ".rodata", true);
    for (auto a : w.image) l.poke(a, 9); // image structure version 9
    auto imgs = intel::read_offload_images(l.build(), "/app");
    ASSERT_EQ(imgs.size(), 2u);
    EXPECT_EQ(imgs[0].source, "tgtimg");
    EXPECT_EQ(imgs[0].triple, "spir64_gen");
    EXPECT_EQ(imgs[0].format, intel::ImageFormat::native);
    EXPECT_EQ(imgs[0].arch, "");
    EXPECT_EQ(imgs[1].triple, "spir64");
    EXPECT_EQ(imgs[1].format, intel::ImageFormat::spirv);
}

// Without .tgtimg, .llvm.offloading, bundle sections or __sycl_register_lib a program is not
// scanned for descriptors.
TEST(IntelLinked, OnlyOffloadProgramsAreScanned) {
    Linked l(false);
    sycl_descriptor(l, 2, old_driver_images(), ".rodata", false);
    EXPECT_TRUE(intel::read_offload_images(l.build(), "/plain").empty());
}

TEST(IntelLinked, TwoDescriptorsNamingTheSameImagesListThemOnce) {
    Linked l(true);
    auto w = sycl_descriptor(l, 2, old_driver_images(), ".rodata", false);
    std::string d;
    put_le(d, 1, 2);
    put_le(d, 2, 2);
    d.resize(32, '\0');
    l.put_struct(d, {{8, w.image[0]}});
    EXPECT_EQ(intel::read_offload_images(l.build("__sycl_register_lib"), "/a").size(), 2u);
}

std::string invalid_message(const std::string& file) {
    try {
        intel::read_offload_images(file, "/bad");
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::invalid);
        EXPECT_NE(e.message().find("/bad: "), std::string::npos) << e.message();
        return e.message();
    }
    ADD_FAILURE() << "no error";
    return "";
}

TEST(IntelLinked, HostileDescriptorsAreInvalid) {
    for (bool pie : {false, true}) {
        Linked l(pie);
        auto w = sycl_descriptor(l, 2, old_driver_images(), ".rodata", true);
        auto with = [&](std::uint64_t at, std::uint64_t v) {
            Linked copy = l;
            copy.poke(at, v);
            return copy.build("__sycl_register_lib");
        };
        // the image ends before it starts; its size wraps; it lies past the file
        EXPECT_NE(invalid_message(with(w.image[0] + 56, w.start[0] - 1)).find("ends before"),
                  std::string::npos);
        EXPECT_NE(invalid_message(with(w.image[0] + 56, ~std::uint64_t{0})).find("outside"),
                  std::string::npos);
        EXPECT_NE(
            invalid_message(with(w.image[0] + 48, l.base() + (1ull << 40))).find("ends before"),
            std::string::npos); // the start far past the file
        EXPECT_NE(invalid_message(with(w.image[1] + 8, l.base() + (1ull << 40))).find("target"),
                  std::string::npos);
        // 65535 images declared: the array runs past the data
        Linked many = l;
        many.poke(w.desc, 0xffff0001); // Version 1, 65535 images, no padding
        EXPECT_NE(invalid_message(many.build("__sycl_register_lib")).find("65535"),
                  std::string::npos);
        // a .tgtimg pair whose size wraps the address space (no descriptor to name the image)
        Linked t = l;
        for (auto a : w.image) t.poke(a, 9);
        t.poke(w.image.back() + 96 + 32 + 8, ~std::uint64_t{0}); // the first pair's size
        EXPECT_NE(invalid_message(t.build()).find(".tgtimg"), std::string::npos);
    }
}

// Pointers that loop back (the image array at the descriptor itself, a property set naming
// itself) end in nothing read twice and no error beyond the descriptor's.
TEST(IntelLinked, CyclesEndQuietly) {
    Linked l(true);
    auto w = sycl_descriptor(l, 2, old_driver_images(), ".rodata", true);
    Linked self = l;
    self.poke(w.desc + 8, w.desc); // the images "array" is the descriptor: version 1, not read
    auto imgs = intel::read_offload_images(self.build(), "/c");
    ASSERT_EQ(imgs.size(), 2u);
    EXPECT_EQ(imgs[0].source, "tgtimg");
    Linked props = l;
    props.poke(w.image[0] + 80, w.image[0]); // property sets: the image structure itself
    props.poke(w.image[0] + 88, w.image[0] + 96);
    imgs = intel::read_offload_images(props.build("__sycl_register_lib"), "/c");
    ASSERT_EQ(imgs.size(), 2u);
    EXPECT_EQ(imgs[0].arch, ""); // no compile_target found: AOT for an unnamed device
}

// Every byte of a position-independent program changed in turn: an error or images, never a
// read outside the file (the sanitizer build checks the latter).
TEST(IntelLinked, EveryByteDamagedIsReadSafely) {
    const std::string base = old_driver_program(true);
    for (std::size_t i = 0; i < base.size(); ++i) {
        std::string f = base;
        f[i] = static_cast<char>(f[i] ^ 0xa5);
        try {
            for (const auto& img : intel::read_offload_images(f, "/f"))
                EXPECT_LE(img.size, f.size());
        } catch (const Error& e) {
            EXPECT_EQ(e.code(), Errc::invalid);
        }
    }
    try { // cut in half: the section headers are gone
        intel::read_offload_images(base.substr(0, base.size() / 2), "/half");
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::invalid);
    }
}

} // namespace intel_linked_test
