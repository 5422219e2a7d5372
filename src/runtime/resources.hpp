// Resource limits a run asks for (--memory, --cpus, --pids-limit; cgroup.hpp applies them) and
// docker's grammar for those flags' values, with --shm-size's: sizes in docker's binary units
// (util/units.hpp's parse_size: 512k = 512 KiB, 8g = 8 GiB), plus each flag's own rules.
#pragma once

#include "oci/linux_resources.hpp"

#include <cstdint>
#include <optional>
#include <string>

namespace gantry::runtime {

struct Resources {
    std::optional<std::int64_t> memory; // bytes; 0 = unlimited
    std::optional<double> cpus;         // CPUs; 0 = unlimited
    std::optional<std::int64_t> pids;   // -1 = unlimited
    bool any() const { return memory || cpus || pids; }
};

// The same limits as the runtime spec's linux.resources, which cgroup_writes.hpp applies for
// gantry run and gantry oci alike: --memory M is memory M and memory+swap 2M (docker's rule
// without --memory-swap), 0 unlimited (-1); --cpus N a quota of N periods of 100 ms; --pids-limit.
oci::LinuxResources to_linux_resources(const Resources& r);

// docker's flag values; each throws Error(Errc::usage) naming its flag.
// --memory: a size (units::parse_size: "512m", "1.5g", "2GiB", "1024"); 0 means unlimited;
// otherwise at least 6 MiB (docker's minimum).
std::int64_t parse_memory(const std::string& value);
// A size (units::parse_size, as docker's RAMInBytes) for another flag: --shm-size.
std::int64_t parse_ram_size(const std::string& value, const std::string& flag);
// --cpus: a decimal number of CPUs ("1.5", ".5"), at most 9 decimals; 0 means unlimited;
// otherwise from 0.01 up to the number of CPUs this process may run on (docker's range).
double parse_cpus(const std::string& value);
// --pids-limit: an integer; 0 and -1 mean unlimited (returned as -1).
std::int64_t parse_pids(const std::string& value);

} // namespace gantry::runtime
