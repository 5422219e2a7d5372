// What the GPU host, NVIDIA and ELF unit tests share: a temporary directory, files and links,
// hand-made ELF objects, C compiled into shared objects, ldconfig -r, and a synthetic driver tree's
// libraries.
#pragma once

#include "elf/dynamic.hpp"
#include "util/fs.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

// Named, not anonymous: the unit tests may be built as one translation unit (a unity build).
namespace gpu_test {

namespace elf = gantry::elf;
namespace stdfs = std::filesystem;

inline const std::string ver = "580.95.05";

class GpuTempDir {
  public:
    GpuTempDir() {
        std::string tmpl = (stdfs::temp_directory_path() / "gantry-gpu-XXXXXX").string();
        if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
        path_ = tmpl;
    }
    ~GpuTempDir() {
        try {
            gantry::fs::remove_tree(path_);
        } catch (...) {
        }
    }
    std::string str() const { return path_.string(); }
    stdfs::path operator/(const std::string& p) const { return path_ / p; }

  private:
    stdfs::path path_;
};

inline void write(const stdfs::path& p, const std::string& data) {
    stdfs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << data;
}

inline void link(const stdfs::path& at, const std::string& target) {
    stdfs::create_directories(at.parent_path());
    stdfs::create_symlink(target, at);
}

// --- a hand-made ELF shared object: one PT_LOAD over the file, PT_DYNAMIC, optional ABI note.
template <typename T>
void put(std::string& b, std::size_t off, T v) {
    if (b.size() < off + sizeof v) b.resize(off + sizeof v);
    std::memcpy(b.data() + off, &v, sizeof v);
}

inline std::string make_elf(int bits, std::uint16_t machine, const std::string& soname,
                            const std::vector<std::string>& needed = {}, bool abi_note = false) {
    const bool b64 = bits == 64;
    const std::size_t ehsize = b64 ? 64 : 52, phsize = b64 ? 56 : 32, dynent = b64 ? 16 : 8;
    const std::size_t nph = abi_note ? 3 : 2;
    std::string strtab(1, '\0');
    auto add_str = [&](const std::string& s) {
        std::size_t at = strtab.size();
        strtab += s + '\0';
        return at;
    };
    std::vector<std::pair<std::uint64_t, std::uint64_t>> dyn;
    for (const auto& n : needed) dyn.push_back({1, add_str(n)});
    if (!soname.empty()) dyn.push_back({14, add_str(soname)});
    const std::size_t str_off = ehsize + nph * phsize;
    const std::size_t note_off = (str_off + strtab.size() + 7) & ~std::size_t{7};
    const std::size_t note_size = abi_note ? 32 : 0;
    const std::size_t dyn_off = note_off + note_size;
    dyn.push_back({5, str_off});
    dyn.push_back({10, strtab.size()});
    dyn.push_back({0, 0});
    const std::size_t total = dyn_off + dyn.size() * dynent;

    std::string b(total, '\0');
    std::memcpy(b.data(),
                "\x7f"
                "ELF",
                4);
    b[4] = b64 ? 2 : 1;
    b[5] = 1; // little endian
    b[6] = 1;
    put<std::uint16_t>(b, 16, 3); // ET_DYN
    put<std::uint16_t>(b, 18, machine);
    put<std::uint32_t>(b, 20, 1);
    auto word = [&](std::size_t off, std::uint64_t v) {
        if (b64)
            put<std::uint64_t>(b, off, v);
        else
            put<std::uint32_t>(b, off, static_cast<std::uint32_t>(v));
    };
    word(b64 ? 32 : 28, ehsize); // e_phoff
    put<std::uint16_t>(b, b64 ? 52 : 40, static_cast<std::uint16_t>(ehsize));
    put<std::uint16_t>(b, b64 ? 54 : 42, static_cast<std::uint16_t>(phsize));
    put<std::uint16_t>(b, b64 ? 56 : 44, static_cast<std::uint16_t>(nph));
    auto phdr = [&](std::size_t i, std::uint32_t type, std::uint64_t off, std::uint64_t size,
                    std::uint64_t align) {
        std::size_t at = ehsize + i * phsize;
        put<std::uint32_t>(b, at, type);
        if (b64) {
            put<std::uint32_t>(b, at + 4, 4);
            word(at + 8, off), word(at + 16, off), word(at + 24, off);
            word(at + 32, size), word(at + 40, size), word(at + 48, align);
        } else {
            word(at + 4, off), word(at + 8, off), word(at + 12, off);
            word(at + 16, size), word(at + 20, size), word(at + 24, 4), word(at + 28, align);
        }
    };
    phdr(0, 1, 0, total, 0x1000);
    phdr(1, 2, dyn_off, dyn.size() * dynent, 8);
    if (abi_note) phdr(2, 4, note_off, note_size, 4);
    std::memcpy(b.data() + str_off, strtab.data(), strtab.size());
    if (abi_note) {
        put<std::uint32_t>(b, note_off, 4);
        put<std::uint32_t>(b, note_off + 4, 16);
        put<std::uint32_t>(b, note_off + 8, 1);
        std::memcpy(b.data() + note_off + 12, "GNU", 4);
        put<std::uint32_t>(b, note_off + 16, 0);
        put<std::uint32_t>(b, note_off + 20, 2);
        put<std::uint32_t>(b, note_off + 24, 3);
        put<std::uint32_t>(b, note_off + 28, 99);
    }
    for (std::size_t i = 0; i < dyn.size(); ++i) {
        word(dyn_off + i * dynent, dyn[i].first);
        word(dyn_off + i * dynent + dynent / 2, dyn[i].second);
    }
    return b;
}

// A 64-bit object of the machine this build runs on (x86_64, aarch64): what the driver
// discovery takes for the host's own libraries
inline std::string elf64(const std::string& soname) {
    return make_elf(64, elf::native_machine(), soname);
}
inline std::string elf32(const std::string& soname) {
    return make_elf(32, elf::em_386, soname);
}

// Whether the unit binary runs under a user-mode emulator (`make test-aarch64`: qemu-aarch64-static
// on an amd64 host; ctest sets GANTRY_TEST_EMULATOR, tests/unit/ctest_suites.cmake). The host's
// programs it starts then are the build host's: cc compiles and ldconfig classifies for x86-64.
inline const char* emulator() {
    const char* e = std::getenv("GANTRY_TEST_EMULATOR");
    return e && *e ? e : nullptr;
}

// Why a test that needs cc or ldconfig -r skips
inline std::string why_no_cc() {
    return emulator() ? std::string("under ") + emulator() +
                            ": the host's cc compiles for the host's machine, not this one"
                      : "no C compiler";
}
inline std::string why_no_ldconfig() {
    return emulator() ? std::string("under ") + emulator() +
                            ": the host's ldconfig -r flags this machine's objects as foreign"
                      : "ldconfig -r failed";
}

// cc that makes objects for this build's machine: not the host's under an emulator
inline bool have_cc() {
    return !emulator() && std::system("cc --version >/dev/null 2>&1") == 0;
}

// Compiles C source into a shared object with the given SONAME.
inline bool build_so(const stdfs::path& out, const std::string& soname, const std::string& source) {
    stdfs::create_directories(out.parent_path());
    stdfs::path src = out.string() + ".c";
    write(src, source);
    std::string cmd = "cc -shared -fPIC -O0 -Wl,-soname," + soname + " -o '" + out.string() +
                      "' '" + src.string() + "' 2>/dev/null";
    bool ok = std::system(cmd.c_str()) == 0;
    stdfs::remove(src);
    return ok;
}

// ldconfig -r ROOT writes ROOT/etc/ld.so.cache, reading paths under ROOT (no chroot needed).
// Not under an emulator: the host's ldconfig flags the emulated machine's objects as its own.
inline bool run_ldconfig(const std::string& root, const std::string& format = "new") {
    if (emulator()) return false;
    std::string cmd = "ldconfig -X -c " + format + " -r '" + root + "' 2>/dev/null";
    return std::system(cmd.c_str()) == 0 && stdfs::exists(root + "/etc/ld.so.cache");
}

// The multiarch library directories of this build's machine and of x86's 32-bit one
#if defined(__aarch64__)
inline const std::string x64 = "/usr/lib/aarch64-linux-gnu";
#else
inline const std::string x64 = "/usr/lib/x86_64-linux-gnu";
#endif
inline const std::string x32 = "/usr/lib/i386-linux-gnu";

// A machine's driver library layout: Debian's multiarch directory, the ELF machine of its objects,
// whether x86's 32-bit companions sit beside them (an arm64 "sbsa" driver has none).
struct LibLayout {
    std::string dir;
    std::uint16_t machine;
    bool lib32;
};
inline LibLayout x86_layout() {
    return {"/usr/lib/x86_64-linux-gnu", elf::em_x86_64, true};
}
inline LibLayout sbsa_layout() {
    return {"/usr/lib/aarch64-linux-gnu", elf::em_aarch64, false};
}
inline LibLayout native_layout() {
    return elf::native_machine() == elf::em_aarch64 ? sbsa_layout() : x86_layout();
}

// A driver tree: versioned libraries with SONAME links (one absolute), 32-bit copies (x86), a
// graphics core library, an unknown library, a VDPAU driver, an older driver's leftover and a
// system lib.
inline void lay_out_libraries(const std::string& root, const LibLayout& l = native_layout()) {
    const std::string& d = l.dir;
    auto lib = [&](const std::string& dir, const std::string& file, const std::string& data) {
        write(root + dir + "/" + file, data);
    };
    auto obj = [&](const std::string& soname) { return make_elf(64, l.machine, soname); };
    lib(d, "libcuda.so." + ver, obj("libcuda.so.1"));
    link(root + d + "/libcuda.so.1", "libcuda.so." + ver);
    link(root + d + "/libcuda.so", "libcuda.so.1");
    lib(d, "libnvidia-ml.so." + ver, obj("libnvidia-ml.so.1"));
    link(root + d + "/libnvidia-ml.so.1", d + "/libnvidia-ml.so." + ver); // absolute
    lib(d, "libnvidia-glcore.so." + ver, obj("libnvidia-glcore.so." + ver));
    lib(d, "libnvidia-newthing.so." + ver, obj("libnvidia-newthing.so.1"));
    link(root + d + "/libnvidia-newthing.so.1", "libnvidia-newthing.so." + ver);
    lib(d + "/vdpau", "libvdpau_nvidia.so." + ver, obj("libvdpau_nvidia.so.1"));
    lib(d, "libnvidia-old.so.570.10.01", obj("libnvidia-old.so.1"));
    link(root + d + "/libnvidia-old.so.1", "libnvidia-old.so.570.10.01");
    lib(d, "libfoo.so.1.2.3", obj("libfoo.so.1"));
    link(root + d + "/libfoo.so.1", "libfoo.so.1.2.3");
    if (!l.lib32) {
        write(root + "/etc/ld.so.conf", d + "\n");
        return;
    }
    // ldconfig flags a 32-bit object "libc6" when it needs libc.so.6, plain "ELF" otherwise.
    lib(x32, "libcuda.so." + ver, make_elf(32, elf::em_386, "libcuda.so.1", {"libc.so.6"}));
    link(root + x32 + "/libcuda.so.1", "libcuda.so." + ver);
    lib(x32, "libnvidia-ml.so." + ver, elf32("libnvidia-ml.so.1"));
    link(root + x32 + "/libnvidia-ml.so.1", "libnvidia-ml.so." + ver);
    write(root + "/etc/ld.so.conf", d + "\n" + x32 + "\n");
}

// A new-format ld.so.cache ("glibc-ld.so.cache1.1", little-endian as x86-64 and aarch64 are)
// holding these entries, for trees the host's ldconfig cannot index (another machine's objects).
struct CacheEntry {
    std::int32_t flags; // 0x0303 libc6,x86-64; 0x0a03 libc6,AArch64; 0x0003 libc6 (i386)
    std::string key, value;
};
inline std::string ldcache_bytes(const std::vector<CacheEntry>& entries) {
    const std::size_t header = 48, each = 24;
    std::string strings;
    std::vector<std::pair<std::uint32_t, std::uint32_t>> offs;
    const std::size_t base = header + entries.size() * each;
    for (const auto& e : entries) {
        auto k = static_cast<std::uint32_t>(base + strings.size());
        strings += e.key + '\0';
        auto v = static_cast<std::uint32_t>(base + strings.size());
        strings += e.value + '\0';
        offs.emplace_back(k, v);
    }
    std::string b(base, '\0');
    b.replace(0, 20, "glibc-ld.so.cache1.1");
    put<std::uint32_t>(b, 20, static_cast<std::uint32_t>(entries.size()));
    put<std::uint32_t>(b, 24, static_cast<std::uint32_t>(strings.size()));
    put<std::uint8_t>(b, 28, 2); // little-endian
    for (std::size_t i = 0; i < entries.size(); ++i) {
        put<std::int32_t>(b, header + i * each, entries[i].flags);
        put<std::uint32_t>(b, header + i * each + 4, offs[i].first);
        put<std::uint32_t>(b, header + i * each + 8, offs[i].second);
    }
    return b + strings;
}

} // namespace gpu_test
