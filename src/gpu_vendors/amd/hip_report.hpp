// amd/hip_report: what `gantry doctor --fatbin FILE` shows of a file's HIP offload bundles
// (hip_fatbin.hpp's listing): its part of the --json document and the rows of the text table.
#pragma once

#include "device_code/format.hpp"
#include "gpu_vendors/amd/hip_fatbin.hpp"

#include <cstddef>
#include <nlohmann/json_fwd.hpp>

namespace gantry::gpu_vendors::amd {

// Sets DOCUMENT["hip"]: found, the section, bundles, entries and per-target totals.
void hip_report_json(const HipFatbin& hip, nlohmann::json& document);
// KIND TARGET VERSION COMPRESSION SIZE BUNDLE, one row per HIP code object.
device_code::TableRows hip_code_object_rows(const HipFatbin& hip);
// The number of HIP code objects (entries with device code).
std::size_t hip_code_objects(const HipFatbin& hip);

} // namespace gantry::gpu_vendors::amd
