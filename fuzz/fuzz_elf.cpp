// Fuzzes gantry's one ELF reader (elf/): the dynamic-object reader of GPU discovery and run's CPU
// check (elf/dynamic: DT_SONAME, DT_NEEDED, the ABI tag note, the x86 ISA property note, symbol
// versions; ELF32 and ELF64 of either byte order), and the section and segment tables the
// fat-binary scanners and the CUDA rewriter read (elf/sections: read_table strict, regions
// lenient), all over the header decoding of elf/headers.
#include "cpu/isa.hpp"
#include "elf/dynamic.hpp"
#include "elf/sections.hpp"
#include "fuzz_support.hpp"

using namespace gantry;

GANTRY_FUZZ_TARGET(elf) {
    std::string_view in = fuzz::bytes(data, size);
    fuzz::expect_error([&] {
        auto info = elf::read(in, true);
        FUZZ_CHECK(info.bits == 32 || info.bits == 64);
        if (info.abi_tag) (void)info.abi_tag->to_string();
        int level = cpu::level_of_isa_bits(info.x86_isa_needed);
        FUZZ_CHECK(level >= 0 && level <= 4);
        FUZZ_CHECK((level == 0) == ((info.x86_isa_needed & 0xf) == 0));
        (void)elf::max_glibc_version(info.version_defs);
        (void)elf::max_glibc_version(info.version_needs);
    });
    elf::Table table;
    std::string why;
    if (elf::read_table(in, table, why) == elf::TableRead::ok) {
        // strict: every section with bytes and every PT_LOAD lies inside the input
        for (const auto& s : table.sections)
            FUZZ_CHECK(!s.has_bytes() || (s.off <= in.size() && s.size <= in.size() - s.off));
        for (const auto& l : table.loads)
            FUZZ_CHECK(l.off <= in.size() && l.filesz <= in.size() - l.off);
    }
    elf::Bytes b = elf::Bytes::of(in);
    if (elf::is_elf64le(b)) {
        std::vector<std::string> problems;
        std::uint64_t covered = 0;
        for (const auto& r : elf::regions(b, problems)) {
            // lenient: cut to the input, sorted, no byte twice
            FUZZ_CHECK(r.off >= covered && r.len > 0 && r.off <= in.size() &&
                       r.len <= in.size() - r.off);
            covered = r.off + r.len;
        }
    }
    return 0;
}
