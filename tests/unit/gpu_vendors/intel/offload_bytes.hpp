// Builders of the offload containers the Intel reader takes (gpu_vendors/intel/offload.hpp), in
// the layouts clang writes (docs/reference/intel-gpu.md §6): ELF64 files with named sections,
// binary clang offload bundles and OffloadBinary blobs; device images as SPIR-V (magic 0x07230203)
// or an EM_INTELGT (205) ELF header.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace intel_unit {

inline void put_le(std::string& s, std::uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

inline std::string spirv_image() {
    std::string s;
    put_le(s, 0x07230203, 4);
    put_le(s, 0x00010400, 4);
    s.append(12, '\0');
    return s;
}

inline std::string zebin_image() {
    std::string s("\x7f"
                  "ELF\x02\x01\x01",
                  7);
    s.resize(18, '\0');
    put_le(s, 205, 2); // EM_INTELGT
    s.resize(64, '\0');
    return s;
}

// An ELF64 little-endian relocatable file holding SECTIONS (name, bytes), plus .shstrtab.
inline std::string elf_with(const std::vector<std::pair<std::string, std::string>>& sections) {
    std::string names(1, '\0');
    std::vector<std::uint32_t> name_off;
    for (auto& [n, d] : sections) {
        name_off.push_back(static_cast<std::uint32_t>(names.size()));
        names += n + '\0';
    }
    std::uint32_t shstr_name = static_cast<std::uint32_t>(names.size());
    names += std::string(".shstrtab") + '\0';
    std::string body;
    std::vector<std::pair<std::uint64_t, std::uint64_t>> where;
    std::uint64_t at = 64;
    for (auto& [n, d] : sections) {
        where.emplace_back(at, d.size());
        body += d;
        at += d.size();
    }
    where.emplace_back(at, names.size());
    body += names;
    at += names.size();
    while (at % 8) {
        body.push_back('\0');
        ++at;
    }
    std::uint64_t shoff = at;
    std::uint16_t shnum = static_cast<std::uint16_t>(sections.size() + 2);
    std::string h("\x7f"
                  "ELF\x02\x01\x01",
                  7);
    h.resize(16, '\0');
    put_le(h, 1, 2);  // ET_REL
    put_le(h, 62, 2); // x86-64
    put_le(h, 1, 4);
    put_le(h, 0, 8);
    put_le(h, 0, 8);
    put_le(h, shoff, 8);
    put_le(h, 0, 4);
    put_le(h, 64, 2);
    put_le(h, 0, 2);
    put_le(h, 0, 2);
    put_le(h, 64, 2);
    put_le(h, shnum, 2);
    put_le(h, shnum - 1, 2);
    std::string sh(64, '\0'); // the null section
    for (std::size_t i = 0; i < where.size(); ++i) {
        std::string e;
        put_le(e, i < sections.size() ? name_off[i] : shstr_name, 4);
        put_le(e, i < sections.size() ? 1 : 3, 4); // PROGBITS, STRTAB
        put_le(e, 0, 8);
        put_le(e, 0, 8);
        put_le(e, where[i].first, 8);
        put_le(e, where[i].second, 8);
        e.resize(64, '\0');
        sh += e;
    }
    return h + body + sh;
}

// A binary clang offload bundle of ENTRIES (id, bytes).
inline std::string bundle(const std::vector<std::pair<std::string, std::string>>& entries) {
    std::string head = "__CLANG_OFFLOAD_BUNDLE__";
    put_le(head, entries.size(), 8);
    std::size_t table = head.size();
    for (auto& [id, d] : entries) table += 24 + id.size();
    std::string out = head, data;
    std::uint64_t at = table;
    for (auto& [id, d] : entries) {
        put_le(out, at, 8);
        put_le(out, d.size(), 8);
        put_le(out, id.size(), 8);
        out += id;
        data += d;
        at += d.size();
    }
    return out + data;
}

// One OffloadBinary (version 1) holding IMAGE with the given kinds and strings.
inline std::string offload_binary(std::uint16_t image_kind, std::uint16_t offload_kind,
                                  const std::vector<std::pair<std::string, std::string>>& strings,
                                  const std::string& image) {
    std::string strtab;
    std::vector<std::pair<std::uint64_t, std::uint64_t>> offs;
    const std::uint64_t header = 32, entry = 40;
    const std::uint64_t table_at = header + entry;
    const std::uint64_t str_at = table_at + 16 * strings.size();
    for (auto& [k, v] : strings) {
        std::uint64_t ko = str_at + strtab.size();
        strtab += k + '\0';
        std::uint64_t vo = str_at + strtab.size();
        strtab += v + '\0';
        offs.emplace_back(ko, vo);
    }
    std::uint64_t image_at = str_at + strtab.size();
    while (image_at % 8) {
        strtab.push_back('\0');
        ++image_at;
    }
    std::uint64_t size = image_at + image.size();
    std::string s("\x10\xff\x10\xad", 4);
    put_le(s, 1, 4);
    put_le(s, size, 8);
    put_le(s, header, 8);
    put_le(s, entry, 8);
    put_le(s, image_kind, 2);
    put_le(s, offload_kind, 2);
    put_le(s, 0, 4);
    put_le(s, table_at, 8);
    put_le(s, strings.size(), 8);
    put_le(s, image_at, 8);
    put_le(s, image.size(), 8);
    for (auto& [k, v] : offs) {
        put_le(s, k, 8);
        put_le(s, v, 8);
    }
    return s + strtab + image;
}

// One entry of a version 2 or 3 OffloadBinary.
struct OffloadEntry {
    std::uint16_t image_kind, offload_kind;
    std::vector<std::pair<std::string, std::string>> strings;
    std::string image;
};

// An OffloadBinary of VERSION 2 or 3 (LLVM's current writer): several entries, string entries
// of key offset, value offset and value size (values without a NUL); version 3's header adds
// InflatedSize (INFLATED, 0: not compressed).
inline std::string offload_binary_v(std::uint32_t version, const std::vector<OffloadEntry>& es,
                                    std::uint64_t inflated = 0) {
    const std::uint64_t header = version >= 3 ? 40 : 32;
    std::uint64_t nstrings = 0;
    for (auto& e : es) nstrings += e.strings.size();
    const std::uint64_t str_entries = header + 40 * es.size();
    const std::uint64_t strtab_at = str_entries + 24 * nstrings;
    std::string strtab, table, entries, images;
    std::uint64_t at_string = str_entries;
    std::vector<std::uint64_t> image_at;
    for (auto& e : es)
        for (auto& [k, v] : e.strings) {
            put_le(table, strtab_at + strtab.size(), 8);
            strtab += k + '\0';
            put_le(table, strtab_at + strtab.size(), 8);
            put_le(table, v.size(), 8);
            strtab += v; // the size says where it ends
        }
    while ((strtab_at + strtab.size()) % 8) strtab.push_back('\0');
    std::uint64_t image_at_now = strtab_at + strtab.size();
    for (auto& e : es) {
        put_le(entries, e.image_kind, 2);
        put_le(entries, e.offload_kind, 2);
        put_le(entries, 0, 4);
        put_le(entries, at_string, 8);
        put_le(entries, e.strings.size(), 8);
        put_le(entries, image_at_now, 8);
        put_le(entries, e.image.size(), 8);
        at_string += 24 * e.strings.size();
        image_at_now += e.image.size();
        images += e.image;
    }
    std::string s("\x10\xff\x10\xad", 4);
    put_le(s, version, 4);
    put_le(s, image_at_now, 8);
    put_le(s, header, 8);
    put_le(s, es.size(), 8);
    if (version >= 3) put_le(s, inflated, 8);
    return s + entries + table + strtab + images;
}

} // namespace intel_unit
