#include "gpu_vendors/nvidia/fatbin.hpp"

#include "elf/headers.hpp"
#include "elf/sections.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/lz4.hpp"
#include "util/mapped_file.hpp"
#include "util/text.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <zstd.h>

namespace gantry::gpu_vendors::nvidia {

namespace {

using elf::Bytes;
using elf::is_elf64le;
using elf::Region;

constexpr std::uint32_t kFatbinMagic = 0xBA55ED50;
constexpr char kMagicBytes[4] = {'\x50', '\xED', '\x55', '\xBA'};
constexpr std::uint16_t kEntryVersion = 0x0101;
constexpr std::uint32_t kMinEntryHeader = 64, kMaxEntryHeader = 512;
constexpr std::uint16_t kContainerHeader = 16; // what nvcc/fatbinary write
constexpr std::uint64_t kFlagLz4 = 0x2000, kFlagZstd = 0x8000;
constexpr std::uint64_t kFlagArchSpecific = 0x100000, kFlagFamily = 0x200000;
constexpr std::uint64_t kCheapDecompress = 64u << 10;

constexpr std::uint16_t kEmCuda = 190;

struct CubinInfo {
    unsigned sm = 0, toolkit = 0;
    HasCode has_code = HasCode::unknown;
    std::string error;
};

// The cubin's ELF header: checks it is a CUDA ELF and decodes the SM from e_flags.
CubinInfo parse_cubin_header(Bytes c) {
    CubinInfo info;
    if (!is_elf64le(c)) {
        info.error = "payload is not an ELF64 cubin";
        return info;
    }
    const elf::Header h = elf::header(c);
    if (h.machine != kEmCuda) {
        info.error = "payload is not a CUDA ELF (e_machine " + std::to_string(h.machine) + ")";
        return info;
    }
    info.sm = (h.abi_version == 7 || h.osabi == 0x33) ? (h.flags & 0xff) : ((h.flags >> 8) & 0xff);
    return info;
}

// Reads the cubin's ELF header, its section headers and its .note.nv.cuinfo.
CubinInfo parse_cubin(Bytes c) {
    CubinInfo info = parse_cubin_header(c);
    if (!info.error.empty()) return info;

    const elf::Header h = elf::header(c);
    if (!h.shoff || h.shentsize < 64 || h.shoff >= c.n) {
        info.error = "cubin has no section headers";
        return info;
    }
    // e_shnum as stored (a cubin has no extended numbering), cut to the headers that fit
    std::uint64_t shnum = std::min<std::uint64_t>(h.shnum, (c.n - h.shoff) / h.shentsize);
    bool code = false;
    for (std::uint64_t i = 1; i < shnum; ++i) {
        const elf::SectionHeader sh = elf::section_header(c, h, i);
        const std::uint32_t type = sh.type;
        const std::uint64_t off = sh.offset, size = sh.size;
        if ((sh.flags & elf::shf_execinstr) && type != elf::sht_nobits && size > 0) code = true;
        if (type != elf::sht_note || info.toolkit) continue;
        Bytes notes = c.sub(off, size);
        std::uint64_t p = 0;
        while (notes.has(p, 12)) {
            auto namesz = notes.get<std::uint32_t>(p), descsz = notes.get<std::uint32_t>(p + 4),
                 ntype = notes.get<std::uint32_t>(p + 8);
            std::uint64_t name_at = p + 12;
            std::uint64_t desc_at = name_at + ((std::uint64_t{namesz} + 3) & ~std::uint64_t{3});
            std::uint64_t next = desc_at + ((std::uint64_t{descsz} + 3) & ~std::uint64_t{3});
            if (!notes.has(name_at, namesz) || !notes.has(desc_at, descsz)) break;
            // desc {u16 version; u16 sm; u16 or u32 toolkit} (descsz 6 in older cubins)
            if (ntype == 1000 && namesz >= 11 && descsz >= 6 &&
                std::memcmp(notes.p + name_at, "NVIDIA Corp", 11) == 0)
                info.toolkit = notes.get<std::uint16_t>(desc_at + 4);
            p = next;
        }
    }
    info.has_code = code ? HasCode::yes : HasCode::no;
    return info;
}

class Scanner {
  public:
    Scanner(Bytes file, const FatbinOptions& opts, FatbinFile& out)
        : f_(file), opts_(opts), out_(out) {}
    ~Scanner() {
        if (dctx_) ZSTD_freeDCtx(dctx_);
    }
    Scanner(const Scanner&) = delete;
    Scanner& operator=(const Scanner&) = delete;

