// gpu_host::ldcache: a reader of glibc's binary /etc/ld.so.cache, in its three shapes: the new
// format
// ("glibc-ld.so.cache1.1", what ldconfig writes since glibc 2.32), the old libc5 format
// ("ld.so-1.7.0") alone, and the old format followed by the new one (ldconfig -c compat).
// Every offset and count is checked against the data: a truncated or hostile cache is an Error,
// never a read out of bounds.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace gantry::gpu_host::ldcache {

// Entry flags (dl-cache.h): the low byte is the library type, the next one the ABI/arch.
inline constexpr std::int32_t flag_type_mask = 0x00ff;
inline constexpr std::int32_t flag_elf = 0x0001;
inline constexpr std::int32_t flag_elf_libc6 = 0x0003;
inline constexpr std::int32_t flag_arch_mask = 0xff00;
inline constexpr std::int32_t flag_x8664_lib64 = 0x0300;
inline constexpr std::int32_t flag_x8664_libx32 = 0x0800;
inline constexpr std::int32_t flag_aarch64_lib64 = 0x0a00;
inline constexpr std::int32_t flag_powerpc_lib64 = 0x0500;

enum class Format { old_only, new_only, compat };

struct Entry {
    std::int32_t flags = 0;
    std::string key;             // the SONAME, e.g. libcuda.so.1
    std::string value;           // the path, e.g. /usr/lib/x86_64-linux-gnu/libcuda.so.1
    std::uint32_t osversion = 0; // new format only; 0 when not recorded (glibc >= 2.33)
    std::uint64_t hwcap = 0;     // new format only

    bool is_x86_64() const { return flags == (flag_elf_libc6 | flag_x8664_lib64); }
    // ldconfig marks a 32-bit x86 object libc6 when it needs libc.so.6, plain ELF otherwise;
    // the i386 loader accepts both.
    bool is_i386() const { return flags == flag_elf_libc6 || flags == flag_elf; }
    bool is_aarch64() const { return flags == (flag_elf_libc6 | flag_aarch64_lib64); }
};

struct Cache {
    Format format = Format::new_only;
    std::vector<Entry> entries; // in file order (ldconfig sorts them, most preferred first)
    std::string generator;      // "ldconfig (GNU libc) ..." from the extension section, if any
};

// Parses a whole cache file. Throws Error(invalid) for anything malformed, Error(unsupported)
// for a cache of the other byte order. When both formats are present, the new entries win.
Cache parse(std::string_view data);

// Reads and parses a file (Error(not_found) when it is missing).
Cache load(const std::string& path);

// Whether an entry is for the native libraries of this build (x86-64 or aarch64 libc6), or for
// its 32-bit companions (i386 on x86-64; nothing elsewhere).
bool is_native(const Entry& e);
bool is_lib32(const Entry& e);
// The same for the machine of an ELF e_machine (62 x86-64, 183 aarch64): what a simulated host
// of another machine holds.
bool is_native_of(const Entry& e, std::uint16_t elf_machine);
bool is_lib32_of(const Entry& e, std::uint16_t elf_machine);

// "libc6,x86-64" style, as `ldconfig -p` prints; "OS ABI: Linux 2.3.99" is appended when set.
std::string describe(const Entry& e);

} // namespace gantry::gpu_host::ldcache
