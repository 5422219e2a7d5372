// Internal to gpu_vendors/nvidia/discover*.cpp (and tegra.cpp: the directory helpers): in-root path
// resolution, the file finders and the NVML query.
#pragma once

#include "gpu_host/ldcache.hpp"
#include "gpu_vendors/in_root.hpp"
#include "gpu_vendors/nvidia/host.hpp"

#include <map>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace gantry::gpu_vendors::nvidia::detail {

// in-root path resolution, memoised (gpu_vendors/in_root.hpp)
using Resolver = gpu_vendors::InRootResolver;

// Entry names of a host directory, sorted; empty when it cannot be read.
std::vector<std::string> list_dir(const std::string& host_dir);
bool is_dir(const std::string& host_path);
std::string base_name(const std::string& path);
std::string dir_name(const std::string& path); // "/a/b" -> "/a", "/a" -> "/"

// The finders fill their part of the Host and add notes; they throw only on bugs.
// cache may be null (no usable ld.so.cache: the standard directories are scanned).
std::string version_from_libraries(const Host& h, Resolver& res,
                                   const gpu_host::ldcache::Cache* cache, std::string* from);
std::string find_nvml(const Host& h, Resolver& res, const gpu_host::ldcache::Cache* cache);
void find_libraries(Host& h, Resolver& res, const gpu_host::ldcache::Cache* cache);
void find_wsl_files(Host& h, Resolver& res);
void find_binaries(Host& h, Resolver& res);
void find_firmware(Host& h, Resolver& res);
void find_ipc(Host& h, Resolver& res);
void find_configs(Host& h, Resolver& res);

struct NvmlReport {
    std::string error;              // why NVML could not be used (empty when it was)
    std::string driver_version;     // nvmlSystemGetDriverVersion
    int cuda_version = 0;           // nvmlSystemGetCudaDriverVersion
    std::vector<Device> devices;    // index, minor, uuid, name, brand, bus id, cc, memory, MIG
    std::vector<std::string> notes; // partial failures (one GPU, one query)
};

// Loads the library at path (RTLD_NOW | RTLD_LOCAL), initialises NVML, queries every GPU and its
// MIG devices, shuts NVML down and unloads it. Never throws; returns false with error set when
// the library does not load or NVML does not initialise. Device nodes are left for the caller.
bool query_nvml(const std::string& path, NvmlReport& out);

} // namespace gantry::gpu_vendors::nvidia::detail