    void scan_region(const Region& r) {
        Bytes reg = f_.sub(r.off, r.len);
        std::uint64_t off = 0;
        while (reg.has(off, 16)) {
            const void* hit = memmem(reg.p + off, reg.n - off, kMagicBytes, sizeof kMagicBytes);
            if (!hit) return;
            off = static_cast<std::uint64_t>(static_cast<const unsigned char*>(hit) - reg.p);
            if (!reg.has(off, 16)) return;
            std::uint64_t next = walk_container(reg, r, off);
            off = next > off ? next : off + 1;
        }
    }

  private:
    // Walks the container at `off`; returns where scanning continues. A candidate that is not a
    // container (no valid first entry) is skipped without a trace, unless its header is the
    // real one (magic, version 1, header size 16): then a damaged or cut first entry is a
    // damaged container, reported (fuzzing found those skipped silently: "0 containers").
    std::uint64_t walk_container(Bytes reg, const Region& r, std::uint64_t off) {
        if (reg.get<std::uint32_t>(off) != kFatbinMagic || reg.get<std::uint16_t>(off + 4) != 1)
            return off + 1;
        std::uint16_t hs = reg.get<std::uint16_t>(off + 6);
        std::uint64_t fat = reg.get<std::uint64_t>(off + 8);
        if (hs < 16 || hs > 4096 || !reg.has(off, hs)) return off + 1;
        std::uint64_t first = off + hs;
        std::uint64_t avail = reg.n - first;
        // A real container's first entry must be valid (or the container empty).
        std::string first_bad;
        if (fat != 0 && !valid_entry(reg, first, first + std::min(fat, avail), &first_bad)) {
            if (hs != kContainerHeader) return off + 1;
            FatbinContainer c;
            c.offset = r.off + off;
            c.declared = std::uint64_t{hs} + fat;
            c.size = hs;
            c.region = r.name;
            c.relocatable = r.name == "__nv_relfatbin";
            c.first_entry = out_.entries.size();
            c.error = "entry at " + text::hex(r.off + first) + ": " + first_bad;
            if (fat > avail)
                c.error += " (the container declares " + std::to_string(fat) +
                           " bytes of entries but only " + std::to_string(avail) + " remain in " +
                           r.name + ")";
            out_.problems.push_back("fatbin container at " + text::hex(c.offset) + " in " + r.name +
                                    ": " + c.error);
            out_.containers.push_back(std::move(c));
            return first;
        }

        FatbinContainer c;
        c.offset = r.off + off;
        c.declared = std::uint64_t{hs} + fat;
        c.region = r.name;
        c.relocatable = r.name == "__nv_relfatbin";
        c.first_entry = out_.entries.size();
        std::uint64_t end = first + fat;
        if (fat > avail) {
            c.error = "container declares " + std::to_string(fat) + " bytes of entries but only " +
                      std::to_string(avail) + " remain in " + r.name;
            end = reg.n;
        }
        std::uint64_t e = first;
        while (e < end) {
            if (end - e < kMinEntryHeader) {
                // Zero padding is harmless; anything else is not an entry.
                Bytes tail = reg.sub(e, end - e);
                bool zeros = std::all_of(tail.p, tail.p + tail.n, [](auto b) { return b == 0; });
                if (!zeros && c.error.empty())
                    c.error = std::to_string(end - e) + " stray bytes after the last entry";
                if (zeros) e = end;
                break;
            }
            std::string why;
            if (!valid_entry(reg, e, end, &why)) {
                if (c.error.empty()) c.error = "entry at " + text::hex(r.off + e) + ": " + why;
                break;
            }
            read_entry(reg, r, e, out_.containers.size(), c.relocatable);
            e += reg.get<std::uint32_t>(e + 4) + reg.get<std::uint64_t>(e + 8);
        }
        c.size = e - off;
        c.entry_count = out_.entries.size() - c.first_entry;
        if (c.entry_count > 0) {
            bool stub = true;
            for (std::size_t i = c.first_entry; i < out_.entries.size(); ++i) {
                auto& en = out_.entries[i];
                if (en.kind != EntryKind::sass || en.has_code != HasCode::no) stub = false;
            }
            c.stub = stub;
            if (stub)
                for (std::size_t i = c.first_entry; i < out_.entries.size(); ++i)
                    out_.entries[i].stub = true;
        }
        if (!c.error.empty())
            out_.problems.push_back("fatbin container at " + text::hex(c.offset) + " in " + r.name +
                                    ": " + c.error);
        out_.containers.push_back(std::move(c));
        // After a broken entry resume right behind it: the declared end cannot be trusted.
        return e > off ? e : off + 1;
    }

