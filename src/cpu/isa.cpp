#include "cpu/isa.hpp"

#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/text.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <optional>
#include <string_view>
#include <unistd.h>
#include <utility>

namespace gantry::cpu {
namespace {

// The psABI's levels in cpuinfo names (SSE3 is "pni", LZCNT "abm", LAHF/SAHF "lahf_lm").
constexpr std::array<std::array<std::string_view, 9>, 4> kLevels = {{
    {"cmov", "cx8", "fpu", "fxsr", "mmx", "sse", "sse2"},
    {"cx16", "lahf_lm", "popcnt", "pni", "sse4_1", "sse4_2", "ssse3"},
    {"avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "abm", "movbe", "xsave"},
    {"avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"},
}};

// Instruction-set extensions beyond the levels that -march=native turns on when the host has
// them (cpuinfo names): a `--cpu-arch host` image needs the ones its host had.
constexpr std::array<std::string_view, 34> kExtensions = {
    "aes",           "pclmulqdq",     "sha_ni",
    "vaes",          "vpclmulqdq",    "gfni",
    "adx",           "rdrand",        "rdseed",
    "avx512ifma",    "avx512vbmi",    "avx512_vbmi2",
    "avx512_vnni",   "avx512_bitalg", "avx512_vpopcntdq",
    "avx512_bf16",   "avx512_fp16",   "avx_vnni",
    "avx_vnni_int8", "avx_ifma",      "avx_ne_convert",
    "amx_bf16",      "amx_tile",      "amx_int8",
    "amx_fp16",      "clflushopt",    "clwb",
    "movdiri",       "movdir64b",     "serialize",
    "xsavec",        "xsaveopt",      "fsgsbase",
    "sse4a",
};

// -march names and their x86-64 level: what gantry can check of an image built for them.
constexpr std::array<std::pair<std::string_view, int>, 23> kNamed = {{
    {"nehalem", 2},        {"westmere", 2},       {"sandybridge", 2}, {"ivybridge", 2},
    {"haswell", 3},        {"broadwell", 3},      {"skylake", 3},     {"alderlake", 3},
    {"raptorlake", 3},     {"skylake-avx512", 4}, {"cascadelake", 4}, {"cooperlake", 4},
    {"icelake-client", 4}, {"icelake-server", 4}, {"tigerlake", 4},   {"sapphirerapids", 4},
    {"graniterapids", 4},  {"znver1", 3},         {"znver2", 3},      {"znver3", 3},
    {"znver4", 4},         {"znver5", 4},         {"x86-64", 1},
}};

// aarch64's architecture versions, each with every cpuinfo feature whose instructions GCC's
// -march=VERSION lets the compiler emit (its __ARM_FEATURE_* macros, GCC 12: LSE "atomics",
// CRC32, RDMA "asimdrdm"; 8.3's complex numbers "fcma" and JavaScript conversion "jscvt"; 8.4's
// dot product "asimddp"; 8.5's FRINTTS "frint"; 8.6's BF16 and int8 matrix multiply; 9.0's SVE2,
// which brings SVE and half precision). Pointer authentication, BTI, RCPC and MTE are left out:
// the first two are hint instructions older CPUs execute as no-ops, the others are emitted only
// through intrinsics or options a --cpu-arch build does not set. In order: arm_level_of takes the
// last whose features a host has all of (armv9-a after armv8.6-a: an armv9.0 core need not have
// BF16).
struct ArmTarget {
    std::string_view name;
    std::array<std::string_view, 16> features;
};
constexpr std::array<ArmTarget, 8> kArmVersions = {{
    {"armv8-a", {"fp", "asimd"}},
    {"armv8.1-a", {"fp", "asimd", "atomics", "crc32", "asimdrdm"}},
    {"armv8.2-a", {"fp", "asimd", "atomics", "crc32", "asimdrdm"}},
    {"armv8.3-a", {"fp", "asimd", "atomics", "crc32", "asimdrdm", "fcma", "jscvt"}},
    {"armv8.4-a", {"fp", "asimd", "atomics", "crc32", "asimdrdm", "fcma", "jscvt", "asimddp"}},
    {"armv8.5-a",
     {"fp", "asimd", "atomics", "crc32", "asimdrdm", "fcma", "jscvt", "asimddp", "frint"}},
    {"armv8.6-a",
     {"fp", "asimd", "atomics", "crc32", "asimdrdm", "fcma", "jscvt", "asimddp", "frint", "bf16",
      "i8mm"}},
    {"armv9-a",
     {"fp", "asimd", "atomics", "crc32", "asimdrdm", "fcma", "jscvt", "asimddp", "frint", "sve",
      "sve2", "fphp", "asimdhp", "asimdfhm"}},
}};

// aarch64 cores (-mcpu=NAME) and what GCC's -mcpu turns on for them: Neoverse V2 is NVIDIA
// Grace's core (Armv9.0-A with BF16, I8MM and SVE2's bit permutes), Cortex-A78AE Jetson AGX
// Orin's (Armv8.2-A with the dot product and half precision, as Neoverse N1).
constexpr std::array<ArmTarget, 4> kArmCores = {{
    {"neoverse-v2",
     {"fp", "asimd", "atomics", "crc32", "asimdrdm", "fcma", "jscvt", "asimddp", "frint", "sve",
      "sve2", "fphp", "asimdhp", "asimdfhm", "bf16", "i8mm"}},
    {"neoverse-v1",
     {"fp", "asimd", "atomics", "crc32", "asimdrdm", "fcma", "jscvt", "asimddp", "fphp", "asimdhp",
      "asimdfhm", "bf16", "i8mm", "sve", "svei8mm"}},
    {"neoverse-n1", {"fp", "asimd", "atomics", "crc32", "asimdrdm", "asimddp", "fphp", "asimdhp"}},
    {"cortex-a78ae", {"fp", "asimd", "atomics", "crc32", "asimdrdm", "asimddp", "fphp", "asimdhp"}},
}};

// What -mcpu=native may emit beyond the host's version: every code-generating feature of the
// tables above, and the crypto and SVE extensions
constexpr std::array<std::string_view, 23> kArmExtensions = {
    "asimddp", "fcma",    "jscvt",      "frint",   "fphp",   "asimdhp", "asimdfhm", "sve",
    "sve2",    "bf16",    "i8mm",       "aes",     "pmull",  "sha1",    "sha2",     "sha3",
    "sha512",  "svei8mm", "svebitperm", "svebf16", "sveaes", "sm3",     "sm4",
};

std::vector<std::string> sorted(std::vector<std::string> v) {
    std::sort(v.begin(), v.end());
    v.erase(std::unique(v.begin(), v.end()), v.end());
    return v;
}

} // namespace

std::vector<std::string> level_features(int level) {
    std::vector<std::string> out;
    for (int l = 0; l < std::min(level, 4); ++l)
        for (auto f : kLevels[static_cast<std::size_t>(l)])
            if (!f.empty()) out.emplace_back(f);
    return out;
}

int level_of(const std::set<std::string>& flags) {
    int level = 0;
    for (int l = 1; l <= 4; ++l) {
        auto need = level_features(l);
        if (!std::all_of(need.begin(), need.end(), [&](const auto& f) { return flags.count(f); }))
            break;
        level = l;
    }
    return level;
}

int level_of_isa_bits(std::uint32_t bits) {
    for (int l = 4; l >= 1; --l)
        if (bits & (1u << (l - 1))) return l;
    return 0;
}

Family build_family() {
#if defined(__aarch64__)
    return Family::aarch64;
#elif defined(__x86_64__)
    return Family::x86_64;
#else
#error "gantry builds for x86_64 and aarch64"
#endif
}

std::string arm_level_of(const std::set<std::string>& flags) {
    std::string level;
    for (const auto& v : kArmVersions)
        if (std::all_of(v.features.begin(), v.features.end(),
                        [&](auto f) { return f.empty() || flags.count(std::string(f)); }))
            level = v.name;
    return level;
}

std::vector<std::string> arm_target_features(const std::string& name) {
    auto features = [](const ArmTarget& t) {
        std::vector<std::string> out;
        for (auto f : t.features)
            if (!f.empty()) out.emplace_back(f);
        return sorted(std::move(out));
    };
    for (const auto& v : kArmVersions)
        if (v.name == name) return features(v);
    for (const auto& c : kArmCores)
        if (c.name == name) return features(c);
    return {};
}

namespace {

// The first `flags` or `Features` line of TEXT: its family and its words.
std::optional<HostCpu> first_feature_line(const std::string& text) {
    for (auto line : text::split(text, '\n')) {
        auto colon = line.find(':');
        if (colon == std::string_view::npos) continue;
        auto key = text::trim(line.substr(0, colon));
        if (key != "flags" && key != "Features") continue;
        HostCpu cpu;
        cpu.family = key == "flags" ? Family::x86_64 : Family::aarch64;
        for (auto w : text::split(line.substr(colon + 1), ' '))
            if (!text::trim(w).empty()) cpu.features.emplace(text::trim(w));
        return cpu;
    }
    return std::nullopt;
}

} // namespace

std::set<std::string> parse_cpuinfo(const std::string& text) {
    if (auto cpu = first_feature_line(text)) return cpu->features;
    throw Error(Errc::invalid, "no flags or Features line");
}

Family cpuinfo_family(const std::string& text) {
    if (auto cpu = first_feature_line(text)) return cpu->family;
    throw Error(Errc::invalid, "no flags or Features line");
}

std::string describe(Family family, const std::set<std::string>& f) {
    if (family == Family::aarch64) {
        std::string level = arm_level_of(f);
        if (level.empty()) level = "aarch64 without armv8-a's fp and asimd";
        return level + (f.count("sve2") ? " with SVE2" : f.count("sve") ? " with SVE" : "");
    }
    int level = level_of(f);
    return (level <= 1 ? std::string("x86-64") : "x86-64-v" + std::to_string(level)) +
           (f.count("avx512f") ? " with AVX-512" : "") + (f.count("amx_tile") ? " and AMX" : "");
}

std::set<std::string> host_features() {
    auto cpu = host_cpu();
    if (cpu.family != Family::x86_64)
        throw Error(Errc::not_found, "this host's CPU is not x86: it has no x86-64 level",
                    "the x86-64 level checks are for x86-64 hosts");
    return std::move(cpu.features);
}

HostCpu host_cpu() {
    std::string root = "/proc";
    if (const char* r = std::getenv("GANTRY_PROC_ROOT"); r && *r) root = r;
    std::string path = root + "/cpuinfo";
    // the first processor's block is enough: the kernel writes every CPU's entry (and samples
    // its clock) as the file is read, which takes long on hosts with hundreds of CPUs
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) throw Error(Errc::io, "cannot open " + path + ": " + std::strerror(errno));
    std::string text;
    char buf[4096];
    for (;;) {
        ssize_t n = ::read(fd.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw Error(Errc::io, "cannot read " + path + ": " + std::strerror(errno));
        if (n == 0) break;
        text.append(buf, static_cast<std::size_t>(n));
        for (const char* key : {"\nflags", "\nFeatures"}) {
            auto at = text.find(key);
            if (at != std::string::npos && text.find('\n', at + 1) != std::string::npos)
                if (auto cpu = first_feature_line(text)) return *cpu;
        }
        if (text.size() > (1u << 20)) break; // no feature line in the first MiB
    }
    if (auto cpu = first_feature_line(text)) return *cpu;
    throw Error(Errc::not_found, path + " lists no CPU features (no flags or Features line)",
                "--cpu-arch host and the CPU checks read them on x86-64 and aarch64 hosts");
}

Target resolve_target(const std::string& value) {
    Target t;
    if (value == "host") {
        auto [family, host] = host_cpu();
        t.arch = "native";
        t.family = family;
        if (family == Family::aarch64) {
            t.features = arm_target_features(arm_level_of(host));
            for (auto e : kArmExtensions)
                if (host.count(std::string(e))) t.features.emplace_back(e);
            t.features = sorted(std::move(t.features));
            return t;
        }
        int level = level_of(host);
        t.features = level_features(level);
        for (auto e : kExtensions)
            if (host.count(std::string(e))) t.features.emplace_back(e);
        t.features = sorted(std::move(t.features));
        return t;
    }
    if (auto arm = arm_target_features(value); !arm.empty()) {
        t.arch = value;
        t.family = Family::aarch64;
        t.features = std::move(arm);
        t.core = !value.starts_with("armv");
        return t;
    }
    for (int l = 2; l <= 4; ++l)
        if (value == "x86-64-v" + std::to_string(l)) {
            t.arch = value;
            t.features = sorted(level_features(l));
            return t;
        }
    for (const auto& [name, level] : kNamed)
        if (value == name) {
            t.arch = value;
            t.features = sorted(level_features(level));
            return t;
        }
    std::vector<std::string> names, arm;
    for (const auto& [name, level] : kNamed) names.emplace_back(name);
    for (const auto& v : kArmVersions) arm.emplace_back(v.name);
    for (const auto& c : kArmCores) arm.emplace_back(c.name);
    throw Error(Errc::usage, "--cpu-arch " + value + ": not a CPU target gantry knows",
                "use host, x86-64-v2, x86-64-v3, x86-64-v4 or one of " + text::join(names, ", ") +
                    "; for aarch64 one of " + text::join(arm, ", "));
}

namespace {

// rustc's -C target-cpu takes LLVM's CPU names ("native", x86's levels and -march names,
// aarch64's cores); an aarch64 version is one of LLVM's target features ("+v8.2a", "+v9a").
std::string rust_flags(const Target& t) {
    if (t.family != Family::aarch64 || t.core || t.arch == "native")
        return "-C target-cpu=" + t.arch;
    if (t.arch == "armv8-a") return "-C target-cpu=generic";
    std::string v = t.arch.substr(4); // "8.2-a"
    v.erase(v.size() - 2);            // "8.2"
    return "-C target-feature=+v" + v + "a";
}

} // namespace

std::map<std::string, std::string> build_env(const Target& t) {
    std::string march = (t.core ? "-mcpu=" : "-march=") + t.arch;
    if (t.arch == "native" && t.family == Family::aarch64) march = "-mcpu=native";
    return {{"CFLAGS", march},          {"CXXFLAGS", march},          {"CMAKE_C_FLAGS", march},
            {"CMAKE_CXX_FLAGS", march}, {"RUSTFLAGS", rust_flags(t)}, {"GANTRY_CPU_ARCH", t.arch}};
}

std::map<std::string, std::string> labels(const Target& t) {
    return {{kLabelArch, t.arch}, {kLabelFeatures, text::join(t.features, " ")}};
}

std::vector<std::string> missing(const std::vector<std::string>& needed,
                                 const std::set<std::string>& host) {
    std::vector<std::string> out;
    for (const auto& f : needed)
        if (!host.count(f)) out.push_back(f);
    return out;
}

} // namespace gantry::cpu
