// docker's `stats` of gantry's containers. A sample of a running container's usage is read from
// its own cgroup v2 interface files when the run gave it one (--memory, --cpus or
// --pids-limit: gantry-ID), else summed over its processes in /proc (the cgroup it shares
// would count others' too), with its memory from cgroup v1's controller where a --memory run
// has one (a v1 or hybrid host). Two samples make docker's StatsJSON (the Engine API's GET
// /containers/{id}/stats), and from that JSON the row docker's CLI prints is computed as the
// CLI computes it (cli/command/container/stats_helpers.go): so `gantry stats` and `docker
// stats` through gantry's socket print the same figures.
#pragma once

#include "gotemplate/docker_format.hpp"
#include "records/state.hpp"

#include <cstdint>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace gantry::docker_model {

using json = nlohmann::json;

// One read of a container's usage. Times in nanoseconds.
struct StatsSample {
    std::string read = "0001-01-01T00:00:00Z"; // when (RFC 3339, nanoseconds); Go's zero time
    std::uint64_t cpu_total = 0, cpu_user = 0, cpu_kernel = 0;
    std::uint64_t system = 0; // the host's CPU time (/proc/stat), docker's system_cpu_usage
    std::uint64_t periods = 0, throttled_periods = 0, throttled_time = 0;
    unsigned online = 0;
    std::uint64_t mem_usage = 0, mem_limit = 0, pids = 0, pids_limit = 0;
    json mem_stats = json::object();
    json blkio = nullptr; // io_service_bytes_recursive: [{major, minor, op, value}] or null
    json gpu_memory = json::array(); // dmem's regions (gpu_memory.hpp); empty without
    bool valid = false;              // false: S was not running (every figure zero)
};

// A sample of S now (an invalid one when S is not running). A memory limit of none is the
// host's memory, as docker reports it.
StatsSample sample_stats(const records::ContainerState& s);

// docker's StatsJSON of S: NOW, with PRE as precpu_stats (and preread); with dmem's limits,
// gantry's own field gantry_gpu_memory: [{region, usage, limit, reservation}] (bytes, or "max").
json stats_json(const records::ContainerState& s, const StatsSample& now, const StatsSample& pre);

// The row `stats --format` executes for a StatsJSON: .Container (CONTAINER, as the user named
// it), .Name, .ID (12 characters unless NO_TRUNC), .CPUPerc, .MemUsage, .MemPerc, .NetIO,
// .BlockIO, .PIDs, in docker's words ("12.34%", "1.5MiB / 64MiB", "0B / 0B"), and gantry's
// .GpuMemUsage (each dmem region's usage / limit, "1MiB / 8GiB", joined by ", "; "--" without
// one). GONE: the container went away while streamed: docker's "--" in every figure.
json stats_row(const json& stats, const std::string& container, bool no_trunc, bool gone = false);
// stats' --format: the rows' headers and docker's default table (gantry stats adds a GPU MEM
// USAGE / LIMIT column to it when a container listed has dmem limits).
const gotemplate::Listing& stats_listing();

// `gantry stats`: CONTAINERS as named (each must exist), or every running one (ALL: every
// one). One table after two samples 100 ms apart (STREAM false), or a table a second until
// interrupted (STREAM true), the screen cleared before each one when OUT is a terminal, and
// the running set read again each time when no container was named. FORMAT: docker's
// (empty: the default table).
struct StatsRequest {
    std::vector<std::string> containers;
    bool all = false, stream = true, no_trunc = false;
    std::string format;
};
void print_stats(const StatsRequest& request, std::FILE* out);

} // namespace gantry::docker_model