    static bool valid_entry(Bytes reg, std::uint64_t e, std::uint64_t end,
                            std::string* why = nullptr) {
        auto fail = [&](std::string s) {
            if (why) *why = std::move(s);
            return false;
        };
        if (e > end || end - e < kMinEntryHeader || !reg.has(e, kMinEntryHeader))
            return fail("truncated entry header");
        auto ver = reg.get<std::uint16_t>(e + 2);
        auto ehs = reg.get<std::uint32_t>(e + 4);
        auto size = reg.get<std::uint64_t>(e + 8);
        if (ver != kEntryVersion) return fail("unknown entry version " + text::hex(ver));
        if (ehs < kMinEntryHeader || ehs > kMaxEntryHeader)
            return fail("entry header size " + std::to_string(ehs) + " out of range");
        if (ehs > end - e || size > end - e - ehs)
            return fail("entry of " + std::to_string(size) + " bytes runs past the container end");
        return true;
    }

    void read_entry(Bytes reg, const Region& r, std::uint64_t e, std::size_t container,
                    bool relocatable) {
        FatbinEntry en;
        en.raw_kind = reg.get<std::uint16_t>(e);
        switch (en.raw_kind) {
        case 1:
            en.kind = EntryKind::ptx;
            break;
        case 2:
        case 4:
            en.kind = EntryKind::sass;
            break;
        case 8:
            en.kind = EntryKind::lto;
            break;
        default:
            en.kind = EntryKind::unknown;
            break;
        }
        en.header_size = reg.get<std::uint32_t>(e + 4);
        en.size = reg.get<std::uint64_t>(e + 8);
        en.compressed_size = reg.get<std::uint32_t>(e + 0x10);
        en.code_minor = reg.get<std::uint16_t>(e + 0x18);
        en.code_major = reg.get<std::uint16_t>(e + 0x1a);
        en.arch = reg.get<std::uint32_t>(e + 0x1c);
        en.flags = reg.get<std::uint64_t>(e + 0x28);
        std::uint64_t usz = reg.get<std::uint64_t>(e + 0x38);
        en.variant = (en.flags & kFlagArchSpecific) ? ArchVariant::a
                     : (en.flags & kFlagFamily)     ? ArchVariant::f
                                                    : ArchVariant::plain;
        en.compression = (en.flags & kFlagZstd)  ? Compression::zstd
                         : (en.flags & kFlagLz4) ? Compression::lz4
                                                 : Compression::none;
        if (en.compression == Compression::none) {
            en.compressed_size = 0;
            en.uncompressed_size = en.size;
        } else {
            en.uncompressed_size = usz;
        }
        en.offset = r.off + e;
        en.container = container;
        en.relocatable = relocatable;
        if (en.raw_kind == 2 && opts_.cubin != FatbinOptions::Cubin::none)
            inspect_cubin(en, reg.sub(e + en.header_size, en.size));
        out_.entries.push_back(std::move(en));
    }

