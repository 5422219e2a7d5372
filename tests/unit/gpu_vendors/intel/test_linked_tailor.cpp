// tailor on linked DPC++/SYCL programs (gpu_vendors/intel/linked.hpp drop_wrapped_images, through
// the Intel device-code format): AOT images for devices not kept leave the descriptors, the kept
// structures move (with their relocations in a PIE), the count drops, the dropped bytes are
// zeroed, and the file reads back as the kept images; what cannot be done keeps the file whole.
#include "device_code/format.hpp"
#include "gpu_vendors/intel/device_code.hpp"
#include "gpu_vendors/intel/offload.hpp"
#include "linked_bytes.hpp"

#include <gtest/gtest.h>

namespace intel_linked_tailor_test {

using namespace gantry;
namespace intel = gantry::gpu_vendors::intel;
using namespace intel_unit;
using Outcome = device_code::FileReport::Outcome;

std::string zebin_for(char tag) { // distinct AOT images
    std::string z = zebin_image();
    z[63] = tag;
    return z;
}

// acm-g10's AOT image first (its structure must move), then pvc's, then SPIR-V.
std::string three_images(bool pie, bool in_place, Wrapped* w = nullptr) {
    Linked l(pie, in_place);
    auto got = sycl_descriptor(l, 2,
                               {{"spir64_gen", 1, zebin_for('a'), "intel_gpu_acm_g10"},
                                {"spir64_gen", 1, zebin_for('p'), "intel_gpu_pvc"},
                                {"spir64", 2, spirv_image(), ""}},
                               "__CLANG_OFFLOAD_BUNDLE__sycl-spir64_gen", true);
    if (w) *w = got;
    return l.build("__sycl_register_lib");
}

std::uint64_t l_base(bool pie) { // where Linked loads the file
    return pie ? 0 : 0x400000;
}

device_code::KeepSet keep(const std::string& device) {
    device_code::KeepSet k;
    k.by_format["intel"] = {device};
    return k;
}

TEST(IntelLinkedTailor, DropsTheImagesOfDevicesNotKept) {
    const std::pair<bool, bool> variants[] = {{false, false}, {true, false}, {true, true}};
    for (auto [pie, in_place] : variants) {
        Wrapped w;
        const std::string before = three_images(pie, in_place, &w);
        std::string f = before;
        auto r = intel::intel_format().tailor(f, keep("pvc"), "/app", true);
        ASSERT_EQ(r.outcome, Outcome::changed) << r.refused;
        EXPECT_EQ(f.size(), before.size());
        EXPECT_EQ(r.entries_before, 3u);
        EXPECT_EQ(r.entries_after, 2u);
        EXPECT_EQ(r.arch_before.count("acm-g10"), 1u);
        EXPECT_EQ(r.arch_after.count("acm-g10"), 0u);
        EXPECT_EQ(r.arch_after.at("pvc"), 64u);
        EXPECT_EQ(r.arch_after.at("spirv"), spirv_image().size());
        EXPECT_EQ(r.zeroed, 64u + 16u); // the image and its .tgtimg pair
        ASSERT_EQ(r.dropped.size(), 1u);
        EXPECT_EQ(r.dropped[0].first, w.start[0] - l_base(pie));
        EXPECT_EQ(f.substr(r.dropped[0].first, 64), std::string(64, '\0'));
        auto imgs = intel::read_offload_images(f, "/app");
        ASSERT_EQ(imgs.size(), 2u);
        EXPECT_EQ(intel::normalize_device_name(imgs[0].arch), "pvc");
        EXPECT_EQ(imgs[1].format, intel::ImageFormat::spirv);
        // the pvc image's bytes are where they were
        EXPECT_EQ(f.substr(w.start[1] - l_base(pie), 64), zebin_for('p'));
        // a second tailor to the same device finds nothing more to drop
        std::string again = f;
        EXPECT_EQ(intel::intel_format().tailor(again, keep("pvc"), "/app", true).outcome,
                  Outcome::unchanged);
        EXPECT_EQ(again, f);
    }
}

TEST(IntelLinkedTailor, ADryRunChangesNothing) {
    const std::string before = three_images(true, false);
    std::string f = before;
    auto r = intel::intel_format().tailor(f, keep("acm-g10"), "/app", false);
    EXPECT_EQ(r.outcome, Outcome::changed);
    EXPECT_EQ(f, before);
    EXPECT_EQ(r.arch_after.count("pvc"), 0u);
    EXPECT_EQ(r.arch_after.count("acm-g10"), 1u);
}

TEST(IntelLinkedTailor, WhatCannotBeDoneKeepsTheFileWhole) {
    // only AOT code for pvc: nothing a kept acm-g11 runs, the program kept whole
    Linked only(true);
    sycl_descriptor(only, 2, {{"spir64_gen", 1, zebin_image(), "intel_gpu_pvc"}}, ".rodata", true);
    std::string f = only.build("__sycl_register_lib"), before = f;
    auto r = intel::intel_format().tailor(f, keep("acm-g11"), "/app", true);
    EXPECT_EQ(r.outcome, Outcome::unchanged);
    EXPECT_EQ(f, before);
    ASSERT_EQ(r.left_alone.size(), 1u);
    EXPECT_NE(r.left_alone[0].find("kept whole"), std::string::npos);
    // RELR-packed relocations: refused, unchanged
    Linked relr(true);
    sycl_descriptor(
        relr, 2,
        {{"spir64_gen", 1, zebin_for('a'), "intel_gpu_acm_g10"}, {"spir64", 2, spirv_image(), ""}},
        ".rodata", false);
    relr.section(".relr.dyn", 19);
    relr.put(std::string(8, '\0'), 8);
    f = relr.build("__sycl_register_lib");
    before = f;
    r = intel::intel_format().tailor(f, keep("pvc"), "/app", true);
    EXPECT_EQ(r.outcome, Outcome::refused);
    EXPECT_NE(r.refused.find("RELR"), std::string::npos);
    EXPECT_EQ(f, before);
    // damaged descriptors: not rewritten (the doctor says what is damaged)
    Wrapped w;
    Linked bad(true);
    w = sycl_descriptor(bad, 2, {{"spir64_gen", 1, zebin_for('a'), "intel_gpu_acm_g10"}}, ".rodata",
                        false);
    bad.poke(w.image[0] + 56, w.start[0] - 1);
    f = bad.build("__sycl_register_lib");
    before = f;
    r = intel::intel_format().tailor(f, keep("pvc"), "/app", true);
    EXPECT_NE(r.outcome, Outcome::changed);
    EXPECT_EQ(f, before);
    // the linker wrapper's AOT images name no device: nothing to drop
    Linked v3(true);
    sycl_descriptor(v3, 3,
                    {{"spir64_gen-unknown-unknown", 1, zebin_image(), ""},
                     {"spirv64-unknown-unknown", 6, spirv_image(), ""}},
                    ".llvm.offloading", false);
    f = v3.build();
    before = f;
    EXPECT_EQ(intel::intel_format().tailor(f, keep("pvc"), "/app", true).outcome,
              Outcome::unchanged);
    EXPECT_EQ(f, before);
}

} // namespace intel_linked_tailor_test
