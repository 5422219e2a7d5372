// A cache of discovered hosts, so a GPU container start does not re-read the ld.so.cache and the
// driver's ELF files or initialise NVML each time. The key covers everything discovery reads that
// can change while gantry is installed: the driver version files, the driver root's ld.so.cache
// (inode, size, mtime), the NVIDIA device nodes (names, types, numbers, modes), the MIG minors,
// and the options. Device node access is still checked live at injection.
// Namespace gantry::gpu_vendors::nvidia, as everything in NVIDIA's folder.
#pragma once

#include "gpu_vendors/nvidia/host.hpp"

#include <string>

namespace gantry::gpu_vendors::nvidia {

// cache_dir: where entries live (created if missing); "" disables caching.
Host discover_cached(const DiscoverOptions& opt, const std::string& cache_dir);

std::string host_to_json(const Host& h);
Host host_from_json(const std::string& text); // throws Error(invalid)

} // namespace gantry::gpu_vendors::nvidia
