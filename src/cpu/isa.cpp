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

std::set<std::string> parse_cpuinfo(const std::string& text) {
    for (auto line : text::split(text, '\n')) {
        auto colon = line.find(':');
        if (colon == std::string_view::npos) continue;
        if (text::trim(line.substr(0, colon)) != "flags") continue;
        std::set<std::string> flags;
        for (auto w : text::split(line.substr(colon + 1), ' '))
            if (!text::trim(w).empty()) flags.emplace(text::trim(w));
        return flags;
    }
    throw Error(Errc::invalid, "no flags line");
}

std::set<std::string> host_features() {
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
        auto flags = text.find("\nflags");
        if (flags != std::string::npos && text.find('\n', flags + 1) != std::string::npos) break;
        if (text.size() > (1u << 20)) break; // no flags line in the first MiB: not x86
    }
    try {
        return parse_cpuinfo(text);
    } catch (const Error&) {
        throw Error(Errc::not_found, path + " lists no CPU flags: this is not an x86 host",
                    "--cpu-arch and the x86 ISA checks are for x86-64 hosts");
    }
}

Target resolve_target(const std::string& value) {
    Target t;
    if (value == "host") {
        auto host = host_features();
        int level = level_of(host);
        t.arch = "native";
        t.features = level_features(level);
        for (auto e : kExtensions)
            if (host.count(std::string(e))) t.features.emplace_back(e);
        t.features = sorted(std::move(t.features));
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
    std::vector<std::string> names;
    for (const auto& [name, level] : kNamed) names.emplace_back(name);
    throw Error(Errc::usage, "--cpu-arch " + value + ": not a CPU target gantry knows",
                "use host, x86-64-v2, x86-64-v3, x86-64-v4 or one of " + text::join(names, ", "));
}

std::map<std::string, std::string> build_env(const Target& t) {
    std::string march = "-march=" + t.arch;
    return {{"CFLAGS", march},
            {"CXXFLAGS", march},
            {"CMAKE_C_FLAGS", march},
            {"CMAKE_CXX_FLAGS", march},
            {"RUSTFLAGS", "-C target-cpu=" + t.arch},
            {"GANTRY_CPU_ARCH", t.arch}};
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
