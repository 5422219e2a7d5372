// gpu_limits/share: what --gpu-memory, --gpu-memory-reservation and --gpu-compute ask of a
// container's GPUs, read as given (docker's size units), and each GPU's part of it. The GPUs are
// numbered as the container numbers them: 0, 1, ... in PCI address order of those it gets
// (gpu_vendors::GpuPlan::pci_functions).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace gantry::gpu_limits {

// A memory size for every GPU ("8g") or per GPU ("0=8g,1=4g").
struct MemoryShare {
    std::optional<std::uint64_t> every; // bytes, every GPU
    std::map<unsigned, std::uint64_t> per_gpu;
    bool empty() const { return !every && per_gpu.empty(); }
};

// FLAG's VALUE; Error(usage) naming FLAG for a malformed one, a zero size, an index given twice.
MemoryShare parse_memory_share(const std::string& value, const std::string& flag);
// --gpu-compute (or NAME, its annotation): a whole percentage of each GPU's compute, 1 to 100.
unsigned parse_compute_percent(const std::string& value, const std::string& name = "--gpu-compute");

// SHARE for a container with GPU_COUNT GPUs: each GPU's bytes (nullopt: no limit on it).
// Error(usage) naming FLAG for an index the container does not have.
std::vector<std::optional<std::uint64_t>> per_gpu(const MemoryShare& share, std::size_t gpu_count,
                                                  const std::string& flag);

// What a run asks: the three flags as given ("" = not given).
struct ShareRequest {
    std::string memory, memory_reservation, compute;
    bool any() const { return !memory.empty() || !memory_reservation.empty() || !compute.empty(); }
};

} // namespace gantry::gpu_limits
