// Fuzzes the ELF reader of GPU discovery (gpu/elf): DT_SONAME, DT_NEEDED, the ABI tag note and
// symbol versions of driver libraries and image files, ELF32 and ELF64 of either byte order.
#include "fuzz_support.hpp"
#include "gpu/elf.hpp"

using namespace gantry;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view in = fuzz::bytes(data, size);
    fuzz::expect_error([&] {
        auto info = gpu::elf::read(in, true);
        FUZZ_CHECK(info.bits == 32 || info.bits == 64);
        if (info.abi_tag) (void)info.abi_tag->to_string();
        (void)gpu::elf::max_glibc_version(info.version_defs);
        (void)gpu::elf::max_glibc_version(info.version_needs);
    });
    return 0;
}
