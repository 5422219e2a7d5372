// Fuzzes the Intel offload reader (gpu_vendors/intel/offload): ELF files with
// __CLANG_OFFLOAD_BUNDLE__* sections or .llvm.offloading, binary clang offload bundles and
// OffloadBinary blobs (nested one level), then the device verdicts against fixed devices.
#include "fuzz_support.hpp"
#include "gpu_vendors/intel/offload.hpp"

using namespace gantry;

GANTRY_FUZZ_TARGET(intel_offload) {
    std::string_view in = fuzz::bytes(data, size);
    fuzz::expect_error([&] {
        auto images = gpu_vendors::intel::read_offload_images(in, "fuzzed");
        for (const auto& i : images) FUZZ_CHECK(i.size <= in.size());
        for (const char* device : {"pvc", "acm-g10", ""}) {
            auto v = gpu_vendors::intel::judge(images, device);
            FUZZ_CHECK(!v.native_match || v.intel_code);
            (void)gpu_vendors::intel::judge_file("/f", images, device, "GPU 0");
        }
    });
    (void)gpu_vendors::intel::normalize_device_name(in.substr(0, 64));
    return 0;
}
