// A cache of discovered AMD hosts, as gpu_vendors/nvidia/host_cache.hpp keeps NVIDIA's (both over
// gpu_host/host_cache.hpp), so a GPU container start does
// not walk the KFD topology and the DRM tree each time. The key covers what discovery reads that
// can change while gantry is installed: the topology's generation_id (the kernel bumps it when
// GPUs or partitions come and go), amdgpu's version file, the device nodes /dev/kfd and
// /dev/dri/* (names, inode, type, numbers, mode, owner, times), and the options (sys root, dev
// root). Access to the nodes is still checked live at injection. Entries are JSON files named by
// the key; a damaged entry is discovered afresh.
#pragma once

#include "gpu_vendors/amd/topology.hpp"

#include <string>

namespace gantry::gpu_vendors::amd {

// CACHE_DIR: where entries live (created if missing); "" disables caching. Only usable hosts
// are stored.
Host discover_cached(const DiscoverOptions& opt, const std::string& cache_dir);

// The entry's file name for OPT ("amd-host-<sha256>.json"), exposed for tests.
std::string cache_entry_name(const DiscoverOptions& opt);

std::string host_to_json(const Host& h);
Host host_from_json(const std::string& text); // throws Error(invalid)

} // namespace gantry::gpu_vendors::amd
