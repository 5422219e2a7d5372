// tailor/cuda_detail: the pieces of CUDA tailoring (tailor/cuda.hpp) that its tests check one by
// one; internal to tailor/. cuda_elf.cpp reads the ELF around the fat binaries (sections,
// segments, the .nvFatBinSegment wrappers and what the dynamic linker makes of their `data`
// pointers, and every relocation or symbol that points into .nv_fatbin); cuda_fatbin.cpp parses
// .nv_fatbin exactly (containers tiling the section, nothing lenient) and decides which entries a
// container keeps. Every reader is bounds-checked: the bytes are an untrusted image file, and
// every failure is a sentence naming the thing and where it is.
#pragma once

#include "device_code/format.hpp"
#include "elf/sections.hpp"
#include "gpu_vendors/nvidia/fatbin.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gantry::gpu_vendors::nvidia::cuda_detail {

std::string hex(std::uint64_t v); // "0x8e990"

inline constexpr std::uint32_t kWrapperMagic = 0x466243b1;
inline constexpr std::uint32_t kContainerMagic = 0xBA55ED50;
inline constexpr std::uint64_t kWrapperSize = 24, kContainerHeader = 16;

// One __fatBinC_Wrapper_t of .nvFatBinSegment and where its `data` points once loaded.
struct Wrapper {
    std::size_t index = 0;
    std::uint64_t at = 0; // file offset of the wrapper
    std::uint32_t version = 0;
    std::uint64_t data = 0; // the container's virtual address, as the dynamic linker makes it
    bool relocated = false; // from a RELATIVE relocation (else the stored value)
};

// What the dynamic relocations and the symbol tables say about [lo, hi), a range of virtual
// addresses (.nv_fatbin): the wrappers' `data` values, and every other pointer into the range.
struct Pointers {
    std::vector<Wrapper> wrappers;
    std::vector<std::pair<std::uint64_t, std::string>> into; // (vaddr, "relocation at 0x..")
};

// Reads the wrappers of `seg` (.nvFatBinSegment) and every relocation / symbol pointing into
// [lo, hi). Returns "" or why the file must be refused (bad wrapper magic or version, a wrapper
// relocated by something other than a RELATIVE relocation, a relocation that patches bytes in
// [lo_off, hi_off) of the file, malformed tables).
std::string read_pointers(std::string_view f, const elf::Table& table, const elf::Section& seg,
                          std::uint64_t lo, std::uint64_t hi, std::uint64_t lo_off,
                          std::uint64_t hi_off, Pointers& out);

struct Entry {
    std::uint64_t off = 0; // file offset of the entry header
    std::uint32_t header = 0;
    std::uint64_t payload = 0;
    std::uint16_t kind = 0; // 1 PTX, 2 SASS, 4 old cubin, 8 LTO-IR
    unsigned arch = 0;
    nvidia::ArchVariant variant = nvidia::ArchVariant::plain;
    std::uint64_t size() const { return header + payload; }
    std::string arch_name() const; // nvidia::FatbinEntry::arch_name(): "sm_90a", "compute_120"
};

struct Container {
    std::uint64_t off = 0; // file offset of the container header
    std::uint64_t fat = 0; // fatSize: bytes of entries after the 16-byte header
    std::vector<Entry> entries;
    std::uint64_t end() const { return off + kContainerHeader + fat; }
};

// Parses the bytes [off, off + size) of `f` (the section `name`) as containers laid end to end:
// 8-aligned starts, only zero bytes between them, magic / version 1 / header size 16, entries of
// known kinds and versions whose sizes sum exactly to fatSize, nothing past the section. Returns
// "" or the first thing that does not parse, with its file offset.
std::string parse_exact(std::string_view f, std::uint64_t off, std::uint64_t size,
                        const std::string& name, std::vector<Container>& out);

// The keep rule (tailor/cuda.hpp). `usable`: the entry is one some kept device could load;
// `keep`: it stays (usable, the newest non-`a` PTX unless kNoPtx, LTO-IR).
struct Choice {
    std::vector<bool> keep;
    bool any_usable = false;
    std::size_t kept = 0;
};
Choice choose(const Container& c, const device_code::KeepSet& keep);

// One container to rewrite: which of its entries stay, and its new fatSize.
struct Plan {
    std::size_t container = 0; // index into the parsed containers
    std::vector<bool> keep;
    std::uint64_t new_fat = 0;
};

// SHA-256 of every byte of `f` outside the planned containers' ranges [off, end()).
std::string outside_digest(std::string_view f, const std::vector<Container>& cs,
                           const std::vector<Plan>& plans);

// The proof of a rewrite (cuda_proof.cpp): `f` is the result, `originals[i]` the original bytes
// of plans[i]'s container, `digest` outside_digest() of the original. Returns "" or what failed.
std::string prove(std::string_view f, const elf::Section& nv, const std::vector<Container>& cs,
                  const std::vector<Plan>& plans, const std::vector<std::string>& originals,
                  const std::string& digest);

} // namespace gantry::gpu_vendors::nvidia::cuda_detail
