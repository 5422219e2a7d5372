// tailor: keeps only the GPU device code a set of target GPUs can run, in already-built ELF files,
// by rewriting their fat binaries in place: nothing moves, the file keeps its size, and the freed
// bytes become zeros (holes on disk, nothing once compressed). Each vendor's format does its own
// rewrite (device_code::Format, in gpu_vendors/<vendor>/: CUDA fat binaries in
// gpu_vendors/nvidia/tailor_cuda.hpp, HIP offload bundles in gpu_vendors/amd/tailor_hip.hpp);
// this module parses the kept set over every registered format and runs each format's rewrite on
// a file (file.hpp). Facts and conditions: reference fatbin-pruning.md.
//
// Every input file is hostile. A file is rewritten only when every fat binary the rewrite touches
// parses exactly, and the result is proven before it is returned (the rewritten file re-read by
// the format's readers lists exactly the kept entries with byte-identical payloads; every byte
// outside the rewritten ranges is unchanged); otherwise the bytes are left exactly as they were
// and the report says why.
#pragma once

#include "device_code/format.hpp"

#include <string>
#include <vector>

namespace gantry::tailor {

using device_code::FileReport;
using device_code::KeepGrammar;
using device_code::KeepSet;
using device_code::to_string;

// The --keep-arch grammars of every registered device-code format, in registry order.
std::vector<const KeepGrammar*> keep_grammars();

// Parses a --keep-arch list: comma-separated items, each one of a format's grammar (`sm_XY` /
// `compute_XY` / `X.Y` for CUDA, an AMD target ID `gfx90a`, `gfx90a:xnack-`). Throws Error(usage)
// naming the item for anything else (and for an empty list). OPTIONS are the keep options given
// (KeepOption::flag, "--no-ptx"): each must be a registered format's, and that format must have
// a target in the list (--no-ptx with --keep-arch gfx90a would change nothing: Error(usage)).
KeepSet parse_keep_list(const std::string& list, const std::vector<std::string>& options = {});

// Every registered format's keep options, in registry order: the flags of slim, tailor and
// analyze.
std::vector<device_code::KeepOption> keep_options();

// Error(usage) naming the first of OPTIONS: a keep option given without --keep-arch changes
// nothing.
void refuse_keep_options_without_list(const std::vector<std::string>& options);

} // namespace gantry::tailor
