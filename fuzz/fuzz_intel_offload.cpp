// Fuzzes the Intel offload reader (gpu_vendors/intel/offload): ELF files with
// __CLANG_OFFLOAD_BUNDLE__* sections or .llvm.offloading, binary clang offload bundles and
// OffloadBinary blobs (nested one level), linked programs' SYCL descriptors and .tgtimg
// (gpu_vendors/intel/linked), then the device verdicts against fixed devices, and the rewrite of
// a linked program's descriptors (keeping only what is not acm-g10's): never a change of size,
// never an error thrown.
#include "fuzz_support.hpp"
#include "gpu_vendors/intel/linked.hpp"
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
    std::string copy(in);
    auto r = gpu_vendors::intel::drop_wrapped_images(
        copy,
        [](const gpu_vendors::intel::DeviceImage& i, void*) {
            return gpu_vendors::intel::normalize_device_name(i.arch) == "acm-g10";
        },
        nullptr, "fuzzed", true);
    FUZZ_CHECK(copy.size() == in.size());
    FUZZ_CHECK(r.result == gpu_vendors::intel::WrappedRewrite::Result::changed || copy == in);
    (void)gpu_vendors::intel::normalize_device_name(in.substr(0, 64));
    return 0;
}
