// cpu/isa: what x86-64 code needs of a CPU, in the names Linux gives CPU features in
// /proc/cpuinfo's `flags` line ("avx2", "avx512f", "abm" for LZCNT, "pni" for SSE3). It owns the
// four x86-64 micro-architecture levels (the psABI's x86-64, -v2, -v3, -v4), the targets
// `gantry build --cpu-arch` takes (host, a level, or a compiler's -march name) with the
// variables the toolchains read, the labels that record a build's target on the image, and
// the host's features (GANTRY_PROC_ROOT/cpuinfo when set, else /proc/cpuinfo: tests simulate
// hosts). An ELF file's GNU_PROPERTY_X86_ISA_1_NEEDED bits (elf/dynamic.hpp) map to a level here.
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

// The features of x86-64 level LEVEL (1..4), every lower level's included.
std::vector<std::string> level_features(int level);

// The highest level whose features FLAGS all have (0 when not even the baseline).
int level_of(const std::set<std::string>& flags);

// The level an ELF file's GNU_PROPERTY_X86_ISA_1_NEEDED bits ask for (0 when none).
int level_of_isa_bits(std::uint32_t bits);

// The host's features: the flags of the first processor in /proc/cpuinfo (or
// $GANTRY_PROC_ROOT/cpuinfo). Error(not_found) when the file has no flags line (not x86),
// Error(io) when it cannot be read.
std::set<std::string> host_features();

// Parses a cpuinfo text's first `flags` line. Error(invalid) when there is none.
std::set<std::string> parse_cpuinfo(const std::string& text);

struct Target {
    std::string arch;                  // what -march gets: "x86-64-v3", "native", "znver4"
    std::vector<std::string> features; // what the result needs of a CPU (cpuinfo names, sorted)
};

// --cpu-arch VALUE: "host" (-march=native: the host's level and every ISA extension it has
// beyond it), "x86-64-v2".."x86-64-v4" (also "x86-64"), or a -march name gantry knows the level
// of. Error(usage) for anything else, listing the forms. HOST: the host's features, read only
// for "host".
Target resolve_target(const std::string& value);

// The build variables of TARGET: CFLAGS, CXXFLAGS, CMAKE_C_FLAGS, CMAKE_CXX_FLAGS (-march=),
// RUSTFLAGS (-C target-cpu=), GANTRY_CPU_ARCH.
std::map<std::string, std::string> build_env(const Target& target);

// The labels recording TARGET on the image (kLabelArch, kLabelFeatures).
std::map<std::string, std::string> labels(const Target& target);

// The features of NEEDED that HOST lacks, in NEEDED's order.
std::vector<std::string> missing(const std::vector<std::string>& needed,
                                 const std::set<std::string>& host);

} // namespace gantry::cpu
