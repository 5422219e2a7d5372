// gpu_limits/dmem: the cgroup v2 dmem controller (Linux 6.14+) as a container's GPU memory limit.
// The root cgroup's dmem.capacity lists the device memory regions, "NAME BYTES" a line: drm's
// "drm/<bdf>/vram0" (xe), "drm/<bdf>/vram" (amdgpu), NVIDIA's "nvidia/<bdf>/vidmem" (r615+). A
// container's dmem.max (hard limit) and dmem.min (protection) take the same "NAME BYTES" lines
// (Documentation/admin-guide/cgroup-v2.rst, "DMEM"); runtime::Resources carries them to the
// container's cgroup, where cgroup_writes.hpp writes them and enables the controller.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace gantry::gpu_limits {

struct DmemRegion {
    std::string name; // "drm/0000:03:00.0/vram0"
    std::uint64_t capacity = 0;
};

// dmem.capacity's lines; a line that is not "NAME BYTES" is left out.
std::vector<DmemRegion> parse_dmem_capacity(const std::string& text);
// CGROUP_TOP/dmem.capacity (runtime::cgroup2_top: the cgroup v2 root, or a fake tree's); none
// when the file is missing (a kernel without dmem, or no cgroup v2).
std::vector<DmemRegion> read_dmem_capacity(const std::string& cgroup_top);
// The region of the GPU PCI_FUNCTION: the one whose name's second part is its address. nullopt
// when there is none; Error(run_failed) when there are several (a GPU with more than one memory
// region: one size of ASK, --gpu-memory or its annotation, cannot be split between them).
std::optional<DmemRegion> dmem_region_of(const std::vector<DmemRegion>& regions,
                                         const std::string& pci_function,
                                         const std::string& ask = "--gpu-memory");
// dmem.max's or dmem.min's value for REGIONS and their BYTES: "NAME BYTES" lines.
std::string dmem_limit_lines(const std::vector<std::pair<DmemRegion, std::uint64_t>>& limits);

} // namespace gantry::gpu_limits
