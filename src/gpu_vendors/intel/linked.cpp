// Reading the device images wrapped into linked DPC++/SYCL programs (see linked.hpp).
#include "gpu_vendors/intel/linked.hpp"

#include "elf/headers.hpp"
#include "elf/sections.hpp"
#include "util/error.hpp"
#include "util/text.hpp"

#include <algorithm>
#include <optional>
#include <set>

namespace gantry::gpu_vendors::intel {

namespace {

constexpr std::uint32_t kRelX86Relative = 8, kRelAarch64Relative = 1027;
constexpr std::size_t kMaxRelocs = std::size_t{1} << 22; // 64 MiB of (address, addend)
constexpr std::uint64_t kMaxPropSets = 256, kMaxProps = 4096, kMaxString = 4096;
constexpr std::size_t kMaxWrapped = 65536;

[[noreturn]] void lnk_bad(const std::string& what, const std::string& why) {
    throw Error(Errc::invalid, what + ": " + why,
                "the program's SYCL device-image descriptors are damaged or not DPC++'s; "
                "rebuild it");
}

std::uint64_t lnk_le(std::string_view d, std::size_t at, int bytes) {
    std::uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; --i) v = v << 8 | static_cast<unsigned char>(d[at + i]);
    return v;
}

// The file seen through its load segments and dynamic relocations.
class LnkMap {
  public:
    LnkMap(std::string_view d, const elf::Table& t, const std::string& what) : d_(d), t_(t) {
        const std::uint32_t relative =
            t.machine == elf::em_aarch64 ? kRelAarch64Relative : kRelX86Relative;
        for (const auto& s : t.sections) {
            if (s.type != elf::sht_rela || !s.has_bytes() || (s.flags & elf::shf_alloc) == 0)
                continue;
            if (s.entsize != 0 && s.entsize != 24) continue; // not ELF64 RELA entries
            for (std::uint64_t at = s.off; s.off + s.size - at >= 24; at += 24) {
                if ((lnk_le(d, at + 8, 8) & 0xffffffffu) != relative) continue;
                if (relocs_.size() == kMaxRelocs)
                    lnk_bad(what, "more than " + std::to_string(kMaxRelocs) +
                                      " relative relocations: not read");
                relocs_.emplace_back(lnk_le(d, at, 8), lnk_le(d, at + 16, 8));
            }
        }
        std::sort(relocs_.begin(), relocs_.end());
    }

    // The file bytes loaded at [v, v + len), inside one segment's file part.
    std::optional<std::string_view> bytes(std::uint64_t v, std::uint64_t len) const {
        for (const auto& l : t_.loads)
            if (v >= l.vaddr && v - l.vaddr < l.filesz) {
                std::uint64_t in = v - l.vaddr;
                if (len > l.filesz - in) return std::nullopt;
                return d_.substr(l.off + in, len);
            }
        return std::nullopt;
    }
    std::optional<std::uint64_t> file_offset(std::uint64_t v) const { return t_.vaddr_to_off(v); }

    // The pointer loaded at V: a relative relocation's addend, else the stored value.
    std::optional<std::uint64_t> ptr(std::uint64_t v) const {
        auto it = std::lower_bound(relocs_.begin(), relocs_.end(),
                                   std::pair<std::uint64_t, std::uint64_t>{v, 0});
        if (it != relocs_.end() && it->first == v) return it->second;
        auto b = bytes(v, 8);
        if (!b) return std::nullopt;
        return lnk_le(*b, 0, 8);
    }

    // The NUL-terminated string at V (at most kMaxString bytes).
    std::optional<std::string> str(std::uint64_t v) const {
        for (const auto& l : t_.loads)
            if (v >= l.vaddr && v - l.vaddr < l.filesz) {
                std::string_view rest = d_.substr(l.off + (v - l.vaddr), l.filesz - (v - l.vaddr));
                rest = rest.substr(0, kMaxString + 1);
                auto end = rest.find('\0');
                if (end == std::string_view::npos) return std::nullopt;
                return std::string(rest.substr(0, end));
            }
        return std::nullopt;
    }

