#include "elf/headers.hpp"

namespace gantry::elf {

Ident identify(Bytes f) {
    if (!f.has(0, 16) || std::memcmp(f.p,
                                     "\x7f"
                                     "ELF",
                                     4) != 0)
        return Ident::not_elf;
    if (f.p[4] != 1 && f.p[4] != 2) return Ident::bad_class;
    if (f.p[5] != 1 && f.p[5] != 2) return Ident::bad_order;
    return Ident::elf;
}

bool is_elf64le(Bytes f) {
    return f.has(0, 64) && identify(f) == Ident::elf && f.p[4] == 2 && f.p[5] == 1;
}

Header header(Bytes& f) {
    Header h;
    h.is64 = f.p[4] == 2;
    h.little = f.p[5] == 1;
    f.little = h.little;
    h.osabi = f.p[7];
    h.abi_version = f.p[8];
    h.type = f.get<std::uint16_t>(16);
    h.machine = f.get<std::uint16_t>(18);
    if (h.is64) {
        h.phoff = f.get<std::uint64_t>(32);
        h.shoff = f.get<std::uint64_t>(40);
        h.flags = f.get<std::uint32_t>(48);
        h.phentsize = f.get<std::uint16_t>(54);
        h.phnum = f.get<std::uint16_t>(56);
        h.shentsize = f.get<std::uint16_t>(58);
        h.shnum = f.get<std::uint16_t>(60);
        h.shstrndx = f.get<std::uint16_t>(62);
    } else {
        h.phoff = f.get<std::uint32_t>(28);
        h.shoff = f.get<std::uint32_t>(32);
        h.flags = f.get<std::uint32_t>(36);
        h.phentsize = f.get<std::uint16_t>(42);
        h.phnum = f.get<std::uint16_t>(44);
        h.shentsize = f.get<std::uint16_t>(46);
        h.shnum = f.get<std::uint16_t>(48);
        h.shstrndx = f.get<std::uint16_t>(50);
    }
    return h;
}

namespace {

// A field of the class's word size: 8 bytes in ELF64, 4 in ELF32.
std::uint64_t headers_word(Bytes f, bool is64, std::uint64_t off) {
    return is64 ? f.get<std::uint64_t>(off) : f.get<std::uint32_t>(off);
}

} // namespace

ProgramHeader program_header(Bytes f, const Header& h, std::uint64_t i) {
    Bytes e = f.clip(h.phoff + i * h.phentsize, program_header_size(h.is64));
    ProgramHeader p;
    p.type = e.get<std::uint32_t>(0);
    if (h.is64) {
        p.flags = e.get<std::uint32_t>(4);
        p.offset = e.get<std::uint64_t>(8);
        p.vaddr = e.get<std::uint64_t>(16);
        p.filesz = e.get<std::uint64_t>(32);
        p.memsz = e.get<std::uint64_t>(40);
        p.align = e.get<std::uint64_t>(48);
    } else {
        p.offset = e.get<std::uint32_t>(4);
        p.vaddr = e.get<std::uint32_t>(8);
        p.filesz = e.get<std::uint32_t>(16);
        p.memsz = e.get<std::uint32_t>(20);
        p.flags = e.get<std::uint32_t>(24);
        p.align = e.get<std::uint32_t>(28);
    }
    return p;
}

SectionHeader section_header(Bytes f, const Header& h, std::uint64_t i) {
    Bytes e = f.clip(h.shoff + i * h.shentsize, section_header_size(h.is64));
    SectionHeader s;
    s.name = e.get<std::uint32_t>(0);
    s.type = e.get<std::uint32_t>(4);
    const std::uint64_t w = h.is64 ? 8 : 4;
    s.flags = headers_word(e, h.is64, 8);
    s.addr = headers_word(e, h.is64, 8 + w);
    s.offset = headers_word(e, h.is64, 8 + 2 * w);
    s.size = headers_word(e, h.is64, 8 + 3 * w);
    s.link = e.get<std::uint32_t>(8 + 4 * w);
    s.info = e.get<std::uint32_t>(12 + 4 * w);
    s.addralign = headers_word(e, h.is64, 16 + 4 * w);
    s.entsize = headers_word(e, h.is64, 16 + 5 * w);
    return s;
}

std::uint64_t section_count(Bytes f, const Header& h) {
    if (h.shnum != 0) return h.shnum;
    return section_header(f, h, 0).size; // extended numbering
}

std::uint32_t section_names_index(Bytes f, const Header& h) {
    if (h.shstrndx != 0xffff) return h.shstrndx;
    return section_header(f, h, 0).link; // SHN_XINDEX
}

} // namespace gantry::elf
