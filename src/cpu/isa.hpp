// cpu/isa: what x86-64 and aarch64 code needs of a CPU, in the names Linux gives CPU features in
// /proc/cpuinfo: x86's `flags` line ("avx2", "avx512f", "abm" for LZCNT, "pni" for SSE3),
// aarch64's `Features` line (its hwcaps: "atomics" for LSE, "asimddp" for the dot product,
// "sve2"). It owns the four x86-64 micro-architecture levels (the psABI's x86-64, -v2, -v3,
// -v4), aarch64's architecture versions (armv8-a .. armv8.6-a, armv9-a, with the features GCC's
// -march turns on for each) and cores (Neoverse V2 of NVIDIA Grace, Cortex-A78AE of Jetson
// Orin), the targets `gantry build --cpu-arch` takes (host, a level, or a compiler's CPU name)
// with the variables the toolchains read, the labels that record a build's target on the image,
// and the host's features (GANTRY_PROC_ROOT/cpuinfo when set, else /proc/cpuinfo: tests simulate
// hosts). An ELF file's GNU_PROPERTY_X86_ISA_1_NEEDED bits (elf/dynamic.hpp) map to a level here;
// aarch64 ELF files record no such need (their GNU_PROPERTY_AARCH64_FEATURE_1_AND, BTI and PAC,
// are hint instructions every aarch64 CPU executes).
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace gantry::cpu {

// The image labels a `--cpu-arch` build sets: the target as resolved ("x86-64-v4", "native",
// "skylake-avx512") and the cpuinfo features it needs, space-separated, sorted.
inline constexpr const char* kLabelArch = "io.gantry.cpu.arch";
inline constexpr const char* kLabelFeatures = "io.gantry.cpu.features";

// The instruction-set family of a CPU, a cpuinfo text or a target.
enum class Family { x86_64, aarch64 };

// The family this gantry was built for (the host's, where it runs natively).
Family build_family();

// The features of x86-64 level LEVEL (1..4), every lower level's included.
std::vector<std::string> level_features(int level);

// The highest level whose features FLAGS all have (0 when not even the baseline).
int level_of(const std::set<std::string>& flags);

// The level an ELF file's GNU_PROPERTY_X86_ISA_1_NEEDED bits ask for (0 when none).
int level_of_isa_bits(std::uint32_t bits);

// The highest aarch64 architecture version whose features FLAGS all have ("armv8.2-a"), "" when
// not even armv8-a's (fp, asimd).
std::string arm_level_of(const std::set<std::string>& flags);

// The features an aarch64 -march version ("armv8.1-a") or -mcpu core ("neoverse-v2") gantry
// knows needs, sorted; empty when it knows no such name.
std::vector<std::string> arm_target_features(const std::string& name);

// The host's features: those of the first processor in /proc/cpuinfo (or
// $GANTRY_PROC_ROOT/cpuinfo), with its family. Error(not_found) when the file has neither a
// flags nor a Features line, Error(io) when it cannot be read.
struct HostCpu {
    Family family = Family::x86_64;
    std::set<std::string> features;
};
HostCpu host_cpu();
// host_cpu()'s features, for x86 hosts: Error(not_found) on another family's host.
std::set<std::string> host_features();

// What a host with FEATURES is, in one phrase: "x86-64-v3", "x86-64-v4 with AVX-512",
// "armv8.2-a", "armv9-a with SVE2".
std::string describe(Family family, const std::set<std::string>& features);

// Parses a cpuinfo text's first `flags` (x86) or `Features` (aarch64) line. Error(invalid) when
// there is none.
std::set<std::string> parse_cpuinfo(const std::string& text);
// Which of the two a cpuinfo text is: the family of its first flags or Features line.
Family cpuinfo_family(const std::string& text);

struct Target {
    std::string arch; // what the compiler gets: "x86-64-v3", "native", "znver4", "armv8.2-a"
    std::vector<std::string> features; // what the result needs of a CPU (cpuinfo names, sorted)
    Family family = Family::x86_64;
    bool core = false; // an aarch64 core name, given as -mcpu= (GCC's aarch64 -march takes
                       // only architecture versions)
};

// --cpu-arch VALUE: "host" (-march=native: the host's level and every ISA extension it has
// beyond it; on aarch64 -mcpu=native and the host's features), "x86-64-v2".."x86-64-v4" (also
// "x86-64"), an x86 -march name gantry knows the level of, an aarch64 version ("armv8-a" ..
// "armv8.6-a", "armv9-a") or core ("neoverse-v2", "cortex-a78ae", ...). Error(usage) for
// anything else, listing the forms. The host's cpuinfo is read only for "host".
Target resolve_target(const std::string& value);

// The build variables of TARGET: CFLAGS, CXXFLAGS, CMAKE_C_FLAGS, CMAKE_CXX_FLAGS (-march=, an
// aarch64 core's -mcpu=), RUSTFLAGS (-C target-cpu=), GANTRY_CPU_ARCH.
std::map<std::string, std::string> build_env(const Target& target);

// The labels recording TARGET on the image (kLabelArch, kLabelFeatures).
std::map<std::string, std::string> labels(const Target& target);

// The features of NEEDED that HOST lacks, in NEEDED's order.
std::vector<std::string> missing(const std::vector<std::string>& needed,
                                 const std::set<std::string>& host);

} // namespace gantry::cpu