  private:
    std::string_view d_;
    const elf::Table& t_;
    std::vector<std::pair<std::uint64_t, std::uint64_t>> relocs_;
};

// "-device pvc" (ocloc's option) among OPTIONS, else "".
std::string lnk_device_option(std::string_view options) {
    auto words = text::split(options, ' ');
    for (std::size_t i = 0; i < words.size(); ++i) {
        if (words[i] == "-device" && i + 1 < words.size() && !words[i + 1].empty())
            return std::string(words[i + 1]);
        if (words[i].starts_with("-device=")) return std::string(words[i].substr(8));
    }
    return "";
}

// The "compile_target" property of the "SYCL/device requirements" set between BEGIN and END
// (arrays of _sycl_device_binary_property_set_struct, 24 bytes, and
// _sycl_device_binary_property_struct, 32 bytes); "" when absent or not readable (properties are
// optional: a malformed set is skipped, not an error).
std::string lnk_compile_target(const LnkMap& m, std::uint64_t begin, std::uint64_t end) {
    if (begin == 0 || end < begin || (end - begin) % 24 != 0 || (end - begin) / 24 > kMaxPropSets)
        return "";
    for (std::uint64_t set = begin; set < end; set += 24) {
        auto name = m.ptr(set), pb = m.ptr(set + 8), pe = m.ptr(set + 16);
        if (!name || !pb || !pe) return "";
        auto set_name = m.str(*name);
        if (!set_name || *set_name != "SYCL/device requirements") continue;
        if (*pe < *pb || (*pe - *pb) % 32 != 0 || (*pe - *pb) / 32 > kMaxProps) return "";
        for (std::uint64_t p = *pb; p < *pe; p += 32) {
            auto pname = m.ptr(p), val = m.ptr(p + 8);
            auto fixed = m.bytes(p + 16, 16);
            if (!pname || !val || !fixed) return "";
            auto n = m.str(*pname);
            if (!n || *n != "compile_target") continue;
            std::uint64_t type = lnk_le(*fixed, 0, 4), size = lnk_le(*fixed, 8, 8);
            if (type != 2 || size < 8 || size > kMaxString + 8) return ""; // BYTE_ARRAY
            auto v = m.bytes(*val, size); // an 8-byte size, then the name
            if (!v) return "";
            std::string s(v->substr(8));
            while (!s.empty() && s.back() == '\0') s.pop_back();
            return s;
        }
    }
    return "";
}

struct LnkImageLayout {
    std::uint64_t size, image_start, props; // struct size, ImageStart's and PropertySetBegin's
};

std::optional<LnkImageLayout> lnk_layout(std::uint64_t version) {
    if (version == 2) return LnkImageLayout{96, 48, 80}; // with ManifestStart/ManifestEnd
    if (version == 3) return LnkImageLayout{80, 32, 64};
    return std::nullopt;
}

// What a target spec says an image is when its bytes do not say it.
ImageFormat lnk_format_of(std::string_view target, std::uint64_t version, std::uint64_t format,
                          std::string_view bytes) {
    ImageFormat f = sniff_image(bytes);
    if (f != ImageFormat::unknown) return f;
    if ((version == 2 && format == 2) || (version == 3 && format == 6)) return ImageFormat::spirv;
    if (target.starts_with("spir64_gen")) return ImageFormat::native;
    if (target == "spir64" || target.starts_with("spir64-") || target.starts_with("spirv64"))
        return ImageFormat::spirv; // "spir64" names SPIR-V (sycl/detail/compiler.hpp)
    return ImageFormat::unknown;
}

// The descriptor candidate at V (8-aligned, its header bytes H); false when V holds none.
bool lnk_descriptor(const LnkMap& m, std::uint64_t v, std::string_view h, const std::string& what,
                    WrappedImages& out, std::set<std::uint64_t>& seen) {
    std::uint64_t count = lnk_le(h, 2, 2);
    if (lnk_le(h, 0, 2) != 1 || count == 0 || lnk_le(h, 4, 4) != 0) return false;
    auto images = m.ptr(v + 8), hb = m.ptr(v + 16), he = m.ptr(v + 24);
    if (!images || *images == 0 || !hb || *hb != 0 || !he || *he != 0) return false;
    auto first = m.bytes(*images, 4);
    if (!first) return false;
    std::uint64_t version = lnk_le(*first, 0, 2), kind = lnk_le(*first, 2, 1);
    auto layout = lnk_layout(version);
    if (!layout || (kind != 4 && kind != 8)) return false;
    // from here on the candidate is a descriptor: what does not hold together is damage
    if (count > kMaxWrapped / 2 || !m.bytes(*images, count * layout->size))
        lnk_bad(what, "a SYCL descriptor's " + std::to_string(count) +
                          " device images lie outside the program's loaded data");
    WrappedDescriptor rec{v, *images, layout->size, {}};
    for (std::uint64_t i = 0; i < count; ++i) {
        const std::uint64_t at = *images + i * layout->size;
        std::string_view head = *m.bytes(at, 4);
        if (lnk_le(head, 0, 2) != version)
            lnk_bad(what, "a SYCL descriptor mixes device image versions");
        std::uint64_t format = lnk_le(head, 3, 1);
        auto spec = m.ptr(at + 8), copts = m.ptr(at + 16), lopts = m.ptr(at + 24);
        auto start = m.ptr(at + layout->image_start), end = m.ptr(at + layout->image_start + 8);
        auto pb = m.ptr(at + layout->props), pe = m.ptr(at + layout->props + 8);
        if (!spec || !copts || !lopts || !start || !end || !pb || !pe)
            lnk_bad(what, "a SYCL device image descriptor lies outside the loaded data");
        if (*end < *start)
            lnk_bad(what, "a SYCL device image ends before it starts (" + text::hex(*start) + ".." +
                              text::hex(*end) + ")");
        auto bytes = m.bytes(*start, *end - *start);
        if (!bytes)
            lnk_bad(what, "a SYCL device image (" + text::hex(*start) + ", " +
                              std::to_string(*end - *start) +
                              " bytes) lies outside the program's loaded data");
        auto target = *spec ? m.str(*spec) : std::optional<std::string>("");
        if (!target) lnk_bad(what, "a SYCL device image's target name is not readable");
        if (!seen.insert(*start).second) { // named by another descriptor too
            rec.slot.push_back(static_cast<std::size_t>(-1));
            continue;
        }
        rec.slot.push_back(out.images.size());
        DeviceImage img;
        img.source = "descriptor";
        img.producer = "sycl";
        img.triple = *target;
        img.arch = lnk_compile_target(m, *pb, *pe);
        for (auto opts : {*copts, *lopts}) {
            if (!img.arch.empty() || opts == 0) break;
            if (auto o = m.str(opts)) img.arch = lnk_device_option(*o);
        }
        img.format = lnk_format_of(img.triple, version, format, *bytes);
        if (img.format == ImageFormat::spirv) img.arch.clear();
        img.size = bytes->size();
        if (out.images.size() == kMaxWrapped) lnk_bad(what, "more than 65536 device images");
        out.images.push_back(std::move(img));
        out.ranges.emplace_back(*m.file_offset(*start), bytes->size());
    }
    out.descriptors.push_back(std::move(rec));
    return true;
}

// The .tgtimg section's <address, size> pairs (16 bytes each; a zero address is the linker's
// padding, as clang-offload-extract reads it) for images no descriptor named.
void lnk_tgtimg(const LnkMap& m, const elf::Section& s, const std::string& what, WrappedImages& out,
                std::set<std::uint64_t>& seen) {
    for (std::uint64_t at = 0; s.size - at >= 16; at += 16) {
        auto addr = m.ptr(s.addr + at), size = m.ptr(s.addr + at + 8);
        if (!addr || !size) lnk_bad(what, ".tgtimg lies outside the program's loaded data");
        if (*addr == 0 || seen.count(*addr)) continue;
        auto bytes = m.bytes(*addr, *size);
        if (!bytes)
            lnk_bad(what, ".tgtimg names an image (" + text::hex(*addr) + ", " +
                              std::to_string(*size) + " bytes) outside the loaded data");
        seen.insert(*addr);
        DeviceImage img;
        img.source = "tgtimg";
        img.producer = "sycl";
        img.format = sniff_image(*bytes);
        if (img.format == ImageFormat::unknown) continue; // no target to judge it by
        // without a descriptor the target is inferred from the bytes: an Intel GPU ELF is AOT
        // code (spir64_gen); SPIR-V is taken as spir64's (docs/reference/intel-gpu.md §6)
        img.triple = img.format == ImageFormat::native ? "spir64_gen" : "spir64";
        img.size = bytes->size();
        if (out.images.size() == kMaxWrapped) lnk_bad(what, "more than 65536 device images");
        out.images.push_back(std::move(img));
        out.ranges.emplace_back(*m.file_offset(*addr), bytes->size());
    }
}

bool lnk_is_offload_program(std::string_view d, const elf::Table& t) {
    for (const auto& s : t.sections) {
        if (s.name == ".tgtimg" || s.name == ".llvm.offloading" ||
            s.name.starts_with("__CLANG_OFFLOAD_BUNDLE__"))
            return true;
        if (s.name == ".dynstr" && s.has_bytes() &&
            d.substr(s.off, s.size).find(std::string_view("\0__sycl_register_lib\0", 21)) !=
                std::string_view::npos)
            return true;
    }
    return false;
}

} // namespace

