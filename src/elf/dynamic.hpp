// elf/dynamic: the little of an ELF shared object discovery needs — DT_SONAME, DT_NEEDED, the
// GNU ABI tag note and the x86 ISA level the object needs (.note.gnu.property) — read from ELF32 or
// ELF64 of either byte order. The reader touches only the headers, the dynamic segment and the
// strings it names (driver libraries are 100 MB files), and checks every offset: a truncated or
// hostile file is an Error, never a read out of bounds.
#pragma once

#include "elf/headers.hpp" // em_x86_64, ...

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gantry::elf {

// NT_GNU_ABI_TAG: the oldest kernel the object supports; `ldconfig -p` shows it as
// "OS ABI: Linux 2.3.99". os is 0 for Linux.
struct AbiTag {
    std::uint32_t os = 0, major = 0, minor = 0, patch = 0;
    std::string to_string() const; // "Linux 2.3.99"
    bool operator==(const AbiTag&) const = default;
};

struct Info {
    int bits = 0; // 32 or 64
    bool little_endian = true;
    std::uint16_t type = 0; // ET_DYN = 3, ET_EXEC = 2
    std::uint16_t machine = 0;
    std::string soname;              // DT_SONAME; empty when the object has none
    std::vector<std::string> needed; // DT_NEEDED, in order
    std::optional<AbiTag> abi_tag;
    // GNU_PROPERTY_X86_ISA_1_NEEDED of NT_GNU_PROPERTY_TYPE_0 notes (what `-z x86-64-v3` or
    // `-mneeded` records and glibc's loader checks): bit 0 baseline, 1 x86-64-v2, 2 v3, 3 v4;
    // 0 when the object has no such note
    std::uint32_t x86_isa_needed = 0;
    bool has_symtab = false; // DT_SYMTAB and a hash table (DT_HASH or DT_GNU_HASH): what the
                             // dynamic loader needs before it is safe to dlopen the object
    // Symbol versions, read only when asked (read_file(path, true)): the names this object
    // defines (.gnu.version_d, "GLIBC_2.34" in libc.so.6) and the ones it needs from other
    // objects (.gnu.version_r), each as "file:name" ("libc.so.6:GLIBC_2.34").
    std::vector<std::string> version_defs;
    std::vector<std::string> version_needs;
};

// The machine this build runs on (em_x86_64, em_aarch64, ...), and its word size.
std::uint16_t native_machine();
int native_bits();

// Parses an object held in memory. Throws Error(invalid) naming what is wrong.
Info read(std::string_view data, bool versions = false);

// Reads only the parts it needs from a file. Throws Error (not_found, io, invalid).
Info read_file(const std::string& path, bool versions = false);
// The same from an open regular file (not closed).
Info read_fd(int fd, bool versions = false);

// The highest GLIBC_x.y among version names ("GLIBC_2.34", "libc.so.6:GLIBC_2.17"), as
// {x, y}; {0, 0} when there is none. GLIBC_PRIVATE and other names are ignored.
std::pair<int, int> max_glibc_version(const std::vector<std::string>& names);

} // namespace gantry::elf