    void inspect_cubin(FatbinEntry& en, Bytes payload) {
        CubinInfo info;
        if (en.compression == Compression::none) {
            info = parse_cubin(payload);
        } else {
            const std::uint64_t usz = en.uncompressed_size;
            const bool all = opts_.cubin == FatbinOptions::Cubin::all;
            const std::uint64_t full_cap =
                std::min(opts_.max_decompress, all && en.compression == Compression::lz4
                                                   ? opts_.max_decompress
                                                   : kCheapDecompress);
            const bool full = usz > 0 && usz <= full_cap;
            const bool prefix = !full && all && en.compression == Compression::zstd && usz > 0 &&
                                usz <= opts_.max_decompress;
            if (!full && !prefix) return;
            if (en.compressed_size == 0 || en.compressed_size > payload.n) {
                en.cubin_error = "compressed size " + std::to_string(en.compressed_size) +
                                 " does not fit the " + std::to_string(payload.n) + "-byte payload";
                return;
            }
            // An LZ4 block expands at most ~255x; a larger claim is a lie not worth allocating.
            if (en.compression == Compression::lz4 && usz / 255 > en.compressed_size + 16) {
                en.cubin_error = "uncompressed size " + std::to_string(usz) +
                                 " is impossible for " + std::to_string(en.compressed_size) +
                                 " bytes of LZ4";
                return;
            }
            std::string_view src(reinterpret_cast<const char*>(payload.p), en.compressed_size);
            if (prefix) {
                info = zstd_prefix_info(src, usz);
            } else if (decompress(en.compression, src, usz)) {
                info = parse_cubin({reinterpret_cast<const unsigned char*>(buf_.data()), usz});
            } else {
                info.error =
                    std::string("payload does not decompress (") + to_string(en.compression) + ")";
            }
        }
        en.cubin_sm = info.sm;
        en.toolkit = info.toolkit;
        en.has_code = info.has_code;
        en.cubin_error = info.error;
    }

    bool decompress(Compression c, std::string_view src, std::uint64_t out_size) {
        if (c == Compression::lz4) return lz4::decompress_block(src, buf_, out_size);
        if (!reset_dctx()) return false;
        if (buf_.size() < out_size) buf_.resize(out_size);
        size_t r = ZSTD_decompressDCtx(dctx_, buf_.data(), out_size, src.data(), src.size());
        return !ZSTD_isError(r) && r == out_size;
    }

    bool reset_dctx() {
        if (!dctx_) dctx_ = ZSTD_createDCtx();
        return dctx_ && !ZSTD_isError(ZSTD_DCtx_reset(dctx_, ZSTD_reset_session_only));
    }

    // A large compressed cubin keeps its section headers at the end, but the ELF header comes
    // first and .note.nv.cuinfo early (after .note.nv.tkinfo): decompress only until that note
    // shows up. has_code stays unknown (stub cubins are tiny, never this large).
    CubinInfo zstd_prefix_info(std::string_view src, std::uint64_t usz) {
        // type 1000 + "NVIDIA Corp\0"; namesz (12) and descsz (6 or 8) precede it.
        static constexpr unsigned char kNote[16] = {0xe8, 3,   0,   0,   'N', 'V', 'I', 'D',
                                                    'I',  'A', ' ', 'C', 'o', 'r', 'p', 0};
        constexpr std::size_t kKeep = 8 + sizeof kNote + 6;
        constexpr std::size_t kChunk = 64u << 10;
        CubinInfo info;
        if (!reset_dctx()) return info;
        // The decoder keeps its own window, so a small rolling buffer is enough: the tail of the
        // previous chunk (a note may straddle chunks) followed by the next chunk.
        if (buf_.size() < kKeep + kChunk) buf_.resize(kKeep + kChunk);
        auto* win = reinterpret_cast<unsigned char*>(buf_.data());
        unsigned char hdr[64];
        std::size_t kept = 0;
        std::uint64_t produced = 0;
        ZSTD_inBuffer in{src.data(), src.size(), 0};
        while (produced < usz) {
            ZSTD_outBuffer ob{win + kept, std::min<std::uint64_t>(usz - produced, kChunk), 0};
            std::size_t before_in = in.pos;
            std::size_t r = ZSTD_decompressStream(dctx_, &ob, &in);
            if (ZSTD_isError(r)) {
                info.error = "payload does not decompress (zstd)";
                return info;
            }
            if (produced < sizeof hdr) {
                std::size_t n = std::min<std::size_t>(sizeof hdr - produced, ob.pos);
                std::memcpy(hdr + produced, win + kept, n);
            }
            const bool had_header = produced >= sizeof hdr;
            produced += ob.pos;
            if (!had_header && produced >= sizeof hdr) {
                CubinInfo h = parse_cubin_header({hdr, sizeof hdr});
                if (!h.error.empty()) return h;
                info.sm = h.sm;
            }
            std::size_t have = kept + ob.pos;
            if (produced >= sizeof hdr) {
                std::size_t pos = 0;
                while (auto* hit = static_cast<const unsigned char*>(
                           memmem(win + pos, have - pos, kNote, sizeof kNote))) {
                    std::size_t h = static_cast<std::size_t>(hit - win);
                    std::size_t at = h + sizeof kNote;
                    std::uint32_t namesz = 12, descsz = 8;
                    if (h >= 8) {
                        std::memcpy(&namesz, win + h - 8, 4);
                        std::memcpy(&descsz, win + h - 4, 4);
                    }
                    if (namesz == 12 && descsz >= 6 && descsz <= 64 && at + 6 <= have) {
                        std::uint16_t tk;
                        std::memcpy(&tk, win + at + 4, 2);
                        info.toolkit = tk;
                        return info;
                    }
                    pos = h + 1;
                }
            }
            kept = std::min(have, kKeep);
            std::memmove(win, win + have - kept, kept);
            if (r == 0 || (ob.pos == 0 && in.pos == before_in)) break;
        }
        if (produced < sizeof hdr) info.error = "cubin shorter than an ELF header";
        return info;
    }