bool WrappedImages::covers(std::uint64_t off, std::uint64_t size) const {
    return std::any_of(ranges.begin(), ranges.end(), [&](const auto& r) {
        return off >= r.first && off - r.first <= r.second && size <= r.second - (off - r.first);
    });
}

bool WrappedImages::touches(std::uint64_t off, std::uint64_t size) const {
    return std::any_of(ranges.begin(), ranges.end(), [&](const auto& r) {
        return off < r.first + r.second && r.first < off + size;
    });
}

WrappedImages read_wrapped_images(std::string_view d, const std::string& what) {
    WrappedImages out;
    elf::Table t;
    std::string why;
    // a file gantry cannot map is left to the section reader (offload.cpp): it is no
    // program whose descriptors could be followed
    if (elf::read_table(d, t, why) != elf::TableRead::ok) return out;
    if (t.type != 2 && t.type != 3) return out; // ET_EXEC, ET_DYN
    out.linked = true;
    if (t.loads.empty() || !lnk_is_offload_program(d, t)) return out;
    LnkMap m(d, t, what);
    std::set<std::uint64_t> seen;
    for (const auto& s : t.sections) {
        if (!s.has_bytes() || s.type != 1 || (s.flags & elf::shf_alloc) == 0 ||
            (s.flags & elf::shf_execinstr) != 0)
            continue;
        std::string_view sec = d.substr(s.off, s.size);
        std::uint64_t first = (8 - s.addr % 8) % 8;
        for (std::uint64_t at = first; at < sec.size() && sec.size() - at >= 32; at += 8) {
            if (sec[at] != 1 || sec[at + 1] != 0) continue; // Version 1, quickly
            lnk_descriptor(m, s.addr + at, sec.substr(at, 32), what, out, seen);
        }
    }
    if (const auto* s = t.find(".tgtimg"); s && s->has_bytes()) lnk_tgtimg(m, *s, what, out, seen);
    return out;
}

