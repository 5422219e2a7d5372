#include "compat/elf_bytes.hpp"

#include <algorithm>

namespace gantry::compat {

bool is_elf64le(Bytes f) {
    return f.has(0, 64) &&
           std::memcmp(f.p,
                       "\x7f"
                       "ELF",
                       4) == 0 &&
           f.p[4] == 2 && f.p[5] == 1;
}

std::vector<Region> elf_regions(Bytes f, std::vector<std::string>& problems) {
    std::vector<Region> out;
    std::uint64_t shoff = f.get<std::uint64_t>(0x28);
    std::uint16_t shentsize = f.get<std::uint16_t>(0x3a);
    std::uint64_t shnum = f.get<std::uint16_t>(0x3c);
    std::uint32_t shstrndx = f.get<std::uint16_t>(0x3e);
    if (shoff && shentsize >= 64 && f.has(shoff, 64)) {
        if (shnum == 0) shnum = f.get<std::uint64_t>(shoff + 32);            // extended numbering
        if (shstrndx == 0xffff) shstrndx = f.get<std::uint32_t>(shoff + 40); // SHN_XINDEX
        std::uint64_t fits = (f.n - shoff) / shentsize;
        if (shnum > fits) {
            problems.push_back("section header table is truncated (" + std::to_string(shnum) +
                               " headers declared, " + std::to_string(fits) + " fit)");
            shnum = fits;
        }
        Bytes strtab;
        if (shstrndx < shnum) {
            std::uint64_t h = shoff + std::uint64_t{shstrndx} * shentsize;
            strtab = f.sub(f.get<std::uint64_t>(h + 24), f.get<std::uint64_t>(h + 32));
        }
        for (std::uint64_t i = 1; i < shnum; ++i) {
            std::uint64_t h = shoff + i * shentsize;
            auto type = f.get<std::uint32_t>(h + 4);
            auto off = f.get<std::uint64_t>(h + 24);
            auto size = f.get<std::uint64_t>(h + 32);
            if (type == 0 || type == kShtNobits || size == 0) continue;
            std::string name;
            auto name_off = f.get<std::uint32_t>(h);
            if (name_off < strtab.n) {
                auto* s = reinterpret_cast<const char*>(strtab.p + name_off);
                name.assign(s, strnlen(s, strtab.n - name_off));
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
    if (out.empty()) {
        std::uint64_t phoff = f.get<std::uint64_t>(0x20);
        std::uint16_t phentsize = f.get<std::uint16_t>(0x36);
        std::uint64_t phnum = f.get<std::uint16_t>(0x38);
        if (phoff && phentsize >= 56 && phoff < f.n) {
            phnum = std::min<std::uint64_t>(phnum, (f.n - phoff) / phentsize);
            for (std::uint64_t i = 0; i < phnum; ++i) {
                std::uint64_t h = phoff + i * phentsize;
                if (f.get<std::uint32_t>(h) != kPtLoad) continue;
                auto off = f.get<std::uint64_t>(h + 8);
                auto size = f.get<std::uint64_t>(h + 32);
                if (off >= f.n || size == 0) continue;
                size = std::min(size, f.n - off);
                out.push_back({off, size, "PT_LOAD[" + std::to_string(i) + "]"});
            }
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

} // namespace gantry::compat
