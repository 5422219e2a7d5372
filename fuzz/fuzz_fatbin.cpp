// Fuzzes the CUDA fat binary scanner (compat/fatbin, compat/elf_bytes): ELF files, raw .fatbin
// containers or any bytes, with every cubin inspected and compressed entries (LZ4, zstd)
// decompressed, as `gantry doctor --fatbin` and analyze read image files. The scanner never
// throws for malformed contents; what it reports must lie inside the input.
#include "fuzz_support.hpp"
#include "gpu_vendors/nvidia/fatbin.hpp"

using namespace gantry;

GANTRY_FUZZ_TARGET(fatbin) {
    gpu_vendors::nvidia::FatbinOptions opt;
    opt.cubin = gpu_vendors::nvidia::FatbinOptions::Cubin::all;
    opt.max_decompress = 1u << 20;
    auto f = gpu_vendors::nvidia::scan_fatbin_bytes(fuzz::bytes(data, size), opt);
    FUZZ_CHECK(f.file_size == size);
    for (auto& c : f.containers) {
        FUZZ_CHECK(c.offset <= size && c.size <= size - c.offset);
        FUZZ_CHECK(c.first_entry + c.entry_count <= f.entries.size());
    }
    for (auto& e : f.entries) {
        FUZZ_CHECK(e.offset <= size && e.disk_size() <= size - e.offset);
        FUZZ_CHECK(e.container < f.containers.size());
        (void)e.arch_name();
        (void)e.cc();
    }
    (void)f.kernel_entries();
    return 0;
}
