// engine/cpu_check: whether this host's CPU has what an image's x86-64 code needs, asked before
// launch so that a container built for a newer CPU is refused with the missing features named
// instead of dying with SIGILL (or glibc's "CPU ISA level is lower than required"). Two
// records say what an image needs: the label a `gantry build --cpu-arch` wrote
// (cpu::kLabelFeatures) and the GNU_PROPERTY_X86_ISA_1_NEEDED note of its ELF files
// (elf/dynamic.hpp; `-Wl,-z,x86-64-v3`, gcc's -mneeded). `run` reads the label and the note of the
// program it will execute (cheap: the host's /proc/cpuinfo is read only when one of them asks
// for more than the baseline); `doctor IMAGE` also reads every ELF file of the image.
#pragma once

#include "findings/finding.hpp"
#include "rootfs/image_files.hpp"
#include "store/images.hpp"

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace gantry::engine {

// What an image needs that the host lacks, and where the need is written.
struct CpuShortfall {
    std::string source; // "its label io.gantry.cpu.features (--cpu-arch x86-64-v4)", "/usr/bin/x"
    std::vector<std::string> missing; // cpuinfo feature names
};

// run's check: the label of CONFIG (the image config) and the ELF note of PROGRAM (the command's
// first word, looked up in PATH of ENV through FILES when it has no '/'; FILES null: the label
// only, for an image whose files are not here yet). Returns the
// shortfalls; empty when the host has everything, or is not x86.
// The program's level is cached per boot in CACHE_DIR ("" for none) under IMAGE_KEY (the
// manifest digest): the lookup probes every layer for each PATH directory.
std::vector<CpuShortfall>
cpu_shortfalls(const nlohmann::json& config, const rootfs::ImageFiles* files,
               const std::string& program, const std::vector<std::string>& env,
               const std::string& cache_dir = {}, const std::string& image_key = {});

// Applies run's check as policy: Error(run_failed) naming IMAGE, the features and the fix;
// with NO_REQUIRE (--no-require) a warning.
void refuse_cpu_shortfalls(const std::vector<CpuShortfall>& shortfalls, const std::string& image,
                           bool no_require);

// doctor's findings: CPU-HOST (info: the host's level), and with an image CPU-IMAGE-LABEL and
// CPU-IMAGE-ELF (fail when the host lacks what they need, else pass). Files are scanned under
// PATH_PREFIX when given.
std::vector<findings::Finding> cpu_findings(const store::Store* store, const store::Image* image,
                                            const std::string& path_prefix);

} // namespace gantry::engine