namespace {

void lnk_put_le(std::string& d, std::uint64_t at, std::uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) d[at + i] = static_cast<char>((v >> (8 * i)) & 0xff);
}

bool lnk_same_image(const DeviceImage& a, const DeviceImage& b) {
    return a.triple == b.triple && a.arch == b.arch && a.format == b.format && a.size == b.size;
}

// The rewrite of D (a copy of the file, whose read is W) dropping DROP's images; "" or why not.
std::string lnk_rewrite(std::string& d, const WrappedImages& w, const std::vector<bool>& drop,
                        const elf::Table& t, const LnkMap& m, WrappedRewrite& r) {
    for (const auto& s : t.sections)
        if (s.type == 19 /*SHT_RELR*/ && s.has_bytes())
            return "its relocations are RELR-packed (a bitmap: the descriptors' relocations "
                   "cannot be moved one by one)";
    for (const auto& desc : w.descriptors) {
        std::vector<std::size_t> kept, gone; // array slots
        for (std::size_t i = 0; i < desc.slot.size(); ++i) {
            std::size_t k = desc.slot[i];
            bool dropped = k != static_cast<std::size_t>(-1) && drop[k];
            (dropped ? gone : kept).push_back(i);
        }
        if (gone.empty()) continue;
        if (std::any_of(desc.slot.begin(), desc.slot.end(),
                        [](std::size_t k) { return k == static_cast<std::size_t>(-1); }))
            return "a device image is named by two SYCL descriptors";
        if (kept.empty()) return "a SYCL descriptor would keep no device image";
        std::vector<std::size_t> order = kept; // new slot -> old slot
        order.insert(order.end(), gone.begin(), gone.end());
        std::vector<std::uint64_t> to(order.size()); // old slot -> new slot
        for (std::size_t n = 0; n < order.size(); ++n) to[order[n]] = n;
        const std::uint64_t arr = *m.file_offset(desc.images), len = desc.slot.size() * desc.stride;
        const std::string old = d.substr(arr, len);
        for (std::size_t n = 0; n < order.size(); ++n)
            d.replace(arr + n * desc.stride, desc.stride, old, order[n] * desc.stride, desc.stride);
        for (const auto& s : t.sections) { // the relocations filling the moved fields
            if (s.type != elf::sht_rela || !s.has_bytes() || (s.entsize != 0 && s.entsize != 24))
                continue;
            for (std::uint64_t at = s.off; s.off + s.size - at >= 24; at += 24) {
                std::uint64_t where = lnk_le(d, at, 8);
                if (where < desc.images || where - desc.images >= len) continue;
                std::uint64_t slot = (where - desc.images) / desc.stride;
                lnk_put_le(d, at, where + (to[slot] - slot) * desc.stride, 8);
            }
        }
        lnk_put_le(d, *m.file_offset(desc.desc) + 2, kept.size(), 2); // NumDeviceImages
        for (std::size_t i : gone) {
            const auto& range = w.ranges[desc.slot[i]];
            d.replace(range.first, range.second, range.second, '\0');
            r.zeroed += range.second;
            r.dropped.push_back(range);
        }
    }
    if (const auto* s = t.find(".tgtimg"); s && s->has_bytes()) // pairs of dropped images
        for (std::uint64_t at = 0; s->size - at >= 16; at += 16) {
            auto addr = m.ptr(s->addr + at);
            auto off = addr ? m.file_offset(*addr) : std::nullopt;
            if (!off || std::none_of(r.dropped.begin(), r.dropped.end(),
                                     [&](const auto& x) { return x.first == *off; }))
                continue;
            d.replace(s->off + at, 16, 16, '\0');
            r.zeroed += 16;
        }
    std::sort(r.dropped.begin(), r.dropped.end());
    return "";
}

} // namespace

