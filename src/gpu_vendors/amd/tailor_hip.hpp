// tailor/hip: prunes the HIP device code of one linked ELF file in place. Its .hip_fatbin section
// holds one clang offload bundle per linked translation unit (each referenced at its start by a
// __hip_fatbin_wrapper); a bundle keeps its host entry, every entry that is not AMD GPU code
// for the HIP runtime (openmp, spirv, other kinds: untouched) and every code object that runs on
// at least one kept target, and loses the rest:
//  - an uncompressed bundle keeps its start, offsets and IDs: its entry table lists only the kept
//    entries (the freed end of the table zeroed) and the dropped code objects become zeros;
//  - a compressed bundle (CCOB) is rebuilt whole: the pruned bundle laid out again, compressed
//    with the same method, written with the same version, new sizes and hash at the same start,
//    the rest of its old bytes zeroed; one whose rebuild does not fit is left as it was.
// A bundle in which no code object would remain is left as it was ("no code object for the kept
// targets": gantry doctor reports that case; the tailor does not make it worse).
//
// The matching rule is the HIP runtime's (amd::code_object_runs_on) for each kept target; a
// feature the kept target leaves out ("gfx90a" given without xnack) stands for either value, so
// code objects for every mode of that GPU are kept. Generic code objects ("gfx9-4-generic") are
// kept. Facts: reference fatbin-pruning.md §5 and rocm.md §5; the shared types: tailor.hpp.
#pragma once

#include "device_code/format.hpp"

#include <string>

namespace gantry::gpu_vendors::amd {

// Rewrites the HIP offload bundles of one ELF file held in memory, in place: `elf` keeps its
// size; with write=false nothing is changed and the report says what a write would do.
// Never throws for malformed contents (they make the file Outcome::refused, bytes unchanged).
// The HIP format's --keep-arch grammar (device_code::KeepGrammar): AMD target IDs (`gfx90a`,
// `gfx942:sramecc+:xnack-`, `amdgcn-amd-amdhsa--gfx1030`), kept as amd::TargetId::str().
device_code::KeepGrammar hip_keep_grammar();

device_code::FileReport tailor_hip(std::string& elf, const device_code::KeepSet& keep,
                                   const std::string& path, bool write = true);

} // namespace gantry::gpu_vendors::amd
