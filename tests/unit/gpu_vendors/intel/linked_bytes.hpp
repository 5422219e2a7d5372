// Builders of linked DPC++/SYCL programs in the layouts of docs/reference/intel-gpu.md §6 ("Linked
// programs"): an ELF64 little-endian executable (ET_EXEC at 0x400000) or position-independent
// file (ET_DYN at 0, its pointer fields zero in the file and set by R_X86_64_RELATIVE relocations
// in .rela.dyn, or holding the addend too, as GNU ld writes them), one PT_LOAD mapping the whole
// file; SYCL binary descriptors (__sycl.tgt_bin_desc, __sycl.tgt_device_image of version 2 or
// 3, property sets with "compile_target") and .tgtimg <address, size> pairs.
#pragma once

#include "offload_bytes.hpp"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace intel_unit {

class Linked {
  public:
    explicit Linked(bool pie, bool addend_in_place = false)
        : pie_(pie), in_place_(addend_in_place), base_(pie ? 0 : 0x400000) {}

    std::uint64_t base() const { return base_; }
    static constexpr std::uint64_t kData = 128; // where the data starts in the file

    // Starts section NAME (TYPE: PROGBITS; allocated) at the current end.
    void section(const std::string& name, std::uint32_t type = 1) {
        secs_.push_back({name, type, 2, end(), end(), 0});
    }
    // Appends BYTES aligned to ALIGN to the current section; returns their address.
    std::uint64_t put(const std::string& bytes, std::size_t align = 1) {
        while (data_.size() % align) data_.push_back('\0');
        std::uint64_t a = base_ + kData + data_.size();
        data_ += bytes;
        secs_.back().end = end();
        return a;
    }
    // Appends BYTES with pointer fields PTRS (offset in BYTES, target address): written in place
    // (fixed-address), or relocated (PIE).
    std::uint64_t put_struct(std::string bytes,
                             const std::vector<std::pair<std::size_t, std::uint64_t>>& ptrs) {
        while (data_.size() % 8) data_.push_back('\0');
        std::uint64_t a = base_ + kData + data_.size();
        for (auto& [off, target] : ptrs) {
            std::string v;
            put_le(v, pie_ && !in_place_ ? 0 : target, 8);
            bytes.replace(off, 8, v);
            if (pie_ && target != 0) relocs_.emplace_back(a + off, target);
        }
        return put(bytes, 8);
    }
    // Overwrites 8 bytes at address A (hostile variants) and its relocation, if any.
    void poke(std::uint64_t a, std::uint64_t v) {
        std::string b;
        put_le(b, v, 8);
        data_.replace(a - base_ - kData, 8, b);
        for (auto& r : relocs_)
            if (r.first == a) r.second = v;
    }

    // The file: header, program header, data, .rela.dyn (PIE), .dynstr (DYNSTR), .shstrtab and
    // the section headers.
    std::string build(const std::string& dynstr = "") {
        std::vector<Sec> secs = secs_;
        std::string body = data_;
        auto add = [&](const std::string& name, std::uint32_t type, const std::string& bytes,
                       std::uint64_t entsize) {
            while (body.size() % 8) body.push_back('\0');
            std::uint64_t at = kData + body.size();
            body += bytes;
            secs.push_back({name, type, 2, at, at + bytes.size(), entsize});
        };
        if (!relocs_.empty()) {
            std::string rela;
            for (auto& [where, addend] : relocs_) {
                put_le(rela, where, 8);
                put_le(rela, 8, 8); // R_X86_64_RELATIVE
                put_le(rela, addend, 8);
            }
            add(".rela.dyn", 4, rela, 24);
        }
        if (!dynstr.empty()) add(".dynstr", 3, std::string(1, '\0') + dynstr + '\0', 0);
        std::uint64_t load_end = kData + body.size();
        std::string names(1, '\0');
        std::vector<std::uint32_t> name_at;
        for (auto& s : secs) {
            name_at.push_back(static_cast<std::uint32_t>(names.size()));
            names += s.name + '\0';
        }
        std::uint32_t shstr = static_cast<std::uint32_t>(names.size());
        names += std::string(".shstrtab") + '\0';
        std::uint64_t names_at = kData + body.size();
        body += names;
        while (body.size() % 8) body.push_back('\0');
        std::uint64_t shoff = kData + body.size();
        std::uint16_t shnum = static_cast<std::uint16_t>(secs.size() + 2);
        std::string f("\x7f"
                      "ELF\x02\x01\x01",
                      7);
        f.resize(16, '\0');
        put_le(f, pie_ ? 3 : 2, 2); // ET_DYN, ET_EXEC
        put_le(f, 62, 2);
        put_le(f, 1, 4);
        put_le(f, base_ + kData, 8); // e_entry
        put_le(f, 64, 8);            // e_phoff
        put_le(f, shoff, 8);
        put_le(f, 0, 4);
        for (std::uint64_t v : {64, 56, 1, 64}) put_le(f, v, 2); // ehsize, phentsize/num, shent
        put_le(f, shnum, 2);
        put_le(f, shnum - 1, 2);
        put_le(f, 1, 4); // PT_LOAD
        put_le(f, 5, 4); // R+X
        put_le(f, 0, 8);
        put_le(f, base_, 8);
        put_le(f, base_, 8);
        put_le(f, load_end, 8);
        put_le(f, load_end, 8);
        put_le(f, 0x1000, 8);
        f.resize(kData, '\0');
        f += body;
        f += std::string(64, '\0');
        for (std::size_t i = 0; i <= secs.size(); ++i) {
            bool last = i == secs.size();
            const Sec s =
                last ? Sec{".shstrtab", 3, 0, names_at, names_at + names.size(), 0} : secs[i];
            put_le(f, last ? shstr : name_at[i], 4);
            put_le(f, s.type, 4);
            put_le(f, s.flags, 8);
            put_le(f, s.flags ? base_ + s.start : 0, 8);
            put_le(f, s.start, 8);
            put_le(f, s.end - s.start, 8);
            put_le(f, 0, 8);
            put_le(f, 8, 8);
            put_le(f, s.entsize, 8);
        }
        return f;
    }

