#include "gpu_host/ldcache.hpp"

#include "util/error.hpp"
#include "util/fs.hpp"

#include <bit>
#include <cstring>

namespace gantry::gpu_host::ldcache {

namespace {

constexpr std::string_view old_magic = "ld.so-1.7.0";          // 11 bytes
constexpr std::string_view new_magic = "glibc-ld.so.cache1.1"; // magic + version, 20 bytes
constexpr std::uint64_t old_header_size = 16;                  // magic, pad, nlibs
constexpr std::uint64_t old_entry_size = 12;                   // flags, key, value
constexpr std::uint64_t new_header_size = 48;                  // see parse_new
constexpr std::uint64_t new_entry_size = 24;                   // + osversion, hwcap
constexpr std::uint64_t new_align = 8;                         // alignof(cache_file_new)
constexpr std::uint32_t extension_magic = 0xeaa42174;
constexpr std::uint32_t extension_tag_generator = 0;

constexpr bool host_little = std::endian::native == std::endian::little;

// Bounds-checked reads of native-endian integers (ldconfig writes host order).
class View {
  public:
    explicit View(std::string_view d) : d_(d) {}
    std::uint64_t size() const { return d_.size(); }
    bool has(std::uint64_t off, std::uint64_t n) const {
        return off <= d_.size() && n <= d_.size() - off;
    }
    template <typename T>
    T get(std::uint64_t off, const char* what) const {
        if (!has(off, sizeof(T)))
            throw Error(Errc::invalid, std::string("ld.so.cache is truncated (") + what + ")");
        T v;
        std::memcpy(&v, d_.data() + off, sizeof(T));
        return v;
    }
    // A NUL-terminated string at base + off, which must end inside the data.
    std::string str(std::uint64_t base, std::uint32_t off) const {
        std::uint64_t at = base + off;
        if (at >= d_.size())
            throw Error(Errc::invalid, "ld.so.cache has a string offset past its end (" +
                                           std::to_string(off) + ")");
        const void* nul = std::memchr(d_.data() + at, '\0', d_.size() - at);
        if (!nul) throw Error(Errc::invalid, "ld.so.cache has an unterminated string");
        return std::string(d_.data() + at, static_cast<const char*>(nul));
    }
    std::string_view slice(std::uint64_t off, std::uint64_t n) const {
        return has(off, n) ? d_.substr(off, n) : std::string_view{};
    }
    bool starts_with(std::uint64_t off, std::string_view s) const {
        return has(off, s.size()) && d_.substr(off, s.size()) == s;
    }

