// tailor/cuda_fatbin: the exact parse of .nv_fatbin and the keep rule (cuda_detail.hpp). Unlike
// compat/fatbin's reader, which is lenient on purpose (it reports what it can of a damaged file),
// this parser accepts only what it fully understands: the rewriter must not guess.
#include "gpu_vendors/nvidia/tailor_cuda.hpp"
#include "gpu_vendors/nvidia/tailor_cuda_detail.hpp"

#include <algorithm>
#include <cstring>

namespace gantry::gpu_vendors::nvidia::cuda_detail {

namespace {

constexpr std::uint16_t kEntryVersion = 0x0101;
constexpr std::uint32_t kMinEntryHeader = 64, kMaxEntryHeader = 512;
constexpr std::uint64_t kFlagLz4 = 0x2000, kFlagZstd = 0x8000;
constexpr std::uint64_t kFlagArchSpecific = 0x100000, kFlagFamily = 0x200000;

template <typename T>
T load(std::string_view f, std::uint64_t off) { // callers check the range first
    T v{};
    std::memcpy(&v, f.data() + off, sizeof(T));
    return v;
}

bool is_zero(std::string_view f, std::uint64_t off, std::uint64_t len) {
    const char* p = f.data() + off;
    return std::all_of(p, p + len, [](char c) { return c == 0; });
}

} // namespace

std::string Entry::arch_name() const {
    nvidia::FatbinEntry e;
    e.raw_kind = kind;
    e.kind = kind == 1                ? nvidia::EntryKind::ptx
             : kind == 2 || kind == 4 ? nvidia::EntryKind::sass
             : kind == 8              ? nvidia::EntryKind::lto
                                      : nvidia::EntryKind::unknown;
    e.arch = arch;
    e.variant = variant;
    return e.arch_name();
}

std::string parse_exact(std::string_view f, std::uint64_t off, std::uint64_t size,
                        const std::string& name, std::vector<Container>& out) {
    if (off > f.size() || size > f.size() - off) return name + " lies outside the file";
    const std::uint64_t end = off + size;
    std::uint64_t p = off;
    while (p < end) {
        // Zero bytes between containers (nvcc leaves none; an earlier tailoring leaves tails).
        if (f[p] == 0) {
            const char* q = std::find_if(f.data() + p, f.data() + end, [](char c) { return c; });
            p = static_cast<std::uint64_t>(q - f.data());
            if (p == end) break;
        }
        const std::string at = "container at " + hex(p) + " in " + name;
        if ((p - off) % 8 != 0 || p % 8 != 0)
            return "non-zero bytes at " + hex(p) + " in " + name +
                   " where only zeros or an 8-aligned container may start";
        if (end - p < kContainerHeader)
            return "bytes at " + hex(p) + " in " + name + " are not a container (" +
                   std::to_string(end - p) + " bytes before the section ends)";
        auto magic = load<std::uint32_t>(f, p);
        auto version = load<std::uint16_t>(f, p + 4);
        auto hs = load<std::uint16_t>(f, p + 6);
        auto fat = load<std::uint64_t>(f, p + 8);
        if (magic != kContainerMagic)
            return "bytes at " + hex(p) + " in " + name + " are not a container (magic " +
                   hex(magic) + ")";
        if (version != 1) return at + ": unknown container version " + std::to_string(version);
        if (hs != kContainerHeader) return at + ": header size " + std::to_string(hs) + ", not 16";
        if (fat > end - p - kContainerHeader)
            return at + ": fatSize " + std::to_string(fat) + " runs past the end of " + name +
                   " (" + std::to_string(end - p - kContainerHeader) + " bytes left)";
        Container c;
        c.off = p;
        c.fat = fat;
        const std::uint64_t cend = c.end();
        std::uint64_t e = p + kContainerHeader, sum = 0;
        while (e < cend) {
            const std::string eat = at + ": entry at " + hex(e);
            if (cend - e < kMinEntryHeader)
                return at + ": entries sum to " + std::to_string(sum) + ", header says " +
                       std::to_string(fat) + " (" + std::to_string(cend - e) +
                       " bytes left, too few for an entry)";
            Entry en;
            en.off = e;
            en.kind = load<std::uint16_t>(f, e);
            auto ever = load<std::uint16_t>(f, e + 2);
            en.header = load<std::uint32_t>(f, e + 4);
            en.payload = load<std::uint64_t>(f, e + 8);
            auto compressed = load<std::uint32_t>(f, e + 0x10);
            en.arch = load<std::uint32_t>(f, e + 0x1c);
            auto flags = load<std::uint64_t>(f, e + 0x28);
            if (en.kind != 1 && en.kind != 2 && en.kind != 4 && en.kind != 8)
                return eat + ": unknown entry kind " + std::to_string(en.kind);
            if (ever != kEntryVersion) return eat + ": unknown entry version " + hex(ever);
            if (en.header < kMinEntryHeader || en.header > kMaxEntryHeader || en.header % 8 != 0)
                return eat + ": entry header size " + std::to_string(en.header) + " out of range";
            if (en.header > cend - e || en.payload > cend - e - en.header)
                return at + ": entries sum to " + std::to_string(sum + en.header + en.payload) +
                       " or more, header says " + std::to_string(fat) + " (entry at " + hex(e) +
                       " of " + std::to_string(en.payload) + " bytes runs past the container)";
            if ((flags & (kFlagLz4 | kFlagZstd)) && compressed > en.payload)
                return eat + ": compressed size " + std::to_string(compressed) +
                       " exceeds the payload of " + std::to_string(en.payload) + " bytes";
            if ((flags & kFlagArchSpecific) && (flags & kFlagFamily))
                return eat + ": both arch-specific and family flags set";
            if (en.arch == 0 || en.arch > 9999)
                return eat + ": arch " + std::to_string(en.arch) + " out of range";
            en.variant = (flags & kFlagArchSpecific) ? nvidia::ArchVariant::a
                         : (flags & kFlagFamily)     ? nvidia::ArchVariant::f
                                                     : nvidia::ArchVariant::plain;
            sum += en.size();
            e += en.size();
            c.entries.push_back(en);
        }
        out.push_back(std::move(c));
        p = cend;
        // The next container starts 8-aligned: only zeros until then.
        std::uint64_t next = std::min(end, (p + 7) & ~std::uint64_t{7});
        if (!is_zero(f, p, next - p))
            return "non-zero bytes at " + hex(p) + " in " + name + " after the container at " +
                   hex(c.off);
        p = next;
    }
    return {};
}

Choice choose(const Container& c, const device_code::KeepSet& keep) {
    Choice ch;
    ch.keep.assign(c.entries.size(), false);
    // not major/minor: <sys/sysmacros.h> defines those as macros, and a unity batch that
    // includes it before this file would make the calls below gnu_dev_major/minor
    auto arch_major = [](unsigned a) { return a / 10; };
    auto arch_minor = [](unsigned a) { return a % 10; };
    auto usable = [&](const Entry& e, unsigned d) {
        using V = nvidia::ArchVariant;
        if (e.kind == 2 || e.kind == 4) { // SASS: same major, minor at or below; `a` exact
            if (e.variant == V::a) return e.arch == d;
            return arch_major(e.arch) == arch_major(d) && arch_minor(e.arch) <= arch_minor(d);
        }
        if (e.kind == 1) // PTX: JIT-compiles for any arch at or above; `a` PTX only for its own
            return e.variant == V::a ? e.arch == d : e.arch <= d;
        return false;
    };
    unsigned newest_ptx = 0;
    for (auto& e : c.entries)
        if (e.kind == 1 && e.variant != nvidia::ArchVariant::a)
            newest_ptx = std::max(newest_ptx, e.arch);
    std::vector<unsigned> sms;
    for (const auto& t : keep.targets("cuda")) sms.push_back(sm_number(t));
    for (std::size_t i = 0; i < c.entries.size(); ++i) {
        const Entry& e = c.entries[i];
        bool u = std::any_of(sms.begin(), sms.end(), [&](unsigned sm) { return usable(e, sm); });
        ch.any_usable = ch.any_usable || u;
        bool k = u || e.kind == 8 ||
                 (!keep.has(kNoPtx) && e.kind == 1 && e.variant != nvidia::ArchVariant::a &&
                  e.arch == newest_ptx);
        ch.keep[i] = k;
        ch.kept += k ? 1 : 0;
    }
    return ch;
}

} // namespace gantry::gpu_vendors::nvidia::cuda_detail
