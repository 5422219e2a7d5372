// elf/headers: the ELF file header, one program header and one section header decoded from bytes,
// for ELF32 and ELF64 of either byte order (the System V gABI layouts). The one place that knows
// where each field lies; the readers above it (dynamic.hpp, sections.hpp) decide what a file must
// hold and check every offset and size a header names before they use it.
#pragma once

#include "elf/bytes.hpp"

#include <cstdint>

namespace gantry::elf {

inline constexpr std::uint16_t em_386 = 3;
inline constexpr std::uint16_t em_x86_64 = 62;
inline constexpr std::uint16_t em_aarch64 = 183;

inline constexpr std::uint32_t pt_load = 1, pt_dynamic = 2, pt_note = 4,
                               pt_gnu_property = 0x6474e553;
inline constexpr std::uint32_t sht_null = 0, sht_symtab = 2, sht_rela = 4, sht_note = 7,
                               sht_nobits = 8, sht_dynsym = 11;
inline constexpr std::uint64_t shf_alloc = 0x2, shf_execinstr = 0x4;

// What the first 16 bytes (e_ident) say.
enum class Ident { elf, not_elf, bad_class, bad_order };
// not_elf when F is shorter than 16 bytes or lacks the magic; bad_class / bad_order when
// EI_CLASS / EI_DATA is neither 1 nor 2.
Ident identify(Bytes f);

// An ELF64 little-endian file with a whole 64-byte header (what CUDA and ROCm ship; the only kind
// the fat-binary readers and the rewriter take).
bool is_elf64le(Bytes f);

struct Header {
    bool is64 = false;
    bool little = true;
    std::uint8_t osabi = 0, abi_version = 0; // EI_OSABI, EI_ABIVERSION
    std::uint16_t type = 0, machine = 0;     // ET_EXEC 2, ET_DYN 3; em_* above
    std::uint32_t flags = 0;                 // e_flags
    std::uint64_t phoff = 0, shoff = 0;
    std::uint16_t phentsize = 0, phnum = 0, shentsize = 0;
    std::uint16_t shnum = 0, shstrndx = 0; // as stored: 0 / 0xffff mean "see section header 0"
    int bits() const { return is64 ? 64 : 32; }
    // Bytes of the header up to and including e_phnum: a file shorter has no program headers.
    std::uint64_t through_phnum() const { return is64 ? 58 : 46; }
};

// The header of F (identify(F) == Ident::elf assumed): fields past the end of F read as 0 (check
// F's size against what the caller needs). F's byte order is set from EI_DATA.
Header header(Bytes& f);

struct ProgramHeader {
    std::uint32_t type = 0, flags = 0;
    std::uint64_t offset = 0, vaddr = 0, filesz = 0, memsz = 0, align = 0;
};
inline constexpr std::uint64_t program_header_size(bool is64) {
    return is64 ? 56 : 32;
}
// Entry i of the program header table (fields past the end of F read as 0).
ProgramHeader program_header(Bytes f, const Header& h, std::uint64_t i);

struct SectionHeader {
    std::uint32_t name = 0, type = 0, link = 0, info = 0;
    std::uint64_t flags = 0, addr = 0, offset = 0, size = 0, addralign = 0, entsize = 0;
};
inline constexpr std::uint64_t section_header_size(bool is64) {
    return is64 ? 64 : 40;
}
// Entry i of the section header table (fields past the end of F read as 0).
SectionHeader section_header(Bytes f, const Header& h, std::uint64_t i);
// The section count and the name table's index, extended numbering resolved (e_shnum 0: the count
// is section header 0's sh_size; e_shstrndx SHN_XINDEX: the index is its sh_link).
std::uint64_t section_count(Bytes f, const Header& h);
std::uint32_t section_names_index(Bytes f, const Header& h);

} // namespace gantry::elf
