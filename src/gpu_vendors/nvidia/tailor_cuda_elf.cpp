// tailor/cuda_elf: the ELF around CUDA fat binaries (cuda_detail.hpp): headers, sections,
// PT_LOAD segments, .nvFatBinSegment wrappers, dynamic relocations and symbols.
#include "gpu_vendors/nvidia/tailor_cuda_detail.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <unordered_map>

namespace gantry::gpu_vendors::nvidia::cuda_detail {

namespace {

constexpr std::uint32_t kShtSymtab = 2, kShtRela = 4, kShtDynsym = 11, kPtLoad = 1;
constexpr std::uint64_t kShfAlloc = 2;
constexpr std::uint16_t kEmX86_64 = 62, kEmAarch64 = 183;
constexpr std::uint32_t kRelativeX86_64 = 8, kRelativeAarch64 = 1027;

// Bounds-checked little-endian read; false when [off, off + sizeof(T)) leaves `f`.
template <typename T>
bool rd(std::string_view f, std::uint64_t off, T& out) {
    if (off > f.size() || sizeof(T) > f.size() - off) return false;
    std::memcpy(&out, f.data() + off, sizeof(T)); // hosts are little-endian (x86_64, aarch64)
    return true;
}
template <typename T>
T get(std::string_view f, std::uint64_t off) {
    T v{};
    rd(f, off, v);
    return v;
}
bool fits(std::string_view f, std::uint64_t off, std::uint64_t len) {
    return off <= f.size() && len <= f.size() - off;
}

} // namespace

std::string hex(std::uint64_t v) {
    char buf[24];
    std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
    return buf;
}

const Section* Elf::find(std::string_view name) const {
    for (auto& s : sections)
        if (s.name == name) return &s;
    return nullptr;
}

std::optional<std::uint64_t> Elf::vaddr_to_off(std::uint64_t v) const {
    for (auto& l : loads)
        if (v >= l.vaddr && v - l.vaddr < l.filesz) return l.off + (v - l.vaddr);
    return std::nullopt;
}

const Section* Elf::section_at(std::uint64_t off) const {
    for (auto& s : sections)
        if (s.has_bytes() && off >= s.off && off - s.off < s.size) return &s;
    return nullptr;
}

ElfRead read_elf(std::string_view f, Elf& out, std::string& why) {
    if (f.size() < 64 ||
        std::memcmp(f.data(),
                    "\x7f"
                    "ELF",
                    4) != 0 ||
        f[4] != 2 || f[5] != 1)
        return ElfRead::not_elf;
    out.type = get<std::uint16_t>(f, 0x10);
    out.machine = get<std::uint16_t>(f, 0x12);

    std::uint64_t phoff = get<std::uint64_t>(f, 0x20);
    std::uint16_t phentsize = get<std::uint16_t>(f, 0x36), phnum = get<std::uint16_t>(f, 0x38);
    if (phnum && (phentsize < 56 || !fits(f, phoff, std::uint64_t{phnum} * phentsize))) {
        why = "program header table (" + std::to_string(phnum) + " entries at " + hex(phoff) +
              ") lies outside the file";
        return ElfRead::malformed;
    }
    for (std::uint64_t i = 0; i < phnum; ++i) {
        std::uint64_t h = phoff + i * phentsize;
        if (get<std::uint32_t>(f, h) != kPtLoad) continue;
        Segment s{get<std::uint64_t>(f, h + 8), get<std::uint64_t>(f, h + 16),
                  get<std::uint64_t>(f, h + 32)};
        if (!fits(f, s.off, s.filesz)) {
            why = "PT_LOAD segment " + std::to_string(i) + " lies outside the file";
            return ElfRead::malformed;
        }
        out.loads.push_back(s);
    }

    std::uint64_t shoff = get<std::uint64_t>(f, 0x28);
    std::uint16_t shentsize = get<std::uint16_t>(f, 0x3a);
    std::uint64_t shnum = get<std::uint16_t>(f, 0x3c);
    std::uint32_t shstrndx = get<std::uint16_t>(f, 0x3e);
    if (shoff == 0) return ElfRead::no_sections;
    if (shentsize != 64 || !fits(f, shoff, 64)) {
        why = "section header table at " + hex(shoff) + " is malformed";
        return ElfRead::malformed;
    }
    if (shnum == 0) shnum = get<std::uint64_t>(f, shoff + 32);            // extended numbering
    if (shstrndx == 0xffff) shstrndx = get<std::uint32_t>(f, shoff + 40); // SHN_XINDEX
    if (shnum > (f.size() - shoff) / 64 || shstrndx >= shnum) {
        why = "section header table at " + hex(shoff) + " (" + std::to_string(shnum) +
              " headers) does not fit the file";
        return ElfRead::malformed;
    }
    out.sections.resize(shnum);
    for (std::uint64_t i = 0; i < shnum; ++i) {
        std::uint64_t h = shoff + i * 64;
        auto& s = out.sections[i];
        s.type = get<std::uint32_t>(f, h + 4);
        s.flags = get<std::uint64_t>(f, h + 8);
        s.addr = get<std::uint64_t>(f, h + 16);
        s.off = get<std::uint64_t>(f, h + 24);
        s.size = get<std::uint64_t>(f, h + 32);
        s.link = get<std::uint32_t>(f, h + 40);
        s.entsize = get<std::uint64_t>(f, h + 56);
        if (s.has_bytes() && !fits(f, s.off, s.size)) {
            why = "section " + std::to_string(i) + " (" + hex(s.off) + ", " +
                  std::to_string(s.size) + " bytes) lies outside the file";
            return ElfRead::malformed;
        }
    }
    const Section& strtab = out.sections[shstrndx];
    for (std::uint64_t i = 0; i < shnum; ++i) {
        std::uint64_t h = shoff + i * 64;
        std::uint32_t n = get<std::uint32_t>(f, h);
        if (strtab.has_bytes() && n < strtab.size) {
            const char* p = f.data() + strtab.off + n;
            out.sections[i].name.assign(p, strnlen(p, strtab.size - n));
        }
        if (out.sections[i].name.empty())
            out.sections[i].name = "section[" + std::to_string(i) + "]";
    }
    return ElfRead::ok;
}

std::string read_pointers(std::string_view f, const Elf& elf, const Section& seg, std::uint64_t lo,
                          std::uint64_t hi, std::uint64_t lo_off, std::uint64_t hi_off,
                          Pointers& out) {
    if (seg.size % kWrapperSize != 0)
        return ".nvFatBinSegment is " + std::to_string(seg.size) +
               " bytes, not a whole number of 24-byte wrappers";
    // The wrappers, with their stored `data` values.
    std::unordered_map<std::uint64_t, std::size_t> by_field; // vaddr of `data` -> wrapper index
    for (std::uint64_t i = 0; i < seg.size / kWrapperSize; ++i) {
        std::uint64_t at = seg.off + i * kWrapperSize;
        Wrapper w;
        w.index = i;
        w.at = at;
        w.version = get<std::uint32_t>(f, at + 4);
        w.data = get<std::uint64_t>(f, at + 8);
        auto magic = get<std::uint32_t>(f, at);
        if (magic != kWrapperMagic)
            return "wrapper #" + std::to_string(i) + " at " + hex(at) +
                   " in .nvFatBinSegment has magic " + hex(magic) + ", not " + hex(kWrapperMagic);
        if (w.version != 1 && w.version != 2)
            return "wrapper #" + std::to_string(i) + " at " + hex(at) + " has unknown version " +
                   std::to_string(w.version);
        by_field[seg.addr + i * kWrapperSize + 8] = out.wrappers.size();
        out.wrappers.push_back(w);
    }

    const std::uint32_t relative = elf.machine == kEmX86_64    ? kRelativeX86_64
                                   : elf.machine == kEmAarch64 ? kRelativeAarch64
                                                               : 0;
    auto symbol_value = [&](const Section& symtab, std::uint64_t idx,
                            std::uint64_t& v) -> bool { // false: undefined or out of range
        std::uint64_t at = symtab.off + idx * 24;
        if (idx * 24 >= symtab.size || !fits(f, at, 24)) return false;
        if (get<std::uint16_t>(f, at + 6) == 0) return false; // SHN_UNDEF
        v = get<std::uint64_t>(f, at + 8);
        return true;
    };
    // Dynamic relocations: every SHT_RELA section the loader maps (.rela.dyn, .rela.plt).
    for (auto& r : elf.sections) {
        if (r.type != kShtRela || !(r.flags & kShfAlloc) || !r.has_bytes()) continue;
        if (r.size % 24 != 0)
            return r.name + " is " + std::to_string(r.size) + " bytes, not whole 24-byte entries";
        const Section* dynsym = r.link < elf.sections.size() ? &elf.sections[r.link] : nullptr;
        for (std::uint64_t at = r.off; at < r.off + r.size; at += 24) {
            auto where = get<std::uint64_t>(f, at);
            auto info = get<std::uint64_t>(f, at + 8);
            auto addend = get<std::uint64_t>(f, at + 16);
            auto type = static_cast<std::uint32_t>(info);
            auto sym = info >> 32;
            if (auto o = elf.vaddr_to_off(where); o && *o + 8 > lo_off && *o < hi_off)
                return "relocation at " + hex(at) + " in " + r.name + " patches " + hex(where) +
                       ", inside .nv_fatbin";
            std::uint64_t target = addend, s = 0;
            if (sym != 0) {
                if (!dynsym || !symbol_value(*dynsym, sym, s)) continue; // resolved elsewhere
                target = s + addend;
            }
            if (auto it = by_field.find(where); it != by_field.end()) {
                auto& w = out.wrappers[it->second];
                if (type != relative || sym != 0)
                    return "wrapper #" + std::to_string(w.index) + " at " + hex(w.at) +
                           " is relocated by type " + std::to_string(type) + " (" + r.name +
                           "), not a RELATIVE relocation";
                w.data = addend;
                w.relocated = true;
                continue;
            }
            if (target >= lo && target < hi)
                out.into.emplace_back(target, "relocation at " + hex(at) + " in " + r.name);
        }
    }
    // Symbols (.dynsym, .symtab): nvcc's local fatbinData symbols sit at container starts.
    for (auto& t : elf.sections) {
        if ((t.type != kShtSymtab && t.type != kShtDynsym) || !t.has_bytes()) continue;
        for (std::uint64_t at = t.off; at + 24 <= t.off + t.size; at += 24) {
            if (get<std::uint16_t>(f, at + 6) == 0) continue; // undefined
            auto type = get<std::uint8_t>(f, at + 4) & 0xf;
            if (type == 4 /*STT_FILE*/) continue;
            auto v = get<std::uint64_t>(f, at + 8);
            if (v >= lo && v < hi)
                out.into.emplace_back(v, "symbol at " + hex(at) + " in " + t.name);
        }
    }
    return {};
}

} // namespace gantry::gpu_vendors::nvidia::cuda_detail
