// Resource limits a run asks for (--memory, --memory-swap, --memory-reservation,
// --memory-swappiness, --cpus, --cpu-shares, --cpuset-cpus, --cpuset-mems, --pids-limit,
// --cpu-rt-period, --cpu-rt-runtime, and the
// device memory gpu_limits/ turns --gpu-memory into;
// container_cgroup.hpp applies them) and docker's grammar for those flags' values, with
// --shm-size's: sizes in docker's binary units (util/units.hpp's parse_size: 512k = 512 KiB,
// 8g = 8 GiB), plus each flag's own rules.
#pragma once

#include "oci/linux_resources.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace gantry::runtime {

struct Resources {
    std::optional<std::int64_t> memory;             // bytes; 0 = unlimited
    std::optional<std::int64_t> memory_swap;        // memory+swap bytes; -1 = unlimited swap
    std::optional<std::int64_t> memory_reservation; // bytes (a soft limit)
    std::optional<std::uint64_t> memory_swappiness; // 0-100 (cgroup v1 only)
    std::optional<double> cpus;                     // CPUs; 0 = unlimited
    std::optional<std::uint64_t> cpu_shares;        // a relative weight, 2-262144
    std::string cpuset_cpus, cpuset_mems;           // "0-3,5"; "" = not set
    // cgroup v1's realtime budget: RUNTIME microseconds of every PERIOD (rt_budget.hpp)
    std::optional<std::int64_t> cpu_rt_period, cpu_rt_runtime;
    std::optional<std::int64_t> pids; // -1 = unlimited
    // cgroup v2's dmem.max and dmem.min: "REGION BYTES" lines (--gpu-memory,
    // --gpu-memory-reservation through gpu_limits/dmem.hpp); "" = not set
    std::string dmem_max, dmem_min;
    bool any() const {
        return memory || memory_swap || memory_reservation || memory_swappiness || cpus ||
               cpu_shares || !cpuset_cpus.empty() || !cpuset_mems.empty() || pids ||
               cpu_rt_period || cpu_rt_runtime || !dmem_max.empty() || !dmem_min.empty();
    }
    // The docker flags the set fields came from, in the order above ("--memory", ...).
    std::vector<std::string> flags() const;
};

// The same limits as the runtime spec's linux.resources, which cgroup_writes.hpp applies for
// gantry run and gantry oci alike: --memory M is memory M and memory+swap 2M (docker's rule
// without --memory-swap; with it, its value), 0 unlimited (-1); --cpus N a quota of N periods of
// 100 ms; --cpu-shares, --cpuset-*, --memory-reservation, --memory-swappiness as they are;
// --pids-limit.
oci::LinuxResources to_linux_resources(const Resources& r);
// Docker's rules between the flags, checked once all are parsed (Error(usage) naming them):
// --memory-swap needs --memory and is not below it; --memory-reservation not above --memory.
void check_together(const Resources& r);

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
// --memory-swap: a size (memory+swap), or -1 for unlimited swap; 0 means not set (nullopt).
std::optional<std::int64_t> parse_memory_swap(const std::string& value);
// --memory-reservation: a size, 0 not set (nullopt); otherwise at least 6 MiB (docker's minimum).
std::optional<std::int64_t> parse_memory_reservation(const std::string& value);
// --memory-swappiness: 0 to 100, or -1 for the kernel's (nullopt).
std::optional<std::uint64_t> parse_memory_swappiness(const std::string& value);
// --cpu-shares: 2 to 262144 (the kernel's range; docker clamps, gantry refuses), 0 not set.
std::optional<std::uint64_t> parse_cpu_shares(const std::string& value);
// --cpu-rt-period / --cpu-rt-runtime (FLAG): microseconds, a whole number above 0 and below
// 2^40 (0 is docker's "not set": nullopt).
std::optional<std::int64_t> parse_cpu_rt(const std::string& value, const std::string& flag);
// --cpuset-cpus / --cpuset-mems (FLAG): a list such as "0-3,5" of CPUs (or NUMA nodes) each of
// which AVAILABLE (the same form: what this process may use) holds; returned as given.
std::string parse_cpuset(const std::string& value, const std::string& flag,
                         const std::string& available);
// A list such as "0-3,5" (cpuset's form, sysfs' local_cpulist) as its numbers, sorted, each once;
// Error(usage) naming WHAT for a malformed one. cpuset_list is the reverse.
std::vector<unsigned> cpuset_numbers(const std::string& list, const std::string& what);
std::string cpuset_list(const std::vector<unsigned>& numbers);
// What a container may be pinned to: the CPUs this process may run on, and the host's online
// NUMA nodes (/sys/devices/system/node/online, "0" without NUMA), each within what this
// process's cgroup allows (caller_cpuset.hpp), both as lists "0-3,5".
std::string available_cpus();
std::string available_mems();

} // namespace gantry::runtime
