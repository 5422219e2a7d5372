// Fuzzes the HIP offload bundle reader (compat/hip_fatbin): ELF files with a .hip_fatbin
// section, or raw bundles ("__CLANG_OFFLOAD_BUNDLE__") and compressed ones ("CCOB" v1-v3, zlib
// or zstd), then the device match rule against a fixed agent. Every entry must lie inside its
// (decompressed) bundle.
#include "fuzz_support.hpp"
#include "gpu_vendors/amd/hip_fatbin.hpp"

using namespace gantry;

GANTRY_FUZZ_TARGET(hip_bundle) {
    std::string_view in = fuzz::bytes(data, size);
    gpu_vendors::amd::HipFatbinOptions opt;
    opt.max_decompressed = 4u << 20;
    fuzz::expect_error([&] {
        auto f = gpu_vendors::amd::read_hip_fatbin_bytes(in, "fuzzed", opt);
        for (auto& b : f.bundles) FUZZ_CHECK(b.first_entry + b.entry_count <= f.entries.size());
        for (auto& e : f.entries) {
            FUZZ_CHECK(e.bundle < f.bundles.size());
            FUZZ_CHECK(e.offset <= f.bundles[e.bundle].uncompressed_size &&
                       e.size <= f.bundles[e.bundle].uncompressed_size - e.offset);
            (void)e.target.str();
        }
        (void)f.targets();
        auto m = gpu_vendors::amd::match_hip_device(f, "amdgcn-amd-amdhsa--gfx90a:sramecc+:xnack-");
        for (auto i : m.runnable) FUZZ_CHECK(i < f.entries.size());
    });
    // the input as a target ID too (rocminfo's agent names, --gpus-style text)
    if (auto t = gpu_vendors::amd::parse_target_id(in)) {
        auto again = gpu_vendors::amd::parse_target_id(t->str());
        FUZZ_CHECK(again && again->processor == t->processor);
    }
    (void)gpu_vendors::amd::decode_amdgpu_header(in);
    return 0;
}
