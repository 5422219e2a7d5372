// nvidia/fatbin_report: what `gantry doctor --fatbin FILE` shows of a file's CUDA fat binaries,
// built from the scanner's listing (fatbin.hpp: containers and entries): its part of the --json
// document, and the rows of the text tables.
#pragma once

#include "device_code/format.hpp"
#include "gpu_vendors/nvidia/fatbin.hpp"

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

namespace gantry::gpu_vendors::nvidia {

struct FatbinTotal {
    std::string arch; // "sm_90", "sm_80 (rdc)", "compute_90"; "total" for the sum
    std::uint64_t entries = 0, size = 0, uncompressed = 0;
};

// Per-arch totals of the entries with code (nvlink stubs left out), in order of first
// appearance, then one "total" row.
std::vector<FatbinTotal> fatbin_totals(const FatbinFile& fb);

// Sets DOCUMENT's top-level keys: path, file_size, ELF, containers, entries, totals, problems.
void fatbin_report_json(const FatbinFile& fb, nlohmann::json& document);

using device_code::TableRows;
// KIND ARCH COMPRESSION SIZE UNCOMPRESSED PTX-ISA/TOOLKIT SECTION, one row per entry with code.
TableRows fatbin_entry_rows(const FatbinFile& fb);
// ARCH ENTRIES SIZE UNCOMPRESSED: fatbin_totals as rows.
TableRows fatbin_total_rows(const FatbinFile& fb);

} // namespace gantry::gpu_vendors::nvidia
