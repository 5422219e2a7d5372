// gpu/: the ld.so.cache reader (against caches the host's ldconfig writes), the ELF SONAME reader,
// the proc-file parsers, in-root path resolution, and discover() on synthetic driver roots: a full
// one, one without ld.so.cache, an empty one, a WSL one, and one whose NVML is a small fake.
#include "elf/dynamic.hpp"
#include "gpu_host/ldcache.hpp"
#include "gpu_vendors/nvidia/host.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <map>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <vector>

namespace gpu_test {

using gantry::Error;
namespace gpu_host = gantry::gpu_host;
namespace ldcache = gantry::gpu_host::ldcache;
namespace elf = gantry::elf;
namespace stdfs = std::filesystem;
using gantry::gpu_vendors::nvidia::Capability;

namespace {

const std::string ver = "580.95.05";

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

void write(const stdfs::path& p, const std::string& data) {
    stdfs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << data;
}

void link(const stdfs::path& at, const std::string& target) {
    stdfs::create_directories(at.parent_path());
    stdfs::create_symlink(target, at);
}

std::string slurp(const std::string& p) {
    return gantry::fs::read_file(p);
}

// --- a hand-made ELF shared object: one PT_LOAD over the file, PT_DYNAMIC, optional ABI note.
template <typename T>
void put(std::string& b, std::size_t off, T v) {
    if (b.size() < off + sizeof v) b.resize(off + sizeof v);
    std::memcpy(b.data() + off, &v, sizeof v);
}

std::string make_elf(int bits, std::uint16_t machine, const std::string& soname,
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

std::string elf64(const std::string& soname) {
    return make_elf(64, elf::em_x86_64, soname);
}
std::string elf32(const std::string& soname) {
    return make_elf(32, elf::em_386, soname);
}

bool have_cc() {
    return std::system("cc --version >/dev/null 2>&1") == 0;
}

// Compiles C source into a shared object with the given SONAME.
bool build_so(const stdfs::path& out, const std::string& soname, const std::string& source) {
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
bool run_ldconfig(const std::string& root, const std::string& format = "new") {
    std::string cmd = "ldconfig -X -c " + format + " -r '" + root + "' 2>/dev/null";
    return std::system(cmd.c_str()) == 0 && stdfs::exists(root + "/etc/ld.so.cache");
}

// `ldconfig -p -C cache` lines: "\tkey (flags) => value".
std::vector<std::string> ldconfig_print(const std::string& cache) {
    std::vector<std::string> out;
    std::string cmd = "ldconfig -p -C '" + cache + "' 2>/dev/null";
    FILE* p = ::popen(cmd.c_str(), "r");
    if (!p) return out;
    char line[4096];
    while (std::fgets(line, sizeof line, p)) {
        std::string l = line;
        if (!l.empty() && l.back() == '\n') l.pop_back();
        if (!l.empty() && l[0] == '\t') out.push_back(l.substr(1));
    }
    ::pclose(p);
    return out;
}

const std::string x64 = "/usr/lib/x86_64-linux-gnu";
const std::string x32 = "/usr/lib/i386-linux-gnu";

// A driver tree: versioned libraries with SONAME links (one absolute), 32-bit copies, a graphics
// core library, an unknown library, a VDPAU driver, an older driver's leftover and a system lib.
void lay_out_libraries(const std::string& root) {
    auto lib = [&](const std::string& dir, const std::string& file, const std::string& data) {
        write(root + dir + "/" + file, data);
    };
    lib(x64, "libcuda.so." + ver, elf64("libcuda.so.1"));
    link(root + x64 + "/libcuda.so.1", "libcuda.so." + ver);
    link(root + x64 + "/libcuda.so", "libcuda.so.1");
    lib(x64, "libnvidia-ml.so." + ver, elf64("libnvidia-ml.so.1"));
    link(root + x64 + "/libnvidia-ml.so.1", x64 + "/libnvidia-ml.so." + ver); // absolute
    lib(x64, "libnvidia-glcore.so." + ver, elf64("libnvidia-glcore.so." + ver));
    lib(x64, "libnvidia-newthing.so." + ver, elf64("libnvidia-newthing.so.1"));
    link(root + x64 + "/libnvidia-newthing.so.1", "libnvidia-newthing.so." + ver);
    lib(x64 + "/vdpau", "libvdpau_nvidia.so." + ver, elf64("libvdpau_nvidia.so.1"));
    lib(x64, "libnvidia-old.so.570.10.01", elf64("libnvidia-old.so.1"));
    link(root + x64 + "/libnvidia-old.so.1", "libnvidia-old.so.570.10.01");
    lib(x64, "libfoo.so.1.2.3", elf64("libfoo.so.1"));
    link(root + x64 + "/libfoo.so.1", "libfoo.so.1.2.3");
    // ldconfig flags a 32-bit object "libc6" when it needs libc.so.6, plain "ELF" otherwise.
    lib(x32, "libcuda.so." + ver, make_elf(32, elf::em_386, "libcuda.so.1", {"libc.so.6"}));
    link(root + x32 + "/libcuda.so.1", "libcuda.so." + ver);
    lib(x32, "libnvidia-ml.so." + ver, elf32("libnvidia-ml.so.1"));
    link(root + x32 + "/libnvidia-ml.so.1", "libnvidia-ml.so." + ver);
    write(root + "/etc/ld.so.conf", x64 + "\n" + x32 + "\n");
}

void lay_out_proc(const std::string& root, const std::string& bus = "0000:3b:00.0") {
    write(root + "/proc/driver/nvidia/version",
          "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  " + ver +
              "  Release Build  (dvs-builder@U16)  Tue Aug  5 2025\nGCC version:  gcc 12\n");
    write(root + "/proc/driver/nvidia/params", "ModifyDeviceFiles: 1\nDeviceFileMode: 438\n");
    write(root + "/proc/driver/nvidia/gpus/" + bus + "/information",
          "Model: \t\t NVIDIA A100-SXM4-80GB\nIRQ: \t\t 408\n"
          "GPU UUID: \t GPU-edfee158-11c1-52b8-0517-92f30e7fac88\nBus Type: \t PCIe\n"
          "Bus Location: \t " +
              bus + "\nDevice Minor: \t 0\nGPU Excluded:\t No\n");
    write(root + "/proc/devices",
          "Character devices:\n  1 mem\n195 nvidia\n508 nvidia-uvm\n511 nvidia-caps\n\n"
          "Block devices:\n  8 sd\n");
    write(root + "/proc/driver/nvidia-caps/mig-minors",
          "config 1\nmonitor 2\ngpu0/gi1/access 12\ngpu0/gi1/ci0/access 13\n");
}

void make_socket(const std::string& path) {
    stdfs::create_directories(stdfs::path(path).parent_path());
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    ASSERT_LT(path.size(), sizeof a.sun_path);
    std::strcpy(a.sun_path, path.c_str());
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0) << path;
    ::close(fd);
}

void lay_out_rest(const std::string& root) {
    write(root + "/lib/firmware/nvidia/" + ver + "/gsp_ga10x.bin", "fw");
    write(root + "/lib/firmware/nvidia/" + ver + "/gsp_tu10x.bin", "fw");
    write(root + "/lib/firmware/nvidia/" + ver + "/README", "x");
    write(root + "/usr/bin/nvidia-smi", "#!/bin/sh\n");
    write(root + "/usr/bin/nvidia-cuda-mps-control", "#!/bin/sh\n");
    write(root + "/etc/vulkan/icd.d/nvidia_icd.json", "{}");
    make_socket(root + "/run/nvidia-persistenced/socket");
    link(root + "/var/run", "/run"); // absolute, inside the root
    stdfs::create_directories(root + "/tmp/nvidia-mps");
}

const gantry::gpu_vendors::nvidia::Library* find_lib(const gantry::gpu_vendors::nvidia::Host& h,
                                                     const std::string& name, bool lib32 = false) {
    for (const auto& l : h.libraries) {
        if (l.name == name && l.lib32 == lib32) return &l;
    }
    return nullptr;
}

bool has_note(const gantry::gpu_vendors::nvidia::Host& h, const std::string& part) {
    return std::any_of(h.notes.begin(), h.notes.end(),
                       [&](const std::string& n) { return n.find(part) != std::string::npos; });
}

std::string all_notes(const gantry::gpu_vendors::nvidia::Host& h) {
    std::string s;
    for (const auto& n : h.notes) s += n + "\n";
    return s;
}

} // namespace

// ---------------------------------------------------------------------------------------------
// ld.so.cache

class LdCacheFormats : public ::testing::TestWithParam<std::string> {};

TEST_P(LdCacheFormats, MatchesWhatLdconfigPrints) {
    GpuTempDir t;
    lay_out_libraries(t.str());
    if (!run_ldconfig(t.str(), GetParam())) GTEST_SKIP() << "ldconfig -r failed";
    std::string path = t.str() + "/etc/ld.so.cache";
    ldcache::Cache c = ldcache::load(path);
    ldcache::Format want = GetParam() == "new"      ? ldcache::Format::new_only
                           : GetParam() == "compat" ? ldcache::Format::compat
                                                    : ldcache::Format::old_only;
    EXPECT_EQ(c.format, want);

    std::vector<std::string> ours;
    for (const auto& e : c.entries)
        ours.push_back(e.key + " (" + ldcache::describe(e) + ") => " + e.value);
    std::vector<std::string> theirs = ldconfig_print(path);
    ASSERT_FALSE(theirs.empty());
    EXPECT_EQ(ours, theirs);

    auto find = [&](const std::string& key, bool i386) -> const ldcache::Entry* {
        for (const auto& e : c.entries) {
            if (e.key == key && (i386 ? e.is_i386() : e.is_x86_64())) return &e;
        }
        return nullptr;
    };
    const auto* cuda = find("libcuda.so.1", false);
    ASSERT_NE(cuda, nullptr);
    EXPECT_EQ(cuda->value, x64 + "/libcuda.so.1");
    const auto* cuda32 = find("libcuda.so.1", true);
    ASSERT_NE(cuda32, nullptr);
    EXPECT_EQ(cuda32->value, x32 + "/libcuda.so.1");
    EXPECT_EQ(cuda32->flags, ldcache::flag_elf_libc6);
    const auto* ml32 = find("libnvidia-ml.so.1", true);
    ASSERT_NE(ml32, nullptr);
    EXPECT_EQ(ml32->flags, ldcache::flag_elf);
    EXPECT_TRUE(ldcache::is_lib32(*ml32));
    EXPECT_TRUE(ldcache::is_native(*cuda));
    EXPECT_NE(find("libnvidia-glcore.so." + ver, false), nullptr);
}

INSTANTIATE_TEST_SUITE_P(Gpu, LdCacheFormats, ::testing::Values("new", "compat", "old"));

TEST(GpuLdCache, TruncatedAndHostileCachesFailCleanly) {
    GpuTempDir t;
    lay_out_libraries(t.str());
    for (std::string format : {"new", "compat", "old"}) {
        stdfs::remove(t / "etc/ld.so.cache");
        if (!run_ldconfig(t.str(), format)) GTEST_SKIP() << "ldconfig -r failed";
        const std::string good = slurp(t.str() + "/etc/ld.so.cache");
        const std::size_t n = ldcache::parse(good).entries.size();
        for (std::size_t len = 0; len < good.size(); ++len) {
            try {
                auto c = ldcache::parse(std::string_view(good).substr(0, len));
                EXPECT_LE(c.entries.size(), n);
            } catch (const Error&) {
            }
        }
        std::mt19937 rng(42);
        for (int i = 0; i < 3000; ++i) {
            std::string bad = good;
            for (int k = 0; k < 4; ++k) bad[rng() % bad.size()] = static_cast<char>(rng());
            try {
                ldcache::parse(bad);
            } catch (const Error&) {
            }
        }
    }
    // Counts and offsets that point far past the end.
    std::string hdr = "glibc-ld.so.cache1.1";
    hdr.resize(48, '\0');
    put<std::uint32_t>(hdr, 20, 0xffffffffu);
    EXPECT_THROW(ldcache::parse(hdr), Error);
    put<std::uint32_t>(hdr, 20, 1);
    hdr.resize(72, '\0');
    put<std::uint32_t>(hdr, 48 + 4, 0xfffffff0u);
    EXPECT_THROW(ldcache::parse(hdr), Error);
    put<std::uint32_t>(hdr, 48 + 4, 60); // inside, but no NUL before the end
    std::memset(hdr.data() + 60, 'x', 12);
    EXPECT_THROW(ldcache::parse(hdr), Error);
    hdr[28] = 3; // big-endian flag
    EXPECT_THROW(ldcache::parse(hdr), Error);
    std::string old = "ld.so-1.7.0";
    old.resize(16, '\0');
    put<std::uint32_t>(old, 12, 0x40000000u);
    EXPECT_THROW(ldcache::parse(old), Error);
    EXPECT_THROW(ldcache::parse("not a cache at all"), Error);
    EXPECT_THROW(ldcache::parse(""), Error);
    EXPECT_THROW(ldcache::load(t.str() + "/missing"), Error);
}

// ---------------------------------------------------------------------------------------------
// ELF

TEST(GpuElf, SonameNeededAndAbiTag) {
    auto i64 = elf::read(
        make_elf(64, elf::em_x86_64, "libnvidia-tls.so." + ver, {"libc.so.6", "libm.so.6"}, true));
    EXPECT_EQ(i64.bits, 64);
    EXPECT_EQ(i64.machine, elf::em_x86_64);
    EXPECT_EQ(i64.soname, "libnvidia-tls.so." + ver);
    EXPECT_EQ(i64.needed, (std::vector<std::string>{"libc.so.6", "libm.so.6"}));
    ASSERT_TRUE(i64.abi_tag.has_value());
    EXPECT_EQ(i64.abi_tag->to_string(), "Linux 2.3.99");

    auto i32 = elf::read(elf32("libcuda.so.1"));
    EXPECT_EQ(i32.bits, 32);
    EXPECT_EQ(i32.machine, elf::em_386);
    EXPECT_EQ(i32.soname, "libcuda.so.1");
    EXPECT_FALSE(i32.abi_tag.has_value());

    EXPECT_EQ(elf::read(make_elf(64, elf::em_x86_64, "")).soname, "");
}

TEST(GpuElf, RealSharedObjectFromTheCompiler) {
    if (!have_cc()) GTEST_SKIP() << "no C compiler";
    GpuTempDir t;
    stdfs::path so = t / "libdemo.so.1.2.3";
    ASSERT_TRUE(
        build_so(so, "libdemo.so.1",
                 "#include <string.h>\nint demo(const char* s) { return (int)strlen(s); }\n"));
    auto info = elf::read_file(so.string());
    EXPECT_EQ(info.soname, "libdemo.so.1");
    EXPECT_EQ(info.bits, static_cast<int>(sizeof(void*) * 8));
    EXPECT_FALSE(info.needed.empty()); // libc
}

TEST(GpuElf, TruncatedAndHostileObjectsFailCleanly) {
    const std::string good = make_elf(64, elf::em_x86_64, "libx.so.1", {"liby.so.2"}, true);
    for (std::size_t len = 0; len < good.size(); ++len) {
        try {
            elf::read(std::string_view(good).substr(0, len));
        } catch (const Error&) {
        }
    }
    std::mt19937 rng(7);
    for (const std::string& base : {good, make_elf(32, elf::em_386, "libz.so.1", {}, true)}) {
        for (int i = 0; i < 5000; ++i) {
            std::string bad = base;
            for (int k = 0; k < 3; ++k) bad[rng() % bad.size()] = static_cast<char>(rng());
            try {
                elf::read(bad);
            } catch (const Error&) {
            }
        }
    }
    std::string far = good;
    put<std::uint64_t>(far, 32, 0xfffffffffffffff0ull); // e_phoff
    EXPECT_THROW(elf::read(far), Error);
    EXPECT_THROW(elf::read("\x7f"
                           "ELF"),
                 Error);
    EXPECT_THROW(elf::read("MZ not an elf file at all"), Error);
    GpuTempDir t;
    EXPECT_THROW(elf::read_file(t.str()), Error); // a directory
    EXPECT_THROW(elf::read_file(t.str() + "/missing"), Error);
}

// ---------------------------------------------------------------------------------------------
// Parsers and tables

TEST(GpuParse, DriverVersionFromProc) {
    EXPECT_EQ(gantry::gpu_vendors::nvidia::parse_proc_version(
                  "NVRM version: NVIDIA UNIX x86_64 Kernel Module  515.76  Mon "
                  "Sep 12 19:21:56 UTC 2022\nGCC version:  gcc version 7.5.0\n"),
              "515.76");
    EXPECT_EQ(gantry::gpu_vendors::nvidia::parse_proc_version(
                  "NVRM version: NVIDIA UNIX x86_64 Kernel Module  580.82.07  "
                  "Tue Aug  5 17:24:00 UTC 2025\n"),
              "580.82.07");
    EXPECT_EQ(gantry::gpu_vendors::nvidia::parse_proc_version(
                  "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  "
                  "575.57.08  Release Build  (dvs-builder@U16)  Tue May 20"),
              "575.57.08");
    EXPECT_EQ(gantry::gpu_vendors::nvidia::parse_proc_version(
                  "NVRM version: NVIDIA UNIX Open Kernel Module for aarch64  "
                  "580.65.06  Release Build\n"),
              "580.65.06");
    EXPECT_EQ(gantry::gpu_vendors::nvidia::parse_proc_version(""), "");
    EXPECT_EQ(gantry::gpu_vendors::nvidia::parse_proc_version("NVRM version: garbage\n"), "");
    EXPECT_EQ(
        gantry::gpu_vendors::nvidia::parse_proc_version("NVRM version: Kernel Module  1.2  x"), "");

    EXPECT_TRUE(gantry::gpu_vendors::nvidia::is_driver_version("580.82.07"));
    EXPECT_TRUE(gantry::gpu_vendors::nvidia::is_driver_version("515.76"));
    EXPECT_FALSE(gantry::gpu_vendors::nvidia::is_driver_version("1"));
    EXPECT_FALSE(gantry::gpu_vendors::nvidia::is_driver_version("1.1"));
    EXPECT_FALSE(gantry::gpu_vendors::nvidia::is_driver_version("580"));
    EXPECT_FALSE(gantry::gpu_vendors::nvidia::is_driver_version("580.x"));
    EXPECT_FALSE(gantry::gpu_vendors::nvidia::is_driver_version("580.1.2.3"));
    EXPECT_FALSE(gantry::gpu_vendors::nvidia::is_driver_version("580..1"));
}

TEST(GpuParse, CudaVersionFromBranch) {
    const std::map<std::string, int> want = {
        {"580.95.05", 13000},  {"575.57.08", 12090}, {"570.133.20", 12080}, {"565.57.01", 12070},
        {"560.35.03", 12060},  {"555.42.02", 12050}, {"550.54.14", 12040},  {"545.23.06", 12030},
        {"535.183.01", 12020}, {"530.30.02", 12010}, {"525.60.13", 12000},  {"520.61.05", 11080},
        {"515.76", 11070},     {"510.47.03", 11060}, {"495.29.05", 11050},  {"470.57.02", 11040},
        {"465.19.01", 11030},  {"460.32.03", 11020}, {"455.23.05", 11010},  {"450.51.06", 11000},
        {"590.48.01", 13010},  {"595.10.01", 13020}, {"585.1.1", 13000},    {"536.25", 12020},
    };
    for (const auto& [v, cuda] : want)
        EXPECT_EQ(gantry::gpu_vendors::nvidia::cuda_version_for_driver(v), cuda) << v;
    EXPECT_EQ(gantry::gpu_vendors::nvidia::cuda_version_for_driver(""), 0);
    EXPECT_EQ(gantry::gpu_vendors::nvidia::cuda_version_for_driver("99.1"), 0);
    EXPECT_EQ(gantry::gpu_vendors::nvidia::cuda_version_string(12090), "12.9");
    EXPECT_EQ(gantry::gpu_vendors::nvidia::cuda_version_string(13000), "13.0");
    EXPECT_EQ(gantry::gpu_vendors::nvidia::cuda_version_string(0), "");
}

TEST(GpuParse, LibraryCapabilities) {
    using Caps = gantry::gpu_vendors::nvidia::Capabilities;
    EXPECT_EQ(gantry::gpu_vendors::nvidia::library_capabilities("libcuda.so." + ver),
              (Caps{Capability::compute, Capability::video}));
    EXPECT_EQ(gantry::gpu_vendors::nvidia::library_capabilities("libnvidia-ml.so.1"),
              Caps{Capability::utility});
    EXPECT_EQ(
        gantry::gpu_vendors::nvidia::library_capabilities("libnvidia-pkcs11-openssl3.so." + ver),
        (Caps{Capability::compute, Capability::video}));
    EXPECT_EQ(gantry::gpu_vendors::nvidia::library_capabilities("libnvcuvid.so." + ver),
              Caps{Capability::video});
    EXPECT_EQ(gantry::gpu_vendors::nvidia::library_capabilities("libGLX_nvidia.so." + ver),
              (Caps{Capability::graphics, Capability::display}));
    EXPECT_EQ(gantry::gpu_vendors::nvidia::library_capabilities("libnvidia-ngx.so." + ver),
              Caps{Capability::ngx});
    EXPECT_EQ(gantry::gpu_vendors::nvidia::library_capabilities("libnvidia-whatever.so." + ver),
              (Caps{Capability::graphics, Capability::display}));
    EXPECT_EQ(gantry::gpu_vendors::nvidia::library_capabilities("/usr/lib/wsl/lib/libdxcore.so"),
              Caps{});

    gantry::gpu_vendors::nvidia::Library lib;
    lib.caps = {Capability::compute, Capability::video};
    EXPECT_TRUE(lib.selected_by({Capability::video}));
    EXPECT_FALSE(lib.selected_by({Capability::utility}));
    lib.lib32 = true;
    EXPECT_FALSE(lib.selected_by({Capability::compute}));
    EXPECT_TRUE(lib.selected_by({Capability::compute, Capability::compat32}));
    gantry::gpu_vendors::nvidia::Library always;
    EXPECT_TRUE(always.selected_by({Capability::utility}));
    EXPECT_FALSE(always.selected_by({}));

    EXPECT_EQ(gantry::gpu_vendors::nvidia::capability_from_string("compat32"),
              Capability::compat32);
    EXPECT_FALSE(gantry::gpu_vendors::nvidia::capability_from_string("all").has_value());
    EXPECT_EQ(gantry::gpu_vendors::nvidia::to_string(gantry::gpu_vendors::nvidia::Capabilities{
                  Capability::utility, Capability::compute}),
              "compute,utility");
    EXPECT_EQ(gantry::gpu_vendors::nvidia::all_capabilities().size(), 7u);
}

TEST(GpuParse, ProcFiles) {
    auto majors = gantry::gpu_vendors::nvidia::parse_proc_devices(
        "Character devices:\n  1 mem\n195 nvidia-frontend\n"
        "234 nvidia-nvlink\n235 nvidia-caps\n\nBlock devices:\n"
        "259 blkext\n");
    EXPECT_EQ(majors["nvidia-frontend"], 195);
    EXPECT_EQ(majors["nvidia-caps"], 235);
    EXPECT_EQ(majors.count("blkext"), 0u);

    auto minors =
        gantry::gpu_vendors::nvidia::parse_mig_minors("config 1\nmonitor 2\ngpu0/gi0/access 3\n"
                                                      "gpu0/gi0/ci0/access 4\nbroken\nx y\n");
    EXPECT_EQ(minors.size(), 4u);
    EXPECT_EQ(minors["gpu0/gi0/ci0/access"], 4);

    auto info = gantry::gpu_vendors::nvidia::parse_information(
        "Model: \t\t Tesla V100-SXM2-16GB\n"
        "GPU UUID: \t GPU-edfee158-11c1-52b8-0517-92f30e7fac88\n"
        "Bus Location: \t 0000:06:00.0\nDevice Minor: \t 0\n");
    EXPECT_EQ(info["Model"], "Tesla V100-SXM2-16GB");
    EXPECT_EQ(info["Bus Location"], "0000:06:00.0");

    EXPECT_EQ(gantry::gpu_vendors::nvidia::normalize_pci_bus_id("0000:3b:00.0"),
              "00000000:3B:00.0");
    EXPECT_EQ(gantry::gpu_vendors::nvidia::normalize_pci_bus_id("00000000:3B:00.0"),
              "00000000:3B:00.0");
    EXPECT_EQ(gantry::gpu_vendors::nvidia::normalize_pci_bus_id("garbage"), "");
    EXPECT_EQ(gantry::gpu_vendors::nvidia::normalize_pci_bus_id("0000:3b:00.0x"), "");
    EXPECT_EQ(
        gantry::gpu_vendors::nvidia::mig_profile_from_name("NVIDIA A100-SXM4-80GB MIG 1g.10gb"),
        "1g.10gb");
    EXPECT_EQ(
        gantry::gpu_vendors::nvidia::mig_profile_from_name("NVIDIA A100-SXM4-40GB MIG 1c.2g.10gb"),
        "1c.2g.10gb");
    EXPECT_EQ(gantry::gpu_vendors::nvidia::mig_profile_from_name("NVIDIA A100-SXM4-80GB"), "");
}

TEST(GpuParse, ParamsForContainerTurnOffDeviceFileModification) {
    EXPECT_EQ(gantry::gpu_vendors::nvidia::params_for_container(
                  "ModifyDeviceFiles: 1\nDeviceFileMode: 438\n"),
              "ModifyDeviceFiles: 0\nDeviceFileMode: 438\n");
    EXPECT_EQ(gantry::gpu_vendors::nvidia::params_for_container(
                  "ResmanDebugLevel: 4294967295\nModifyDeviceFiles: 1\n"),
              "ResmanDebugLevel: 4294967295\nModifyDeviceFiles: 0\n");
    // only the parameter itself, at the start of a line; nothing to change: nullopt
    EXPECT_EQ(gantry::gpu_vendors::nvidia::params_for_container("XModifyDeviceFiles: 1\n"),
              std::nullopt);
    EXPECT_EQ(gantry::gpu_vendors::nvidia::params_for_container("ModifyDeviceFiles: 0\n"),
              std::nullopt);
    EXPECT_EQ(gantry::gpu_vendors::nvidia::params_for_container(""), std::nullopt);
}

// ---------------------------------------------------------------------------------------------
// In-root resolution

TEST(GpuResolve, SymlinksStayInsideTheRoot) {
    GpuTempDir t;
    const std::string root = t.str() + "/root";
    write(root + "/usr/lib/real.so.1", "x");
    link(root + "/usr/lib/abs.so", "/usr/lib/real.so.1");
    link(root + "/lib", "usr/lib");
    link(root + "/usr/lib/up.so", "../../../../../../usr/lib/real.so.1");
    write(t.str() + "/outside/secret.so", "secret");
    link(root + "/usr/lib/escape.so", t.str() + "/outside/secret.so");
    link(root + "/usr/lib/escape2.so", "../../../outside/secret.so");
    link(root + "/loop1", "loop2");
    link(root + "/loop2", "loop1");

    EXPECT_EQ(gantry::gpu_vendors::resolve_in_root(root, "/usr/lib/abs.so"), "/usr/lib/real.so.1");
    EXPECT_EQ(gantry::gpu_vendors::resolve_in_root(root, "/lib/abs.so"), "/usr/lib/real.so.1");
    EXPECT_EQ(gantry::gpu_vendors::resolve_in_root(root, "/usr/lib/up.so"), "/usr/lib/real.so.1");
    EXPECT_EQ(gantry::gpu_vendors::resolve_in_root(root, "/../../usr/./lib//real.so.1"),
              "/usr/lib/real.so.1");
    EXPECT_EQ(gantry::gpu_vendors::resolve_in_root(root, "/usr/lib/escape.so"), std::nullopt);
    EXPECT_EQ(gantry::gpu_vendors::resolve_in_root(root, "/usr/lib/escape2.so"), std::nullopt);
    EXPECT_EQ(gantry::gpu_vendors::resolve_in_root(root, "/loop1"), std::nullopt);
    EXPECT_EQ(gantry::gpu_vendors::resolve_in_root(root, "/usr/lib/real.so.1/x"), std::nullopt);
    EXPECT_EQ(gantry::gpu_vendors::resolve_in_root(root, "/"), "/");
    EXPECT_EQ(gpu_host::join_root("/", "/dev/x"), "/dev/x");
    EXPECT_EQ(gpu_host::join_root("/a/", "/dev/x"), "/a/dev/x");
}

// ---------------------------------------------------------------------------------------------
// discover()

TEST(GpuDiscover, FullDriverRootWithoutNvml) {
    GpuTempDir t;
    const std::string root = t.str() + "/driver", dev = t.str() + "/devroot";
    lay_out_libraries(root);
    lay_out_proc(root);
    lay_out_rest(root);
    write(dev + "/dev/nvidiactl", "");
    write(dev + "/dev/nvidia0", "");
    const bool cache = run_ldconfig(root);

    for (bool with_cache : {true, false}) {
        SCOPED_TRACE(with_cache ? "ld.so.cache" : "directory scan");
        if (with_cache && !cache) continue;
        if (!with_cache) stdfs::remove(root + "/etc/ld.so.cache");
        gantry::gpu_vendors::nvidia::Host h =
            gantry::gpu_vendors::nvidia::discover({root, dev, true});
        EXPECT_EQ(h.driver_version, ver) << all_notes(h);
        EXPECT_EQ(h.cuda_version, 13000);
        EXPECT_EQ(h.proc_root, root + "/proc");
        EXPECT_EQ(h.driver_root, root);
        EXPECT_FALSE(h.wsl);

        std::set<std::string> names;
        for (const auto& l : h.libraries) names.insert(l.name + (l.lib32 ? " (32)" : ""));
        EXPECT_EQ(names,
                  (std::set<std::string>{
                      "libcuda.so." + ver, "libcuda.so." + ver + " (32)", "libnvidia-ml.so." + ver,
                      "libnvidia-ml.so." + ver + " (32)", "libnvidia-glcore.so." + ver,
                      "libnvidia-newthing.so." + ver, "libvdpau_nvidia.so." + ver}))
            << all_notes(h);
        const auto* cuda = find_lib(h, "libcuda.so." + ver);
        ASSERT_NE(cuda, nullptr);
        EXPECT_EQ(cuda->soname, "libcuda.so.1");
        EXPECT_EQ(cuda->host_path, root + x64 + "/libcuda.so." + ver);
        EXPECT_EQ(cuda->caps, (gantry::gpu_vendors::nvidia::Capabilities{Capability::compute,
                                                                         Capability::video}));
        const auto* cuda32 = find_lib(h, "libcuda.so." + ver, true);
        ASSERT_NE(cuda32, nullptr);
        EXPECT_EQ(cuda32->host_path, root + x32 + "/libcuda.so." + ver);
        const auto* ml = find_lib(h, "libnvidia-ml.so." + ver);
        ASSERT_NE(ml, nullptr);
        EXPECT_EQ(ml->host_path, root + x64 + "/libnvidia-ml.so." + ver); // absolute link, in root
        EXPECT_EQ(ml->caps, gantry::gpu_vendors::nvidia::Capabilities{Capability::utility});
        EXPECT_EQ(h.nvml_path, root + x64 + "/libnvidia-ml.so." + ver);
        EXPECT_EQ(find_lib(h, "libnvidia-glcore.so." + ver)->soname, "libnvidia-glcore.so." + ver);
        EXPECT_EQ(
            find_lib(h, "libnvidia-newthing.so." + ver)->caps,
            (gantry::gpu_vendors::nvidia::Capabilities{Capability::graphics, Capability::display}));
        EXPECT_EQ(find_lib(h, "libvdpau_nvidia.so." + ver)->caps,
                  gantry::gpu_vendors::nvidia::Capabilities{Capability::video});

        ASSERT_EQ(h.firmware.size(), 2u);
        EXPECT_EQ(h.firmware[0].host_path, root + "/lib/firmware/nvidia/" + ver + "/gsp_ga10x.bin");
        EXPECT_EQ(h.firmware[0].container_path, "/lib/firmware/nvidia/" + ver + "/gsp_ga10x.bin");
        EXPECT_TRUE(h.firmware[0].caps.empty());

        ASSERT_EQ(h.binaries.size(), 2u);
        EXPECT_EQ(h.binaries[0].container_path, "/usr/bin/nvidia-smi");
        EXPECT_EQ(h.binaries[0].caps,
                  gantry::gpu_vendors::nvidia::Capabilities{Capability::utility});
        EXPECT_EQ(h.binaries[1].container_path, "/usr/bin/nvidia-cuda-mps-control");
        EXPECT_EQ(h.binaries[1].caps,
                  gantry::gpu_vendors::nvidia::Capabilities{Capability::compute});

        ASSERT_EQ(h.ipc.size(), 2u); // run/ and var/run/ are one socket
        EXPECT_EQ(h.ipc[0].host_path, root + "/run/nvidia-persistenced/socket");
        EXPECT_EQ(h.ipc[0].container_path, "/run/nvidia-persistenced/socket");
        EXPECT_EQ(h.ipc[0].cap, Capability::utility);
        EXPECT_EQ(h.ipc[1].container_path, "/tmp/nvidia-mps");
        EXPECT_EQ(h.ipc[1].cap, Capability::compute);
        ASSERT_EQ(h.configs.size(), 1u);
        EXPECT_EQ(h.configs[0].container_path, "/etc/vulkan/icd.d/nvidia_icd.json");

        EXPECT_TRUE(h.ctl.present);
        EXPECT_EQ(h.ctl.path, "/dev/nvidiactl");
        EXPECT_EQ(h.ctl.host_path, dev + "/dev/nvidiactl");
        EXPECT_EQ(h.ctl.major, 195);
        EXPECT_EQ(h.ctl.minor, 255);
        EXPECT_FALSE(h.uvm.present);
        EXPECT_EQ(h.uvm.major, 508);
        EXPECT_EQ(h.uvm_tools.minor, 1);
        EXPECT_FALSE(h.modeset.present);
        EXPECT_EQ(h.modeset.minor, 254);
        EXPECT_TRUE(has_note(h, "/dev/nvidia-uvm")) << all_notes(h);

        EXPECT_FALSE(h.nvml_loaded);
        EXPECT_TRUE(has_note(h, "NVML unavailable")) << all_notes(h);
        ASSERT_EQ(h.devices.size(), 1u);
        const gantry::gpu_vendors::nvidia::Device& d = h.devices[0];
        EXPECT_EQ(d.name, "NVIDIA A100-SXM4-80GB");
        EXPECT_EQ(d.uuid, "GPU-edfee158-11c1-52b8-0517-92f30e7fac88");
        EXPECT_EQ(d.pci_bus_id, "00000000:3B:00.0");
        EXPECT_EQ(d.minor, 0);
        EXPECT_EQ(d.cc_major, 0);
        EXPECT_EQ(d.proc_dir, root + "/proc/driver/nvidia/gpus/0000:3b:00.0");
        EXPECT_TRUE(d.node.present);
        EXPECT_EQ(d.node.path, "/dev/nvidia0");
        EXPECT_EQ(d.node.major, 195);
        ASSERT_EQ(h.mig_config_caps.size(), 2u);
        EXPECT_EQ(h.mig_config_caps[0].path, "/dev/nvidia-caps/nvidia-cap1");
        EXPECT_EQ(h.mig_config_caps[0].major, 511);
        EXPECT_FALSE(h.mig_config_caps[0].present);
        EXPECT_FALSE(gantry::gpu_vendors::nvidia::to_string(h).empty());
    }
}

TEST(GpuDiscover, VersionFromLibraryNamesWithoutProc) {
    GpuTempDir t;
    const std::string root = t.str();
    lay_out_libraries(root);
    gantry::gpu_vendors::nvidia::Host h =
        gantry::gpu_vendors::nvidia::discover({root, root, false});
    EXPECT_EQ(h.driver_version, ver) << all_notes(h);
    EXPECT_TRUE(has_note(h, "taken from")) << all_notes(h);
    EXPECT_EQ(h.cuda_version, 13000);
    EXPECT_EQ(h.proc_root, "/proc");
    EXPECT_NE(find_lib(h, "libcuda.so." + ver), nullptr);
}

TEST(GpuDiscover, EmptyAndBrokenRootsSayWhy) {
    GpuTempDir t;
    for (const std::string& root :
         {t.str(), t.str() + "/does/not/exist", std::string("relative/nowhere")}) {
        gantry::gpu_vendors::nvidia::Host h =
            gantry::gpu_vendors::nvidia::discover({root, root, true});
        EXPECT_FALSE(h.has_driver());
        EXPECT_TRUE(h.libraries.empty());
        EXPECT_TRUE(h.devices.empty());
        EXPECT_FALSE(h.notes.empty());
        EXPECT_FALSE(h.ctl.present);
    }
    // A garbage ld.so.cache and a version file without a version.
    write(t.str() + "/etc/ld.so.cache", "glibc-ld.so.cache1.1 garbage");
    write(t.str() + "/proc/driver/nvidia/version", "nothing here\n");
    gantry::gpu_vendors::nvidia::Host h =
        gantry::gpu_vendors::nvidia::discover({t.str(), t.str(), true});
    EXPECT_FALSE(h.has_driver());
    EXPECT_TRUE(has_note(h, "ld.so.cache")) << all_notes(h);
    EXPECT_TRUE(has_note(h, "no driver version")) << all_notes(h);
}

TEST(GpuDiscover, SymlinkOutOfTheDriverRootIsNotFollowed) {
    GpuTempDir t;
    const std::string root = t.str() + "/driver";
    lay_out_proc(root);
    write(root + x64 + "/libcuda.so." + ver, elf64("libcuda.so.1"));
    write(t.str() + "/outside/libnvidia-escape.so." + ver, elf64("libnvidia-escape.so.1"));
    link(root + x64 + "/libnvidia-escape.so." + ver,
         t.str() + "/outside/libnvidia-escape.so." + ver);
    link(root + x64 + "/libnvidia-escape2.so." + ver,
         "../../../../outside/libnvidia-escape.so." + ver);
    gantry::gpu_vendors::nvidia::Host h =
        gantry::gpu_vendors::nvidia::discover({root, root, false});
    ASSERT_EQ(h.libraries.size(), 1u) << all_notes(h);
    EXPECT_EQ(h.libraries[0].name, "libcuda.so." + ver);
}

TEST(GpuDiscover, WslLayout) {
    // The lib share's copies (libcuda.so.1, libnvidia-ml.so.1, nvidia-smi) are not what is
    // mounted: libdxcore.so from it, the rest from the store that holds libcuda.so.1.1 (as
    // nvidia-ctk's wsl mode); an Intel iGPU's store is passed over.
    GpuTempDir t;
    const std::string root = t.str();
    const std::string wsl = root + "/usr/lib/wsl/lib";
    const std::string store = root + "/usr/lib/wsl/drivers/nv_dispi.inf_amd64_1234";
    write(wsl + "/libcuda.so.1", elf64("libcuda.so.1"));
    write(wsl + "/libnvidia-ml.so.1", elf64("libnvidia-ml.so.1"));
    write(wsl + "/libdxcore.so", elf64(""));
    write(wsl + "/nvidia-smi", "#!/bin/sh\n");
    write(store + "/libcuda.so.1.1", elf64("libcuda.so.1"));
    write(store + "/libnvidia-ml.so.1", elf64("libnvidia-ml.so.1"));
    write(store + "/nvcubins.bin", "x");
    write(store + "/nvidia-smi", "#!/bin/sh\n");
    write(store + "/nv_dispi.inf", "");
    write(root + "/usr/lib/wsl/drivers/iigd_dch.inf_amd64_9/x.dll", "");
    write(root + "/usr/lib/x86_64-linux-gnu/libcuda.so.580.95.05", elf64("libcuda.so.1"));
    write(root + "/dev/dxg", "");
    gantry::gpu_vendors::nvidia::Host h =
        gantry::gpu_vendors::nvidia::discover({root, root, false});
    EXPECT_TRUE(h.wsl);
    EXPECT_TRUE(has_note(h, "WSL")) << all_notes(h);
    EXPECT_FALSE(has_note(h, "kernel module")) << all_notes(h);
    EXPECT_EQ(h.libraries.size(), 3u) << all_notes(h);
    const auto* dx = find_lib(h, "libdxcore.so");
    ASSERT_NE(dx, nullptr);
    EXPECT_TRUE(dx->caps.empty());
    ASSERT_NE(find_lib(h, "libcuda.so.1.1"), nullptr);
    EXPECT_EQ(find_lib(h, "libcuda.so.1.1")->host_path, store + "/libcuda.so.1.1");
    ASSERT_EQ(h.binaries.size(), 1u);
    EXPECT_EQ(h.binaries[0].host_path, store + "/nvidia-smi");
    ASSERT_EQ(h.configs.size(), 1u); // nvcubins.bin; not the .inf
    EXPECT_EQ(h.configs[0].container_path,
              "/usr/lib/wsl/drivers/nv_dispi.inf_amd64_1234/nvcubins.bin");
    EXPECT_EQ(h.nvml_path, store + "/libnvidia-ml.so.1");
    EXPECT_EQ(h.wsl_driver_store, std::vector<std::string>{store});
    EXPECT_EQ(h.wsl_shadowing,
              std::vector<std::string>{"/usr/lib/x86_64-linux-gnu/libcuda.so.580.95.05"});
    EXPECT_TRUE(h.dxg.present);
    EXPECT_EQ(h.dxg.path, "/dev/dxg");
}

// A tiny NVML: one A100 in MIG mode with one 1g.10gb instance (GI 1, CI 0).
const char* const fake_nvml_source = R"(
#include <string.h>
typedef struct dev { int mig; } dev;
static dev gpu = {0}, mig = {1};
typedef struct { char legacy[16]; unsigned domain, bus, device, id, sub; char busId[32]; } pci_t;
typedef struct { unsigned long long total, free, used; } mem_t;
int nvmlInit_v2(void) { return 0; }
int nvmlShutdown(void) { return 0; }
int nvmlSystemGetDriverVersion(char* b, unsigned n) { strncpy(b, "580.95.05", n); return 0; }
int nvmlSystemGetCudaDriverVersion_v2(int* v) { *v = 13000; return 0; }
int nvmlDeviceGetCount_v2(unsigned* n) { *n = 1; return 0; }
int nvmlDeviceGetHandleByIndex_v2(unsigned i, dev** d) { if (i) return 2; *d = &gpu; return 0; }
int nvmlDeviceGetName(dev* d, char* b, unsigned n) {
    strncpy(b, d->mig ? "NVIDIA A100-SXM4-80GB MIG 1g.10gb" : "NVIDIA A100-SXM4-80GB", n); return 0; }
int nvmlDeviceGetUUID(dev* d, char* b, unsigned n) {
    strncpy(b, d->mig ? "MIG-11111111-2222-3333-4444-555555555555"
                      : "GPU-edfee158-11c1-52b8-0517-92f30e7fac88", n); return 0; }
int nvmlDeviceGetMinorNumber(dev* d, unsigned* m) { (void)d; *m = 0; return 0; }
int nvmlDeviceGetPciInfo_v3(dev* d, pci_t* p) {
    (void)d; memset(p, 0, sizeof *p); p->bus = 0x3b; strcpy(p->busId, "00000000:3B:00.0"); return 0; }
int nvmlDeviceGetCudaComputeCapability(dev* d, int* a, int* b) { (void)d; *a = 8; *b = 0; return 0; }
int nvmlDeviceGetMemoryInfo(dev* d, mem_t* m) {
    m->total = d->mig ? 10ull << 30 : 80ull << 30; m->free = m->used = 0; return 0; }
int nvmlDeviceGetBrand(dev* d, int* b) { (void)d; *b = 2; return 0; }
int nvmlDeviceGetMigMode(dev* d, unsigned* c, unsigned* p) { (void)d; *c = *p = 1; return 0; }
int nvmlDeviceGetMaxMigDeviceCount(dev* d, unsigned* n) { (void)d; *n = 7; return 0; }
int nvmlDeviceGetMigDeviceHandleByIndex(dev* d, unsigned i, dev** m) {
    (void)d; if (i) return 6; *m = &mig; return 0; }
int nvmlDeviceGetGpuInstanceId(dev* d, unsigned* id) { (void)d; *id = 1; return 0; }
int nvmlDeviceGetComputeInstanceId(dev* d, unsigned* id) { (void)d; *id = 0; return 0; }
)";

TEST(GpuDiscover, GpusAndMigFromNvml) {
    if (!have_cc()) GTEST_SKIP() << "no C compiler";
    GpuTempDir t;
    const std::string root = t.str() + "/driver", dev = t.str() + "/dev";
    lay_out_proc(root);
    ASSERT_TRUE(
        build_so(root + x64 + "/libnvidia-ml.so." + ver, "libnvidia-ml.so.1", fake_nvml_source));
    link(root + x64 + "/libnvidia-ml.so.1", "libnvidia-ml.so." + ver);
    write(dev + "/dev/nvidia-caps/nvidia-cap12", "");

    gantry::gpu_vendors::nvidia::Host off =
        gantry::gpu_vendors::nvidia::discover({root, dev, false});
    EXPECT_FALSE(off.nvml_loaded);
    EXPECT_EQ(off.nvml_path, root + x64 + "/libnvidia-ml.so." + ver);

    gantry::gpu_vendors::nvidia::Host h = gantry::gpu_vendors::nvidia::discover({root, dev, true});
    ASSERT_TRUE(h.nvml_loaded) << all_notes(h);
    EXPECT_EQ(h.cuda_version, 13000);
    ASSERT_EQ(h.devices.size(), 1u);
    const gantry::gpu_vendors::nvidia::Device& d = h.devices[0];
    EXPECT_EQ(d.name, "NVIDIA A100-SXM4-80GB");
    EXPECT_EQ(d.brand, "Tesla");
    EXPECT_EQ(d.pci_bus_id, "00000000:3B:00.0");
    EXPECT_EQ(d.cc_major, 8);
    EXPECT_EQ(d.memory, 80ull << 30);
    EXPECT_EQ(d.proc_dir, root + "/proc/driver/nvidia/gpus/0000:3b:00.0");
    EXPECT_FALSE(d.node.present);
    ASSERT_TRUE(d.mig_enabled);
    ASSERT_EQ(d.migs.size(), 1u);
    const gantry::gpu_vendors::nvidia::MigDevice& m = d.migs[0];
    EXPECT_EQ(m.gi, 1);
    EXPECT_EQ(m.ci, 0);
    EXPECT_EQ(m.profile, "1g.10gb");
    EXPECT_EQ(m.uuid, "MIG-11111111-2222-3333-4444-555555555555");
    EXPECT_EQ(m.memory, 10ull << 30);
    EXPECT_EQ(m.gi_cap.path, "/dev/nvidia-caps/nvidia-cap12");
    EXPECT_EQ(m.gi_cap.host_path, dev + "/dev/nvidia-caps/nvidia-cap12");
    EXPECT_TRUE(m.gi_cap.present);
    EXPECT_EQ(m.gi_cap.major, 511);
    EXPECT_EQ(m.ci_cap.minor, 13);
    EXPECT_FALSE(m.ci_cap.present);
}

// The shared simulated host (tests/fixtures/gpuhost): 8 MIG GPUs, its real fake NVML, real nodes
// when root. FAKE_DEVICE_ROOT is the test's business (the fake NVML looks there), not gantry's.
TEST(GpuDiscover, SimulatedHostFixture) {
    const stdfs::path script = stdfs::path(GANTRY_TESTS_DIR) / "fixtures/gpuhost/gpuhost.py";
    if (!stdfs::exists(script) || std::system("python3 --version >/dev/null 2>&1") != 0 ||
        !have_cc())
        GTEST_SKIP() << "no gpuhost.py, python3 or C compiler";
    GpuTempDir t;
    const std::string out = t.str() + "/host";
    std::string cmd = "python3 '" + script.string() + "' build --gpus 8 --mig --lib32 '" + out +
                      "' >/dev/null 2>&1";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    const std::string root = out + "/driver", dev = out + "/dev";
    ::setenv("FAKE_DEVICE_ROOT", dev.c_str(), 1);
    gantry::gpu_vendors::nvidia::Host h = gantry::gpu_vendors::nvidia::discover({root, dev, true});
    ::unsetenv("FAKE_DEVICE_ROOT");
    EXPECT_EQ(h.driver_version, ver);
    EXPECT_EQ(h.cuda_version, 13000);
    ASSERT_TRUE(h.nvml_loaded) << all_notes(h);
    ASSERT_EQ(h.devices.size(), 8u) << all_notes(h);
    for (const auto& d : h.devices) {
        EXPECT_TRUE(d.node.present) << d.node.host_path;
        EXPECT_EQ(d.node.path, "/dev/nvidia" + std::to_string(d.minor));
        EXPECT_EQ(d.cc_major, 8);
        EXPECT_FALSE(d.proc_dir.empty());
        EXPECT_TRUE(d.mig_enabled);
        ASSERT_FALSE(d.migs.empty());
        for (const auto& m : d.migs) {
            EXPECT_FALSE(m.profile.empty());
            EXPECT_TRUE(m.gi_cap.present) << m.gi_cap.host_path;
            EXPECT_TRUE(m.ci_cap.present) << m.ci_cap.host_path;
        }
    }
    EXPECT_TRUE(h.ctl.present);
    EXPECT_TRUE(h.uvm.present);
    EXPECT_NE(find_lib(h, "libcuda.so." + ver), nullptr);
    EXPECT_NE(find_lib(h, "libcuda.so." + ver, true), nullptr);
    EXPECT_NE(find_lib(h, "libvdpau_nvidia.so." + ver), nullptr);
    EXPECT_EQ(find_lib(h, "libnvidia-ml.so." + ver)->soname, "libnvidia-ml.so.1");
    EXPECT_EQ(h.firmware.size(), 2u);
    EXPECT_FALSE(h.binaries.empty());
}

} // namespace gpu_test