    Bytes f_;
    const FatbinOptions& opts_;
    FatbinFile& out_;
    ZSTD_DCtx* dctx_ = nullptr;
    std::string buf_;
};

FatbinFile scan(Bytes f, const FatbinOptions& opts) {
    FatbinFile out;
    out.file_size = f.n;
    std::vector<Region> regions;
    if (is_elf64le(f)) {
        out.elf = true;
        regions = elf::regions(f, out.problems);
    }
    if (regions.empty() && f.n > 0) regions.push_back({0, f.n, "file"});
    Scanner s(f, opts, out);
    for (auto& r : regions) s.scan_region(r);
    return out;
}

} // namespace

const char* to_string(EntryKind k) {
    switch (k) {
    case EntryKind::ptx:
        return "ptx";
    case EntryKind::sass:
        return "sass";
    case EntryKind::lto:
        return "lto";
    case EntryKind::unknown:
        return "unknown";
    }
    return "unknown";
}

const char* to_string(Compression c) {
    switch (c) {
    case Compression::none:
        return "none";
    case Compression::lz4:
        return "lz4";
    case Compression::zstd:
        return "zstd";
    }
    return "none";
}

std::string FatbinEntry::arch_name() const {
    std::string s;
    switch (kind) {
    case EntryKind::ptx:
        s = "compute_";
        break;
    case EntryKind::sass:
        s = "sm_";
        break;
    case EntryKind::lto:
        s = "lto_";
        break;
    case EntryKind::unknown:
        s = "kind" + std::to_string(raw_kind) + "_";
        break;
    }
    s += std::to_string(arch);
    if (variant == ArchVariant::a) s += 'a';
    if (variant == ArchVariant::f) s += 'f';
    return s;
}

std::string FatbinEntry::cc() const {
    return std::to_string(arch / 10) + "." + std::to_string(arch % 10);
}

std::vector<FatbinEntry> FatbinFile::kernel_entries() const {
    std::vector<FatbinEntry> v;
    for (auto& e : entries)
        if (!e.stub) v.push_back(e);
    return v;
}

std::size_t FatbinFile::stub_containers() const {
    return static_cast<std::size_t>(
        std::count_if(containers.begin(), containers.end(), [](auto& c) { return c.stub; }));
}

FatbinFile scan_fatbin_bytes(std::string_view data, const FatbinOptions& opts) {
    return scan({reinterpret_cast<const unsigned char*>(data.data()), data.size()}, opts);
}

FatbinFile scan_fatbin_file(const std::string& path, const FatbinOptions& opts) {
    MappedFile file(path);
    FatbinFile out;
    if (file.size() > 0)
        out =
            scan({reinterpret_cast<const unsigned char*>(file.bytes().data()), file.size()}, opts);
    out.path = path;
    out.file_size = file.size();
    return out;
}

} // namespace gantry::gpu_vendors::nvidia
