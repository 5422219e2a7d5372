// compat/fatbin_report: what `gantry doctor --fatbin FILE` shows of one file's device code, built
// from the scanners' listings (fatbin.hpp: CUDA fat binary containers and entries; hip_fatbin.hpp:
// HIP offload bundles): the document --json prints, and the rows of the text tables (the CLI
// prints them with its table printer).
#pragma once

#include "compat/fatbin.hpp"
#include "compat/hip_fatbin.hpp"

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace gantry::compat {

struct FatbinTotal {
    std::string arch; // "sm_90", "sm_80 (rdc)", "compute_90"; "total" for the sum
    std::uint64_t entries = 0, size = 0, uncompressed = 0;
};

// Per-arch totals of the entries with code (nvlink stubs left out), in order of first
// appearance, then one "total" row.
std::vector<FatbinTotal> fatbin_totals(const FatbinFile& fb);

// The --json document: path, ELF, containers, entries, totals, problems and the HIP listing.
nlohmann::json fatbin_report_json(const FatbinFile& fb, const HipFatbin& hip);

using TableRows = std::vector<std::vector<std::string>>;
// KIND ARCH COMPRESSION SIZE UNCOMPRESSED PTX-ISA/TOOLKIT SECTION, one row per entry with code.
TableRows fatbin_entry_rows(const FatbinFile& fb);
// ARCH ENTRIES SIZE UNCOMPRESSED: fatbin_totals as rows.
TableRows fatbin_total_rows(const FatbinFile& fb);
// KIND TARGET VERSION COMPRESSION SIZE BUNDLE, one row per HIP code object.
TableRows hip_code_object_rows(const HipFatbin& hip);
// The number of HIP code objects (entries with device code).
std::size_t hip_code_objects(const HipFatbin& hip);

} // namespace gantry::compat