  private:
    std::string_view d_;
};

void check_count(const View& v, std::uint64_t start, std::uint64_t n, std::uint64_t each) {
    // n is at most 2^32 and each at most 24, so the product cannot overflow 64 bits.
    if (!v.has(start, n * each))
        throw Error(Errc::invalid, "ld.so.cache claims " + std::to_string(n) +
                                       " entries but is only " + std::to_string(v.size()) +
                                       " bytes");
}

// The generator string from the extension directory; any inconsistency there is ignored (the
// section is informational and optional).
std::string read_generator(const View& v, std::uint64_t base, std::uint32_t ext_off) {
    if (ext_off == 0 || !v.has(base + ext_off, 8)) return {};
    std::uint64_t at = base + ext_off;
    if (v.get<std::uint32_t>(at, "extension") != extension_magic) return {};
    std::uint32_t count = v.get<std::uint32_t>(at + 4, "extension");
    if (!v.has(at + 8, std::uint64_t{count} * 16)) return {};
    for (std::uint32_t i = 0; i < count; ++i) {
        std::uint64_t s = at + 8 + std::uint64_t{i} * 16;
        std::uint32_t tag = v.get<std::uint32_t>(s, "extension");
        std::uint32_t off = v.get<std::uint32_t>(s + 8, "extension");
        std::uint32_t len = v.get<std::uint32_t>(s + 12, "extension");
        if (tag != extension_tag_generator || !v.has(base + off, len)) continue;
        std::string g(v.slice(base + off, len));
        if (auto nul = g.find('\0'); nul != std::string::npos) g.resize(nul);
        return g;
    }
    return {};
}

// New format at `base`: magic[17] version[3] nlibs len_strings flags pad[3] extension_offset
// unused[3], then nlibs entries {flags key value osversion hwcap}; strings are relative to base.
// What old and new entries share at E: flags, then the key's and the value's offsets into the
// strings at STRINGS.
Entry entry_at(const View& v, std::uint64_t e, std::uint64_t strings) {
    Entry en;
    en.flags = v.get<std::int32_t>(e, "entry");
    en.key = v.str(strings, v.get<std::uint32_t>(e + 4, "entry"));
    en.value = v.str(strings, v.get<std::uint32_t>(e + 8, "entry"));
    return en;
}

void parse_new(const View& v, std::uint64_t base, Cache& out) {
    if (!v.has(base, new_header_size)) throw Error(Errc::invalid, "ld.so.cache header truncated");
    std::uint32_t nlibs = v.get<std::uint32_t>(base + 20, "nlibs");
    std::uint8_t endian = v.get<std::uint8_t>(base + 28, "flags") & 3;
    if (endian == 1) throw Error(Errc::invalid, "ld.so.cache has an invalid byte-order flag");
    if ((endian == 2 && !host_little) || (endian == 3 && host_little))
        throw Error(Errc::unsupported, "ld.so.cache was written for the other byte order");
    std::uint32_t ext_off = v.get<std::uint32_t>(base + 32, "extension offset");
    std::uint64_t first = base + new_header_size;
    check_count(v, first, nlibs, new_entry_size);
    out.entries.clear();
    out.entries.reserve(nlibs);
    for (std::uint32_t i = 0; i < nlibs; ++i) {
        std::uint64_t e = first + std::uint64_t{i} * new_entry_size;
        Entry en = entry_at(v, e, base);
        en.osversion = v.get<std::uint32_t>(e + 12, "entry");
        en.hwcap = v.get<std::uint64_t>(e + 16, "entry");
        out.entries.push_back(std::move(en));
    }
    out.generator = read_generator(v, base, ext_off);
}

} // namespace

Cache parse(std::string_view data) {
    View v(data);
    Cache out;
    if (v.starts_with(0, new_magic)) {
        out.format = Format::new_only;
        parse_new(v, 0, out);
        return out;
    }
    if (!v.starts_with(0, old_magic))
        throw Error(Errc::invalid, "not an ld.so.cache (unknown magic)");
    if (!v.has(0, old_header_size)) throw Error(Errc::invalid, "ld.so.cache header truncated");
    std::uint32_t nlibs = v.get<std::uint32_t>(12, "nlibs");
    check_count(v, old_header_size, nlibs, old_entry_size);
    std::uint64_t strings = old_header_size + std::uint64_t{nlibs} * old_entry_size;
    std::uint64_t next = (strings + new_align - 1) & ~(new_align - 1);
    if (v.starts_with(next, new_magic)) {
        out.format = Format::compat;
        parse_new(v, next, out);
        return out;
    }
    out.format = Format::old_only;
    out.entries.reserve(nlibs);
    for (std::uint32_t i = 0; i < nlibs; ++i) {
        std::uint64_t e = old_header_size + std::uint64_t{i} * old_entry_size;
        out.entries.push_back(entry_at(v, e, strings));
    }
    return out;
}

Cache load(const std::string& path) {
    std::string data = fs::read_file(path, 256u << 20);
    try {
        return parse(data);
    } catch (const Error& e) {
        throw e.with_context(path);
    }
}

bool is_native(const Entry& e) {
#if defined(__x86_64__)
    return e.is_x86_64();
#elif defined(__aarch64__)
    return e.is_aarch64();
#elif defined(__powerpc64__)
    return e.flags == (flag_elf_libc6 | flag_powerpc_lib64);
#else
    return e.flags == flag_elf_libc6;
#endif
}

bool is_lib32(const Entry& e) {
#if defined(__x86_64__)
    return e.is_i386();
#else
    (void)e;
    return false;
#endif
}

bool is_native_of(const Entry& e, std::uint16_t elf_machine) {
    switch (elf_machine) {
    case 62:
        return e.is_x86_64();
    case 183:
        return e.is_aarch64();
    default:
        return false;
    }
}

bool is_lib32_of(const Entry& e, std::uint16_t elf_machine) {
    return elf_machine == 62 && e.is_i386();
}

std::string describe(const Entry& e) {
    std::string s;
    switch (e.flags & flag_type_mask) {
    case 0:
        s = "libc4";
        break;
    case flag_elf:
        s = "ELF";
        break;
    case 2:
        s = "libc5";
        break;
    case flag_elf_libc6:
        s = "libc6";
        break;
    default:
        s = "unknown";
        break;
    }
    switch (e.flags & flag_arch_mask) {
    case 0:
        break;
    case flag_x8664_lib64:
        s += ",x86-64";
        break;
    case flag_x8664_libx32:
        s += ",x32";
        break;
    case flag_aarch64_lib64:
        s += ",AArch64";
        break;
    case flag_powerpc_lib64:
        s += ",64bit";
        break;
    default:
        s += ",arch " + std::to_string((e.flags & flag_arch_mask) >> 8);
        break;
    }
    if (e.osversion != 0) {
        static const char* const os[] = {"Linux", "Hurd", "Solaris", "FreeBSD", "kNetBSD"};
        unsigned id = e.osversion >> 24;
        s += ", OS ABI: ";
        s += id < 5 ? os[id] : "unknown";
        s += " " + std::to_string((e.osversion >> 16) & 0xff) + "." +
             std::to_string((e.osversion >> 8) & 0xff) + "." + std::to_string(e.osversion & 0xff);
    }
    if (e.hwcap != 0) s += ", hwcap: " + std::to_string(e.hwcap);
    return s;
}

} // namespace gantry::gpu_host::ldcache
