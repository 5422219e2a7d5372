#include "elf/dynamic.hpp"

#include "elf/headers.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <optional>
#include <sys/stat.h>
#include <unistd.h>

namespace gantry::elf {

namespace {

constexpr std::uint64_t dt_null = 0, dt_needed = 1, dt_hash = 4, dt_strtab = 5, dt_symtab = 6,
                        dt_strsz = 10, dt_soname = 14, dt_gnu_hash = 0x6ffffef5,
                        dt_verdef = 0x6ffffffc, dt_verdefnum = 0x6ffffffd, dt_verneed = 0x6ffffffe,
                        dt_verneednum = 0x6fffffff;
constexpr std::uint64_t max_versions = 4096; // version entries examined (glibc has ~50)
constexpr std::uint32_t nt_gnu_abi_tag = 1, nt_gnu_property_type_0 = 5;
constexpr std::uint32_t gnu_property_x86_isa_1_needed = 0xc0008002;
constexpr std::uint32_t max_phnum = 4096;          // real objects have about ten
constexpr std::uint64_t max_dyn = 1u << 16;        // dynamic entries examined
constexpr std::uint64_t max_string = 4096;         // longest SONAME/NEEDED accepted
constexpr std::uint64_t max_note_bytes = 1u << 16; // note segment bytes examined

// Random access to the object's bytes: memory or pread on a file.
class Source {
  public:
    virtual ~Source() = default;
    virtual std::uint64_t size() const = 0;
    // Fills buf with n bytes at off, or throws Error(invalid) if they are not all there.
    virtual void read(std::uint64_t off, void* buf, std::size_t n) const = 0;
};

class MemorySource final : public Source {
  public:
    explicit MemorySource(std::string_view d) : d_(d) {}
    std::uint64_t size() const override { return d_.size(); }
    void read(std::uint64_t off, void* buf, std::size_t n) const override {
        if (off > d_.size() || n > d_.size() - off)
            throw Error(Errc::invalid, "ELF data is truncated");
        std::memcpy(buf, d_.data() + off, n);
    }

  private:
    std::string_view d_;
};

// pread with the file's first 16 KiB read once: headers, and in small objects everything else,
// come from there.
class FileSource final : public Source {
  public:
    FileSource(int fd, std::uint64_t size) : fd_(fd), size_(size) {
        head_.resize(static_cast<std::size_t>(std::min<std::uint64_t>(size, 16384)));
        pread_all(0, head_.data(), head_.size());
    }
    std::uint64_t size() const override { return size_; }
    void read(std::uint64_t off, void* buf, std::size_t n) const override {
        if (off > size_ || n > size_ - off) throw Error(Errc::invalid, "ELF file is truncated");
        if (off + n <= head_.size()) {
            std::memcpy(buf, head_.data() + off, n);
            return;
        }
        pread_all(off, buf, n);
    }

  private:
    void pread_all(std::uint64_t off, void* buf, std::size_t n) const {
        auto p = static_cast<char*>(buf);
        while (n > 0) {
            ssize_t r = ::pread(fd_, p, n, static_cast<off_t>(off));
            if (r < 0 && errno == EINTR) continue;
            if (r < 0) throw sys_error(errno, "cannot read ELF file");
            if (r == 0) throw Error(Errc::invalid, "ELF file is truncated");
            p += r;
            off += static_cast<std::uint64_t>(r);
            n -= static_cast<std::size_t>(r);
        }
    }

    int fd_;
    std::uint64_t size_;
    std::string head_;
};

class Reader {
  public:
    Reader(const Source& src, bool little) : src_(src), little_(little) {}

    template <typename T>
    T get(std::uint64_t off) const {
        unsigned char b[sizeof(T)];
        src_.read(off, b, sizeof b);
        return Bytes{b, sizeof b, little_}.get<T>(0);
    }
    // A word of the object's class: 4 bytes for ELF32, 8 for ELF64.
    std::uint64_t word(std::uint64_t off, bool is64) const {
        return is64 ? get<std::uint64_t>(off) : get<std::uint32_t>(off);
    }
    // The NUL-terminated string at off, not past limit.
    std::string cstr(std::uint64_t off, std::uint64_t limit) const {
        if (off >= limit || off >= src_.size())
            throw Error(Errc::invalid, "ELF string offset out of range");
        std::uint64_t n = std::min({limit - off, src_.size() - off, max_string + 1});
        std::string s(static_cast<std::size_t>(n), '\0');
        src_.read(off, s.data(), s.size());
        auto nul = s.find('\0');
        if (nul == std::string::npos) throw Error(Errc::invalid, "ELF string is unterminated");
        s.resize(nul);
        return s;
    }
    const Source& src() const { return src_; }

