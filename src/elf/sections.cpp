#include "elf/sections.hpp"

#include "elf/headers.hpp"
#include "util/text.hpp"

#include <algorithm>
#include <cstring>

namespace gantry::elf {

const Section* Table::find(std::string_view name) const {
    for (auto& s : sections)
        if (s.name == name) return &s;
    return nullptr;
}

std::optional<std::uint64_t> Table::vaddr_to_off(std::uint64_t v) const {
    for (auto& l : loads)
        if (v >= l.vaddr && v - l.vaddr < l.filesz) return l.off + (v - l.vaddr);
    return std::nullopt;
}

const Section* Table::section_at(std::uint64_t off) const {
    for (auto& s : sections)
        if (s.has_bytes() && off >= s.off && off - s.off < s.size) return &s;
    return nullptr;
}

TableRead read_table(std::string_view data, Table& out, std::string& why) {
    Bytes f = Bytes::of(data);
    if (!is_elf64le(f)) return TableRead::not_elf;
    const Header h = header(f);
    out.type = h.type;
    out.machine = h.machine;

    if (h.phnum && (h.phentsize < program_header_size(true) ||
                    !f.has(h.phoff, std::uint64_t{h.phnum} * h.phentsize))) {
        why = "program header table (" + std::to_string(h.phnum) + " entries at " +
              text::hex(h.phoff) + ") lies outside the file";
        return TableRead::malformed;
    }
    for (std::uint64_t i = 0; i < h.phnum; ++i) {
        ProgramHeader p = program_header(f, h, i);
        if (p.type != pt_load) continue;
        Segment s{p.offset, p.vaddr, p.filesz};
        if (!f.has(s.off, s.filesz)) {
            why = "PT_LOAD segment " + std::to_string(i) + " lies outside the file";
            return TableRead::malformed;
        }
        out.loads.push_back(s);
    }

    if (h.shoff == 0) return TableRead::no_sections;
    if (h.shentsize != section_header_size(true) || !f.has(h.shoff, 64)) {
        why = "section header table at " + text::hex(h.shoff) + " is malformed";
        return TableRead::malformed;
    }
    std::uint64_t shnum = section_count(f, h);
    std::uint32_t shstrndx = section_names_index(f, h);
    if (shnum > (f.n - h.shoff) / 64 || shstrndx >= shnum) {
        why = "section header table at " + text::hex(h.shoff) + " (" + std::to_string(shnum) +
              " headers) does not fit the file";
        return TableRead::malformed;
    }
    out.sections.resize(shnum);
    std::vector<std::uint32_t> names(shnum);
    for (std::uint64_t i = 0; i < shnum; ++i) {
        SectionHeader sh = section_header(f, h, i);
        auto& s = out.sections[i];
        names[i] = sh.name;
        s.type = sh.type;
        s.flags = sh.flags;
        s.addr = sh.addr;
        s.off = sh.offset;
        s.size = sh.size;
        s.link = sh.link;
        s.entsize = sh.entsize;
        if (s.has_bytes() && !f.has(s.off, s.size)) {
            why = "section " + std::to_string(i) + " (" + text::hex(s.off) + ", " +
                  std::to_string(s.size) + " bytes) lies outside the file";
            return TableRead::malformed;
        }
    }
    const Section& strtab = out.sections[shstrndx];
    for (std::uint64_t i = 0; i < shnum; ++i) {
        std::uint32_t n = names[i];
        if (strtab.has_bytes() && n < strtab.size) {
            const char* p = data.data() + strtab.off + n;
            out.sections[i].name.assign(p, strnlen(p, strtab.size - n));
        }
        if (out.sections[i].name.empty())
            out.sections[i].name = "section[" + std::to_string(i) + "]";
    }
    return TableRead::ok;
}

std::vector<Region> regions(Bytes f, std::vector<std::string>& problems) {
    std::vector<Region> out;
    const Header h = header(f);
    if (h.shoff && h.shentsize >= 64 && f.has(h.shoff, 64)) {
        std::uint64_t shnum = section_count(f, h);
        std::uint32_t shstrndx = section_names_index(f, h);
        std::uint64_t fits = (f.n - h.shoff) / h.shentsize;
        if (shnum > fits) {
            problems.push_back("section header table is truncated (" + std::to_string(shnum) +
                               " headers declared, " + std::to_string(fits) + " fit)");
            shnum = fits;
        }
        Bytes strtab;
        if (shstrndx < shnum) {
            SectionHeader st = section_header(f, h, shstrndx);
            strtab = f.sub(st.offset, st.size);
        }
        for (std::uint64_t i = 1; i < shnum; ++i) {
            SectionHeader sh = section_header(f, h, i);
            std::uint64_t off = sh.offset, size = sh.size;
            if (sh.type == sht_null || sh.type == sht_nobits || size == 0) continue;
            std::string name;
            if (sh.name < strtab.n) {
                auto* s = reinterpret_cast<const char*>(strtab.p + sh.name);
                name.assign(s, strnlen(s, strtab.n - sh.name));
            }
            if (name.empty()) name = "section[" + std::to_string(i) + "]";
            if (off >= f.n) {
                problems.push_back(name + " lies outside the file");
                continue;
            }
            if (size > f.n - off) {
                problems.push_back(name + " extends past the end of the file");
                size = f.n - off;
            }
            out.push_back({off, size, name});
        }
    }
    if (out.empty() && h.phoff && h.phentsize >= 56 && h.phoff < f.n) {
        std::uint64_t phnum = std::min<std::uint64_t>(h.phnum, (f.n - h.phoff) / h.phentsize);
        for (std::uint64_t i = 0; i < phnum; ++i) {
            ProgramHeader p = program_header(f, h, i);
            if (p.type != pt_load || p.offset >= f.n || p.filesz == 0) continue;
            out.push_back({p.offset, std::min(p.filesz, f.n - p.offset),
                           "PT_LOAD[" + std::to_string(i) + "]"});
        }
    }
    std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.off < b.off; });
    std::uint64_t covered = 0;
    std::vector<Region> trimmed;
    for (auto& r : out) {
        std::uint64_t end = r.off + r.len;
        if (end <= covered) continue;
        if (r.off < covered) {
            r.len = end - covered;
            r.off = covered;
        }
        covered = end;
        trimmed.push_back(std::move(r));
    }
    return trimmed;
}

} // namespace gantry::elf