  private:
    struct Sec {
        std::string name;
        std::uint32_t type;
        std::uint64_t flags, start, end, entsize;
    };
    std::uint64_t end() const { return kData + data_.size(); }
    bool pie_, in_place_;
    std::uint64_t base_;
    std::string data_;
    std::vector<Sec> secs_;
    std::vector<std::pair<std::uint64_t, std::uint64_t>> relocs_;
};

struct SyclImage {
    std::string target;         // DeviceTargetSpec: "spir64", "spir64_gen", a triple
    std::uint8_t format;        // v2: 1 native, 2 SPIR-V; v3: the OffloadBinary image kind
    std::string bytes;          // the image
    std::string compile_target; // the "compile_target" property, "" for none
    std::string compile_opts = "", link_opts = "";
};

struct Wrapped {
    std::uint64_t desc = 0;                  // the __sycl.tgt_bin_desc's address
    std::vector<std::uint64_t> image, start; // each __sycl.tgt_device_image's and image's address
};

// A descriptor of IMAGES, structures of VERSION (2: clang-offload-wrapper's, 3: the linker
// wrapper's), the images in section IMAGE_SECTION, the rest in .rodata, and with TGTIMG the
// .tgtimg pairs. Version 2 images get property sets ("SYCL/kernel param opt", empty, then
// "SYCL/device requirements" with compile_target); version 3 images none.
inline Wrapped sycl_descriptor(Linked& l, int version, const std::vector<SyclImage>& images,
                               const std::string& image_section, bool tgtimg) {
    Wrapped w;
    l.section(image_section);
    for (auto& i : images) w.start.push_back(l.put(i.bytes));
    l.section(".rodata");
    std::vector<std::vector<std::pair<std::size_t, std::uint64_t>>> ptrs;
    for (std::size_t k = 0; k < images.size(); ++k) {
        const auto& i = images[k];
        std::uint64_t spec = l.put(i.target + '\0');
        std::uint64_t copts = l.put(i.compile_opts + '\0'), lopts = l.put(i.link_opts + '\0');
        std::uint64_t sets_b = 0, sets_e = 0;
        if (version == 2) {
            std::uint64_t other = l.put(std::string("SYCL/kernel param opt") + '\0');
            std::uint64_t req = l.put(std::string("SYCL/device requirements") + '\0');
            std::uint64_t props_b = 0, props_e = 0;
            if (!i.compile_target.empty()) {
                std::uint64_t pname = l.put(std::string("compile_target") + '\0');
                std::string val;
                put_le(val, i.compile_target.size() * 8, 8);
                val += i.compile_target;
                std::uint64_t pval = l.put(val);
                std::string prop(32, '\0');
                prop.replace(16, 4, std::string("\x02\0\0\0", 4)); // BYTE_ARRAY
                std::string size;
                put_le(size, val.size(), 8);
                prop.replace(24, 8, size);
                props_b = l.put_struct(prop, {{0, pname}, {8, pval}});
                props_e = props_b + 32;
            }
            sets_b = l.put_struct(std::string(24, '\0'), {{0, other}});
            l.put_struct(std::string(24, '\0'), {{0, req}, {8, props_b}, {16, props_e}});
            sets_e = sets_b + 48;
        }
        const std::size_t start = version == 2 ? 48 : 32, props = version == 2 ? 80 : 64;
        ptrs.push_back({{8, spec},
                        {16, copts},
                        {24, lopts},
                        {start, w.start[k]},
                        {start + 8, w.start[k] + i.bytes.size()},
                        {props, sets_b},
                        {props + 8, sets_e}});
    }
    const std::size_t size = version == 2 ? 96 : 80;
    for (std::size_t k = 0; k < images.size(); ++k) {
        std::string s;
        put_le(s, static_cast<std::uint64_t>(version), 2);
        put_le(s, version == 2 ? 4 : 8, 1); // SYCL: 4 (intel/llvm), OFK_SYCL 8 (LLVM)
        put_le(s, images[k].format, 1);
        s.resize(size, '\0');
        w.image.push_back(l.put_struct(s, ptrs[k]));
    }
    std::string d;
    put_le(d, 1, 2);
    put_le(d, images.size(), 2);
    d.resize(32, '\0');
    w.desc = l.put_struct(d, {{8, w.image.empty() ? 0 : w.image[0]}});
    if (tgtimg) {
        l.section(".tgtimg");
        for (std::size_t k = 0; k < images.size(); ++k) {
            std::string pair(16, '\0');
            std::string size_le;
            put_le(size_le, images[k].bytes.size(), 8);
            pair.replace(8, 8, size_le);
            l.put_struct(pair, {{0, w.start[k]}});
        }
    }
    return w;
}

} // namespace intel_unit