  private:
    const Source& src_;
    bool little_;
};

struct Phdr {
    std::uint32_t type = 0;
    std::uint64_t offset = 0, vaddr = 0, filesz = 0, align = 0;
};

std::uint64_t vaddr_to_offset(const std::vector<Phdr>& ph, std::uint64_t vaddr) {
    for (const auto& p : ph) {
        if (p.type == pt_load && vaddr >= p.vaddr && vaddr - p.vaddr < p.filesz &&
            p.offset + (vaddr - p.vaddr) >= p.offset)
            return p.offset + (vaddr - p.vaddr);
    }
    throw Error(Errc::invalid, "ELF dynamic string table lies outside every loadable segment");
}

// NT_GNU_PROPERTY_TYPE_0's properties: pr_type, pr_datasz, the data, each padded to ALIGN.
void read_properties(const Reader& r, std::uint64_t at, std::uint64_t end, std::uint64_t align,
                     Info& info) {
    while (end - at >= 8) {
        std::uint32_t type = r.get<std::uint32_t>(at);
        std::uint64_t size = r.get<std::uint32_t>(at + 4);
        if (size > end - at - 8) return; // malformed: properties are optional
        if (type == gnu_property_x86_isa_1_needed && size == 4)
            info.x86_isa_needed |= r.get<std::uint32_t>(at + 8);
        std::uint64_t step = 8 + ((size + align - 1) & ~(align - 1));
        if (step > end - at) return;
        at += step;
    }
}

// The ABI tag, and with PROPERTIES the x86 ISA property.
void read_notes(const Reader& r, const Phdr& p, Info& info, bool properties) {
    std::uint64_t align = p.align == 8 ? 8 : 4;
    std::uint64_t end = p.offset + std::min({p.filesz, max_note_bytes, r.src().size() - p.offset});
    // offsets aligned within the segment: in an 8-aligned note (ELF64 .note.gnu.property) the
    // descriptor starts at 16, after the 12-byte header and "GNU\0"
    auto pad = [align, &p](std::uint64_t off) {
        return p.offset + ((off - p.offset + align - 1) & ~(align - 1));
    };
    for (std::uint64_t at = p.offset; at + 12 <= end;) {
        std::uint64_t namesz = r.get<std::uint32_t>(at);
        std::uint64_t descsz = r.get<std::uint32_t>(at + 4);
        std::uint32_t type = r.get<std::uint32_t>(at + 8);
        std::uint64_t name_at = at + 12;
        if (namesz > end - name_at || descsz > end - name_at) return; // malformed: ignore
        std::uint64_t desc_at = pad(name_at + namesz);
        if (desc_at > end || descsz > end - desc_at) return;
        std::uint64_t next = pad(desc_at + descsz); // past END: the loop ends after this note
        char name[4] = {};
        if (namesz == 4) r.src().read(name_at, name, 4);
        bool gnu = namesz == 4 && std::memcmp(name, "GNU", 4) == 0;
        if (gnu && type == nt_gnu_abi_tag && descsz >= 16 && !info.abi_tag) {
            AbiTag t;
            t.os = r.get<std::uint32_t>(desc_at);
            t.major = r.get<std::uint32_t>(desc_at + 4);
            t.minor = r.get<std::uint32_t>(desc_at + 8);
            t.patch = r.get<std::uint32_t>(desc_at + 12);
            info.abi_tag = t;
        } else if (gnu && type == nt_gnu_property_type_0 && properties) {
            read_properties(r, desc_at, desc_at + descsz, info.bits == 64 ? 8 : 4, info);
        }
        at = next;
    }
}

// .gnu.version_d / .gnu.version_r: the structures are the same size in ELF32 and ELF64.
void read_versions(const Reader& r, const std::vector<Phdr>& ph, std::uint64_t str_off,
                   std::uint64_t limit, std::optional<std::uint64_t> verdef, std::uint64_t ndef,
                   std::optional<std::uint64_t> verneed, std::uint64_t nneed, Info& info) {
    auto name_at = [&](std::uint64_t n) {
        if (n >= limit - str_off) throw Error(Errc::invalid, "ELF version name out of range");
        return r.cstr(str_off + n, limit);
    };
    std::uint64_t budget = max_versions;
    if (verdef) {
        std::uint64_t at = vaddr_to_offset(ph, *verdef);
        for (std::uint64_t i = 0; i < std::min(ndef, max_versions) && budget; ++i, --budget) {
            auto aux = r.get<std::uint32_t>(at + 12);
            auto next = r.get<std::uint32_t>(at + 16);
            // vd_flags VER_FLG_BASE (1) marks the entry naming the object itself
            if ((r.get<std::uint16_t>(at + 2) & 1) == 0)
                info.version_defs.push_back(name_at(r.get<std::uint32_t>(at + aux)));
            if (next == 0) break;
            at += next;
        }
    }
    if (verneed) {
        std::uint64_t at = vaddr_to_offset(ph, *verneed);
        for (std::uint64_t i = 0; i < std::min(nneed, max_versions) && budget; ++i) {
            auto cnt = r.get<std::uint16_t>(at + 2);
            std::string file = name_at(r.get<std::uint32_t>(at + 4));
            auto aux = r.get<std::uint32_t>(at + 8);
            auto next = r.get<std::uint32_t>(at + 12);
            std::uint64_t a = at + aux;
            for (std::uint16_t k = 0; k < cnt && budget; ++k, --budget) {
                info.version_needs.push_back(file + ":" + name_at(r.get<std::uint32_t>(a + 8)));
                auto anext = r.get<std::uint32_t>(a + 12);
                if (anext == 0) break;
                a += anext;
            }
            if (next == 0) break;
            at += next;
        }
    }
}

Info parse(const Source& src, bool versions) {
    // the file header (elf/headers.hpp): the first 64 bytes, or as many as there are
    unsigned char head[64];
    if (src.size() < 16) throw Error(Errc::invalid, "not an ELF file (too short)");
    Bytes hb{head, std::min<std::uint64_t>(src.size(), sizeof head)};
    src.read(0, head, static_cast<std::size_t>(hb.n));
    switch (identify(hb)) {
    case Ident::not_elf:
        throw Error(Errc::invalid, "not an ELF file");
    case Ident::bad_class:
        throw Error(Errc::invalid, "ELF class is unknown");
    case Ident::bad_order:
        throw Error(Errc::invalid, "ELF byte order is unknown");
    case Ident::elf:
        break;
    }
    const Header h = header(hb);
    if (hb.n < h.through_phnum()) src.read(src.size(), head, 1); // throws: truncated
    Info info;
    const bool is64 = h.is64;
    info.bits = h.bits();
    info.little_endian = h.little;
    Reader r(src, info.little_endian);
    info.type = h.type;
    info.machine = h.machine;
    const std::uint64_t phoff = h.phoff;
    const std::uint16_t phentsize = h.phentsize, phnum = h.phnum;
    if (phnum == 0) return info;
    if (phnum > max_phnum) throw Error(Errc::invalid, "ELF has too many program headers");
    if (phentsize < (is64 ? 56u : 32u)) throw Error(Errc::invalid, "ELF program header too small");

    if (phoff > src.size() || std::uint64_t{phnum} * phentsize > src.size() - phoff)
        throw Error(Errc::invalid, "ELF program headers lie past the end of the file");
    std::vector<Phdr> ph(phnum);
    for (std::uint16_t i = 0; i < phnum; ++i) {
        // one entry's bytes (inside the file: checked above), decoded by elf/headers
        unsigned char e[56];
        Bytes eb{e, program_header_size(is64), h.little};
        src.read(phoff + std::uint64_t{i} * phentsize, e, static_cast<std::size_t>(eb.n));
        Header at_zero = h;
        at_zero.phoff = 0;
        ProgramHeader p = program_header(eb, at_zero, 0);
        ph[i] = Phdr{p.type, p.offset, p.vaddr, p.filesz, p.align};
    }
    // PT_GNU_PROPERTY covers the property note that a PT_NOTE also covers: read one of them
    bool property_segment =
        std::any_of(ph.begin(), ph.end(), [](const Phdr& p) { return p.type == pt_gnu_property; });
    for (const auto& p : ph) {
        if (p.offset >= src.size()) continue;
        if (p.type == pt_note) read_notes(r, p, info, !property_segment);
        if (p.type == pt_gnu_property) read_notes(r, p, info, true);
    }

    const Phdr* dyn = nullptr;
    for (const auto& p : ph) {
        if (p.type == pt_dynamic) dyn = &p;
    }
    if (!dyn) return info; // static or not loadable: no SONAME
    const std::uint64_t entsize = is64 ? 16 : 8;
    if (dyn->offset >= src.size()) throw Error(Errc::invalid, "ELF dynamic segment out of range");
    std::uint64_t count = std::min({dyn->filesz, src.size() - dyn->offset}) / entsize;
    count = std::min(count, max_dyn);
    std::uint64_t strtab = 0, strsz = 0;
    bool have_strtab = false, have_symtab = false, have_hash = false;
    std::vector<std::uint64_t> needed;
    std::optional<std::uint64_t> soname, verdef, verneed;
    std::uint64_t verdefnum = 0, verneednum = 0;
    for (std::uint64_t i = 0; i < count; ++i) {
        std::uint64_t at = dyn->offset + i * entsize;
        std::uint64_t tag = r.word(at, is64);
        std::uint64_t val = r.word(at + entsize / 2, is64);
        if (tag == dt_null) break;
        if (tag == dt_strtab) strtab = val, have_strtab = true;
        if (tag == dt_strsz) strsz = val;
        if (tag == dt_soname) soname = val;
        if (tag == dt_symtab) have_symtab = true;
        if (tag == dt_hash || tag == dt_gnu_hash) have_hash = true;
        if (tag == dt_needed && needed.size() < 1024) needed.push_back(val);
        if (tag == dt_verdef) verdef = val;
        if (tag == dt_verdefnum) verdefnum = val;
        if (tag == dt_verneed) verneed = val;
        if (tag == dt_verneednum) verneednum = val;
    }
    if (!versions) verdef = verneed = std::nullopt;
    info.has_symtab = have_strtab && have_symtab && have_hash;
    if (!soname && needed.empty() && !verdef && !verneed) return info;
    if (!have_strtab) throw Error(Errc::invalid, "ELF has a dynamic section without DT_STRTAB");
    std::uint64_t str_off = vaddr_to_offset(ph, strtab);
    if (str_off >= src.size()) throw Error(Errc::invalid, "ELF string table out of range");
    std::uint64_t limit = src.size();
    if (strsz > 0 && strsz < src.size() - str_off) limit = str_off + strsz;
    if (soname) {
        if (*soname >= limit - str_off) throw Error(Errc::invalid, "ELF DT_SONAME out of range");
        info.soname = r.cstr(str_off + *soname, limit);
    }
    for (std::uint64_t n : needed) {
        if (n >= limit - str_off) throw Error(Errc::invalid, "ELF DT_NEEDED out of range");
        info.needed.push_back(r.cstr(str_off + n, limit));
    }
    if (verdef || verneed)
        read_versions(r, ph, str_off, limit, verdef, verdefnum, verneed, verneednum, info);
    return info;
}

} // namespace

std::string AbiTag::to_string() const {
    static const char* const names[] = {"Linux",   "Hurd",   "Solaris",
                                        "FreeBSD", "NetBSD", "Syllable"};
    std::string s = os < 6 ? names[os] : "OS" + std::to_string(os);
    return s + " " + std::to_string(major) + "." + std::to_string(minor) + "." +
           std::to_string(patch);
}

std::uint16_t native_machine() {
#if defined(__x86_64__)
    return em_x86_64;
#elif defined(__aarch64__)
    return em_aarch64;
#elif defined(__i386__)
    return em_386;
#else
    return 0;
#endif
}

int native_bits() {
    return static_cast<int>(sizeof(void*) * 8);
}

Info read(std::string_view data, bool versions) {
    return parse(MemorySource(data), versions);
}

std::pair<int, int> max_glibc_version(const std::vector<std::string>& names) {
    std::pair<int, int> best{0, 0};
    for (const auto& n : names) {
        auto at = n.find("GLIBC_");
        if (at == std::string::npos || (at != 0 && n[at - 1] != ':')) continue;
        const char* p = n.c_str() + at + 6;
        char* end = nullptr;
        long major = std::strtol(p, &end, 10);
        if (end == p || *end != '.' || major < 0 || major > 99) continue;
        const char* q = end + 1;
        long minor = std::strtol(q, &end, 10);
        if (end == q || minor < 0 || minor > 999) continue;
        best =
            std::max(best, std::pair<int, int>(static_cast<int>(major), static_cast<int>(minor)));
    }
    return best;
}

Info read_fd(int fd, bool versions) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) throw sys_error(errno, "cannot stat an ELF file");
    if (!S_ISREG(st.st_mode)) throw Error(Errc::invalid, "not a regular file");
    return parse(FileSource(fd, static_cast<std::uint64_t>(st.st_size)), versions);
}

Info read_file(const std::string& path, bool versions) {
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
    if (!fd) throw sys_error(errno, "cannot open " + path);
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) throw sys_error(errno, "cannot stat " + path);
    if (!S_ISREG(st.st_mode)) throw Error(Errc::invalid, path + " is not a regular file");
    try {
        return parse(FileSource(fd.get(), static_cast<std::uint64_t>(st.st_size)), versions);
    } catch (const Error& e) {
        throw e.with_context(path);
    }
}

} // namespace gantry::elf
