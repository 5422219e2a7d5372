// Fuzzes the ELF reader of GPU discovery (gpu/elf): DT_SONAME, DT_NEEDED, the ABI tag note, the
// x86 ISA property note (GNU_PROPERTY_X86_ISA_1_NEEDED, which run's CPU check reads) and symbol
// versions of driver libraries and image files, ELF32 and ELF64 of either byte order.
#include "cpu/isa.hpp"
#include "fuzz_support.hpp"
#include "gpu/elf.hpp"

using namespace gantry;

GANTRY_FUZZ_TARGET(gpu_elf) {
    std::string_view in = fuzz::bytes(data, size);
    fuzz::expect_error([&] {
        auto info = gpu::elf::read(in, true);
        FUZZ_CHECK(info.bits == 32 || info.bits == 64);
        if (info.abi_tag) (void)info.abi_tag->to_string();
        int level = cpu::level_of_isa_bits(info.x86_isa_needed);
        FUZZ_CHECK(level >= 0 && level <= 4);
        FUZZ_CHECK((level == 0) == ((info.x86_isa_needed & 0xf) == 0));
        (void)gpu::elf::max_glibc_version(info.version_defs);
        (void)gpu::elf::max_glibc_version(info.version_needs);
    });
    return 0;
}
