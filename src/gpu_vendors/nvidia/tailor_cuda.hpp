// tailor/cuda: prunes the CUDA fat binaries of one linked ELF file (a shared library or an
// executable) held in memory, in place, to the device code a set of kept GPUs can load. The file
// keeps its size and every container keeps its offset, so every pointer in the file stays valid;
// only entry lists, fatSize fields and the freed tails (now zeros) change. The conditions are the
// reference's "safe with conditions" (fatbin-pruning.md); where the issue and the reference differ
// this keeps more, never fewer.
//
// What is touched: containers in the section .nv_fatbin that a .nvFatBinSegment wrapper
// (__fatBinC_Wrapper_t {u32 magic 0x466243b1, u32 version, u64 data, u64 filename_or_fatbins})
// references at their start. `data` is taken as the dynamic linker makes it: the addend of its
// R_X86_64_RELATIVE / R_AARCH64_RELATIVE relocation, else (ET_EXEC, RELR-packed or no
// relocation) the stored value; the address is mapped to a file offset through the PT_LOAD that
// holds it. Everything else is left alone and listed in device_code::FileReport::left_alone (at
// most 50 lines): containers no wrapper references (cuFFT's), containers in other sections
// (__nv_relfatbin of -rdc builds, .cask_resource, .ldata, data), containers nothing in which runs
// on a kept GPU, object files (ET_REL: nvprune's job), machines other than x86_64 / aarch64.
//
// When the file is refused (Outcome::refused, bytes unchanged, `refused` says what and where):
// .nv_fatbin does not tile exactly (containers end to end, 8-aligned, only zeros between them,
// magic 0xBA55ED50, version 1, header size 16, entries of kinds 1/2/4/8 and version 0x0101 whose
// header + payload sizes sum exactly to fatSize, nothing past the section); a wrapper, a dynamic
// relocation or a symbol points into .nv_fatbin other than at a container start; a relocation
// patches bytes inside .nv_fatbin; a wrapper's `data` is relocated by anything but a RELATIVE
// relocation; a bad wrapper magic or version; section and program headers that disagree about
// where .nv_fatbin is; a proof failure.
//
// The keep rule, per container, for the union of the kept devices
// (device_code::KeepSet::targets("cuda"); the major is sm/10, the minor sm%10, so sm_120 is 12.0):
//   - SASS (kind 2, and kind 4 "old cubin" judged the same by its arch): plain and family (`f`)
//     entries of the same major with a minor at or below the device's; `a` entries only for their
//     exact arch. (These are the cubins the driver could choose on the device: its choice among
//     them is unchanged because none of them is dropped.)
//   - PTX (kind 1): arch at or below a kept device (JIT); an `a` PTX only for its exact arch. A
//     family PTX is judged like a plain one (at or below), which keeps more than the family rule.
//   - with device_code::KeepSet::ptx, also the newest non-`a` PTX of the container (the JIT path
//   for GPUs newer
//     than the kept ones), every PTX entry of that arch.
//   - LTO-IR (kind 8) is always kept: the driver does not load it, but a process may hand it to
//     nvJitLink, and it is rare in linked libraries, so dropping it would save little for a risk.
//   A container in which no SASS/PTX entry is usable on any kept device is left untouched (the
//   newest PTX or LTO-IR alone does not count as usable).
// Kept entries move forward in their original order, byte-identical (header and payload, never
// recompressed), to container+16; fatSize becomes their exact sum; the freed tail is zeroed.
//
// The proof, before a changed file is returned (write=true): the result re-read by this file's
// exact parser and by nvidia::scan_fatbin_bytes lists in each rewritten container exactly the
// kept entries, at the expected offsets, each byte-identical to its original (a direct compare);
// every byte outside the rewritten containers' ranges is unchanged (SHA-256 of all those bytes,
// before and after: the ELF header, program and section headers, .dynamic, .dynsym, .symtab,
// every relocation and every untouched container included). Any failure, or any exception,
// restores the original bytes and refuses the file with the reason.
//
// device_code::FileReport: vendor "cuda"; arch_before/arch_after (entry header + payload bytes per
// nvidia::FatbinEntry::arch_name()) and entries_before/after count every container of
// .nv_fatbin (touched or not) and nothing outside it; zeroed = the freed bytes; dropped = the
// original (offset, size) of each dropped entry.
#pragma once

#include "device_code/format.hpp"

#include <string>

namespace gantry::gpu_vendors::nvidia {

// The CUDA format's keep option (device_code::KeepOption): without it the newest PTX of each
// container is kept too, the JIT path for GPUs newer than the kept ones.
inline constexpr const char* kNoPtx = "--no-ptx";

// Rewrites the CUDA fat binaries of one ELF file held in memory, in place: `elf` keeps its
// size; with write=false nothing is changed and the report says what a write would do.
// Never throws for malformed contents (they make the file Outcome::refused, bytes unchanged).
// The CUDA format's --keep-arch grammar (device_code::KeepGrammar): `sm_XY`, `compute_XY` and
// `X.Y`, any case, an arch-specific `a`/`f` suffix naming the same device, all kept as "sm_XY".
device_code::KeepGrammar cuda_keep_grammar();
// A kept CUDA target's SM number: "sm_90" -> 90, "sm_120" -> 120 (0 for anything else).
unsigned sm_number(const std::string& target);

device_code::FileReport tailor_cuda(std::string& elf, const device_code::KeepSet& keep,
                                    const std::string& path, bool write = true);

} // namespace gantry::gpu_vendors::nvidia
