// tailor/cuda_pointers: what points into a CUDA file's .nv_fatbin (cuda_detail.hpp): the
// .nvFatBinSegment wrappers, dynamic relocations and symbols, over the section table elf/sections
// read.
#include "elf/headers.hpp"
#include "gpu_vendors/nvidia/tailor_cuda_detail.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <unordered_map>

namespace gantry::gpu_vendors::nvidia::cuda_detail {

namespace {

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

std::string read_pointers(std::string_view f, const elf::Table& table, const elf::Section& seg,
                          std::uint64_t lo, std::uint64_t hi, std::uint64_t lo_off,
                          std::uint64_t hi_off, Pointers& out) {
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

    const std::uint32_t relative = table.machine == elf::em_x86_64    ? kRelativeX86_64
                                   : table.machine == elf::em_aarch64 ? kRelativeAarch64
                                                                      : 0;
    auto symbol_value = [&](const elf::Section& symtab, std::uint64_t idx,
                            std::uint64_t& v) -> bool { // false: undefined or out of range
        std::uint64_t at = symtab.off + idx * 24;
        if (idx * 24 >= symtab.size || !fits(f, at, 24)) return false;
        if (get<std::uint16_t>(f, at + 6) == 0) return false; // SHN_UNDEF
        v = get<std::uint64_t>(f, at + 8);
        return true;
    };
    // Dynamic relocations: every SHT_RELA section the loader maps (.rela.dyn, .rela.plt).
    for (auto& r : table.sections) {
        if (r.type != elf::sht_rela || !(r.flags & elf::shf_alloc) || !r.has_bytes()) continue;
        if (r.size % 24 != 0)
            return r.name + " is " + std::to_string(r.size) + " bytes, not whole 24-byte entries";
        const elf::Section* dynsym =
            r.link < table.sections.size() ? &table.sections[r.link] : nullptr;
        for (std::uint64_t at = r.off; at < r.off + r.size; at += 24) {
            auto where = get<std::uint64_t>(f, at);
            auto info = get<std::uint64_t>(f, at + 8);
            auto addend = get<std::uint64_t>(f, at + 16);
            auto type = static_cast<std::uint32_t>(info);
            auto sym = info >> 32;
            if (auto o = table.vaddr_to_off(where); o && *o + 8 > lo_off && *o < hi_off)
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
    for (auto& t : table.sections) {
        if ((t.type != elf::sht_symtab && t.type != elf::sht_dynsym) || !t.has_bytes()) continue;
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
