// The runtime spec's `linux.resources` (config.json, and `gantry oci update --resources`): the
// cgroup limits a container asks for, read strictly. Every field runc 1.1 applies is modelled; a
// field gantry does not apply (memory.kernel, cpu.idle, network, rdma, an unknown key) is
// refused with Error(invalid) naming it, never dropped. runtime/cgroup_writes.hpp turns the model
// into cgroup v1 or v2 file writes.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace gantry::oci {

// linux.resources.devices[]: a device cgroup rule. TYPE 'a' (all), 'c' or 'b'; no major/minor
// is "*"; ACCESS a subset of "rwm".
struct DeviceRule {
    bool allow = false;
    char type = 'a';
    std::optional<std::int64_t> major, minor;
    std::string access = "rwm";
    bool operator==(const DeviceRule&) const = default;
};

// blockIO.weightDevice[] and the four throttle lists: a device by major:minor.
struct BlockDeviceWeight {
    std::int64_t major = 0, minor = 0;
    std::optional<std::uint16_t> weight, leaf_weight;
};
struct BlockDeviceRate {
    std::int64_t major = 0, minor = 0;
    std::uint64_t rate = 0;
};

struct LinuxResources {
    struct Memory {
        // bytes; -1 is unlimited. swap is memory+swap, as the runtime spec defines it.
        std::optional<std::int64_t> limit, reservation, swap, kernel_tcp;
        std::optional<std::uint64_t> swappiness;
        std::optional<bool> disable_oom_killer;
    } memory;
    struct Cpu {
        std::optional<std::uint64_t> shares, period, realtime_period;
        std::optional<std::int64_t> quota, realtime_runtime;
        std::string cpus, mems; // cpuset lists: "0-3,5"; "" = not set
    } cpu;
    std::optional<std::int64_t> pids_limit; // <= 0 is unlimited
    struct BlockIo {
        std::optional<std::uint16_t> weight, leaf_weight;
        std::vector<BlockDeviceWeight> weight_device;
        std::vector<BlockDeviceRate> read_bps, write_bps, read_iops, write_iops;
        bool empty() const;
    } block_io;
    std::vector<std::pair<std::string, std::uint64_t>> hugepage_limits; // page size ("2MB"), bytes
    std::vector<DeviceRule> devices;
    std::map<std::string, std::string> unified; // cgroup v2 file -> value

    // Throws Error(invalid) naming the field (WHERE.memory.limit ...) for a value of the wrong
    // type or range, or a field gantry does not apply.
    static LinuxResources from_json(const nlohmann::json& j,
                                    const std::string& where = "linux.resources");
    // The runtime spec's form, every field that is set (from_json reads it back unchanged).
    nlohmann::json to_json() const;
    // The fields OTHER sets replace this one's (runc's `update`): scalars that are set,
    // lists and maps that are not empty.
    void merge(const LinuxResources& other);
    bool limits_anything() const; // any field but the device rules
};

} // namespace gantry::oci
