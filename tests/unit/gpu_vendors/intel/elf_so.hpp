// A hand-made little-endian ELF64 shared object with a SONAME and DT_NEEDED entries: one PT_LOAD
// over the file and PT_DYNAMIC, what elf::read_file needs (the Intel user-space tests' driver
// libraries and their dependencies).
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace intel_unit {

inline std::string elf_so(const std::string& soname, const std::vector<std::string>& needed = {}) {
    auto put = [](std::string& b, std::size_t off, auto v) {
        std::memcpy(b.data() + off, &v, sizeof v);
    };
    std::string strtab(1, '\0');
    std::vector<std::pair<std::uint64_t, std::uint64_t>> dyn;
    auto add = [&](std::uint64_t tag, const std::string& s) {
        dyn.push_back({tag, strtab.size()});
        strtab += s + '\0';
    };
    for (const auto& n : needed) add(1, n); // DT_NEEDED
    if (!soname.empty()) add(14, soname);   // DT_SONAME
    const std::size_t str_off = 64 + 2 * 56;
    const std::size_t dyn_off = (str_off + strtab.size() + 7) & ~std::size_t{7};
    dyn.push_back({5, str_off});        // DT_STRTAB
    dyn.push_back({10, strtab.size()}); // DT_STRSZ
    dyn.push_back({0, 0});
    const std::size_t total = dyn_off + dyn.size() * 16;
    std::string b(total, '\0');
    std::memcpy(b.data(),
                "\x7f"
                "ELF",
                4);
    b[4] = 2, b[5] = 1, b[6] = 1;
    put(b, 16, std::uint16_t{3});  // ET_DYN
    put(b, 18, std::uint16_t{62}); // EM_X86_64
    put(b, 20, std::uint32_t{1});
    put(b, 32, std::uint64_t{64}); // e_phoff
    put(b, 52, std::uint16_t{64});
    put(b, 54, std::uint16_t{56});
    put(b, 56, std::uint16_t{2});
    auto phdr = [&](std::size_t i, std::uint32_t type, std::uint64_t off, std::uint64_t size) {
        std::size_t at = 64 + i * 56;
        put(b, at, type);
        put(b, at + 4, std::uint32_t{4});
        put(b, at + 8, off), put(b, at + 16, off), put(b, at + 24, off);
        put(b, at + 32, size), put(b, at + 40, size), put(b, at + 48, std::uint64_t{8});
    };
    phdr(0, 1, 0, total);
    phdr(1, 2, dyn_off, dyn.size() * 16);
    std::memcpy(b.data() + str_off, strtab.data(), strtab.size());
    for (std::size_t i = 0; i < dyn.size(); ++i) {
        put(b, dyn_off + i * 16, dyn[i].first);
        put(b, dyn_off + i * 16 + 8, dyn[i].second);
    }
    return b;
}

} // namespace intel_unit