WrappedRewrite drop_wrapped_images(std::string& elf, bool (*drop)(const DeviceImage&, void*),
                                   void* ctx, const std::string& what, bool write) {
    WrappedRewrite r;
    WrappedImages w;
    try {
        w = read_wrapped_images(elf, what);
    } catch (const Error& e) {
        r.result = WrappedRewrite::Result::refused;
        r.why = e.message();
        return r;
    }
    std::vector<bool> dropping(w.images.size());
    std::size_t n = 0;
    for (std::size_t k = 0; k < w.images.size(); ++k)
        if (w.images[k].source == "descriptor" && drop(w.images[k], ctx)) {
            dropping[k] = true;
            ++n;
        }
    r.images_before = r.images_after = w.images.size();
    if (n == 0) return r;
    for (const auto& desc : w.descriptors)
        if (std::all_of(desc.slot.begin(), desc.slot.end(), [&](std::size_t k) {
                return k != static_cast<std::size_t>(-1) && dropping[k];
            })) {
            r.why = "every device image of a SYCL descriptor is for a GPU not kept: the program "
                    "is kept whole";
            return r;
        }
    elf::Table t;
    std::string why;
    if (elf::read_table(elf, t, why) != elf::TableRead::ok) return r; // read above: cannot fail
    std::string out = elf;
    const LnkMap m(elf, t, what);
    WrappedRewrite plan;
    why = lnk_rewrite(out, w, dropping, t, m, plan);
    if (!why.empty() || plan.dropped.empty()) {
        r.result = why.empty() ? WrappedRewrite::Result::none : WrappedRewrite::Result::refused;
        r.why = why;
        return r;
    }
    // the proof: the rewritten file lists the kept images, in order, their bytes as they were
    std::vector<DeviceImage> again;
    try {
        again = read_wrapped_images(out, what).images;
    } catch (const Error& e) {
        again.clear();
        why = e.message();
    }
    std::vector<DeviceImage> expect;
    for (std::size_t k = 0; k < w.images.size(); ++k)
        if (!dropping[k]) expect.push_back(w.images[k]);
    bool same = why.empty() && again.size() == expect.size();
    for (std::size_t k = 0; same && k < expect.size(); ++k)
        same = lnk_same_image(again[k], expect[k]);
    for (std::size_t k = 0; same && k < w.images.size(); ++k)
        if (!dropping[k])
            same = std::string_view(out).substr(w.ranges[k].first, w.ranges[k].second) ==
                   std::string_view(elf).substr(w.ranges[k].first, w.ranges[k].second);
    if (!same) {
        r.result = WrappedRewrite::Result::refused;
        r.why = "the rewritten program did not read back as the kept images" +
                (why.empty() ? std::string() : " (" + why + ")");
        return r;
    }
    r.result = WrappedRewrite::Result::changed;
    r.zeroed = plan.zeroed;
    r.dropped = plan.dropped;
    r.images_after = expect.size();
    if (write) elf = std::move(out);
    return r;
}

} // namespace gantry::gpu_vendors::intel
