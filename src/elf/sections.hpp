// elf/sections: an ELF64 little-endian file's sections and PT_LOAD segments, read two ways from
// the same headers (headers.hpp):
// - read_table, strict: every section with bytes and every PT_LOAD must lie inside the file, or
//   the file is refused with a sentence saying what does not fit (what a rewriter needs: tailor's
//   CUDA rewriter edits .nv_fatbin in place);
// - regions, lenient: the ranges worth scanning for embedded data (sections with contents, else
//   PT_LOAD segments), cut to the file, with a line in `problems` for each thing that was cut (what
//   the fat-binary scanners and the forward-compatibility note reader need).
#pragma once

#include "elf/bytes.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gantry::elf {

struct Section {
    std::string name;
    std::uint32_t type = 0, link = 0;
    std::uint64_t flags = 0, addr = 0, off = 0, size = 0, entsize = 0;
    bool has_bytes() const { return type != 8 /*NOBITS*/ && type != 0 && size > 0; }
};

struct Segment { // a PT_LOAD
    std::uint64_t off = 0, vaddr = 0, filesz = 0;
};

struct Table {
    std::uint16_t type = 0, machine = 0; // ET_EXEC 2, ET_DYN 3; EM_X86_64 62, EM_AARCH64 183
    std::vector<Section> sections;       // index = section header index
    std::vector<Segment> loads;
    const Section* find(std::string_view name) const;
    // The file offset a virtual address is loaded from (through the PT_LOAD holding it).
    std::optional<std::uint64_t> vaddr_to_off(std::uint64_t v) const;
    // The section with file contents holding a file offset (nullptr: none).
    const Section* section_at(std::uint64_t off) const;
};

enum class TableRead { ok, not_elf, no_sections, malformed };
// Reads an ELF64 little-endian file's header, section headers (names included) and PT_LOAD
// segments. not_elf: anything else; no_sections: e_shoff is 0; malformed: `why` says what.
TableRead read_table(std::string_view f, Table& out, std::string& why);

// A range of the file: a section, a PT_LOAD segment, or the whole file.
struct Region {
    std::uint64_t off, len;
    std::string name;
};

// Regions of an ELF64 little-endian file (is_elf64le) worth scanning: sections with file
// contents, else PT_LOAD segments. Overlaps are trimmed so no byte is scanned twice. Malformed
// headers add a line to problems.
std::vector<Region> regions(Bytes f, std::vector<std::string>& problems);

} // namespace gantry::elf
