// The runtime-spec 1.2 fields that place the container's process on the machine's schedulers:
// process.scheduler (sched_setattr(2)), process.ioPriority (ioprio_set(2)),
// linux.memoryPolicy (set_mempolicy(2)) and linux.personality (personality(2)). Owns their model,
// their parse from config.json with runc's checks (an unknown name or a value out of range is
// refused naming the field, as a config.json is untrusted input) and their JSON form;
// runtime/scheduling.cpp applies them.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gantry::oci {

// process.scheduler. POLICY and FLAGS keep the spec's names (to_json writes them back); the
// numbers are what sched_setattr takes.
struct Scheduler {
    std::string policy;              // "SCHED_OTHER", "SCHED_FIFO", ...
    std::uint32_t policy_number = 0; // SCHED_OTHER 0, FIFO 1, RR 2, BATCH 3, IDLE 5, DEADLINE 6
    std::int32_t nice = 0;
    std::int32_t priority = 0;
    std::vector<std::string> flags; // "SCHED_FLAG_RESET_ON_FORK", ...
    std::uint64_t flag_bits = 0;
    std::uint64_t runtime = 0, deadline = 0, period = 0; // SCHED_DEADLINE's, in nanoseconds
    bool operator==(const Scheduler&) const = default;
};

// process.ioPriority: CLASS is "IOPRIO_CLASS_RT", "IOPRIO_CLASS_BE" or "IOPRIO_CLASS_IDLE".
struct IoPriority {
    std::string io_class;
    int class_number = 0; // RT 1, BE 2, IDLE 3
    int priority = 0;     // 0 (highest) to 7
    bool operator==(const IoPriority&) const = default;
    int value() const { return class_number << 13 | priority; } // IOPRIO_PRIO_VALUE
};

// linux.memoryPolicy: NODES as written ("0-3,7"), NODE_MASK its bits (bit N: node N), in the
// unsigned longs set_mempolicy reads.
struct MemoryPolicy {
    std::string mode; // "MPOL_BIND", ...
    int mode_number = 0;
    std::string nodes;
    std::vector<unsigned long> node_mask;
    std::vector<std::string> flags; // "MPOL_F_STATIC_NODES", ...
    int flag_bits = 0;
    bool operator==(const MemoryPolicy&) const = default;
};

// The highest NUMA node number a node list may name: Linux's MAX_NUMNODES on x86_64 and arm64
// (CONFIG_NODES_SHIFT at most 10) is 1024.
inline constexpr unsigned kMaxNumaNode = 1023;

// Each parse throws Error(invalid) naming the field (process.scheduler.nice, ...) and the fix.
Scheduler parse_scheduler(const nlohmann::json& j);
IoPriority parse_io_priority(const nlohmann::json& j);
MemoryPolicy parse_memory_policy(const nlohmann::json& j);
// linux.personality (runc 1.2): the domain, "LINUX" or "LINUX32"; flags (runtime-spec defines
// none) refused.
std::string parse_personality(const nlohmann::json& j);
// A node list as cpuset and runc write it: comma-separated node numbers and ranges A-B (A <= B),
// decimal, no spaces, none above kMaxNumaNode. FIELD names it in the refusal. "" is no node.
std::vector<unsigned long> parse_node_list(std::string_view nodes, const std::string& field);

nlohmann::json to_json(const Scheduler& s);
nlohmann::json to_json(const IoPriority& p);
nlohmann::json to_json(const MemoryPolicy& m);

// The names gantry takes, in number order (`gantry oci features` lists the memory policy's).
const std::vector<std::string>& memory_policy_modes();
const std::vector<std::string>& memory_policy_flags();

} // namespace gantry::oci
