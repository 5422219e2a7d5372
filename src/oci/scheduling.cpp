#include "oci/scheduling.hpp"

#include "util/error.hpp"

#include <algorithm>
#include <limits>
#include <utility>

namespace gantry::oci {

namespace {

using nlohmann::json;

struct SchedName {
    const char* name;
    std::uint64_t number;
};

// sched(7)'s policies, sched_setattr(2)'s flags (linux/sched.h), ioprio_set(2)'s classes and
// set_mempolicy(2)'s modes and flags (linux/mempolicy.h), by the names runtime-spec gives them
constexpr SchedName kSchedPolicies[] = {{"SCHED_OTHER", 0}, {"SCHED_FIFO", 1},
                                        {"SCHED_RR", 2},    {"SCHED_BATCH", 3},
                                        {"SCHED_IDLE", 5},  {"SCHED_DEADLINE", 6}};
constexpr SchedName kSchedFlags[] = {
    {"SCHED_FLAG_RESET_ON_FORK", 0x01}, {"SCHED_FLAG_RECLAIM", 0x02},
    {"SCHED_FLAG_DL_OVERRUN", 0x04},    {"SCHED_FLAG_KEEP_POLICY", 0x08},
    {"SCHED_FLAG_KEEP_PARAMS", 0x10},   {"SCHED_FLAG_UTIL_CLAMP_MIN", 0x20},
    {"SCHED_FLAG_UTIL_CLAMP_MAX", 0x40}};
constexpr SchedName kIoClasses[] = {
    {"IOPRIO_CLASS_RT", 1}, {"IOPRIO_CLASS_BE", 2}, {"IOPRIO_CLASS_IDLE", 3}};
constexpr SchedName kMpolModes[] = {{"MPOL_DEFAULT", 0},
                                    {"MPOL_PREFERRED", 1},
                                    {"MPOL_BIND", 2},
                                    {"MPOL_INTERLEAVE", 3},
                                    {"MPOL_LOCAL", 4},
                                    {"MPOL_PREFERRED_MANY", 5},
                                    {"MPOL_WEIGHTED_INTERLEAVE", 6}};
constexpr SchedName kMpolFlags[] = {{"MPOL_F_NUMA_BALANCING", 1 << 13},
                                    {"MPOL_F_RELATIVE_NODES", 1 << 14},
                                    {"MPOL_F_STATIC_NODES", 1 << 15}};

template <std::size_t N>
std::string sched_name_list(const SchedName (&names)[N]) {
    std::string out;
    for (auto& n : names) out += (out.empty() ? "" : ", ") + std::string(n.name);
    return out;
}

template <std::size_t N>
std::uint64_t sched_lookup(const SchedName (&names)[N], const json& v, const std::string& field) {
    if (v.is_string())
        for (auto& n : names)
            if (v.get<std::string>() == n.name) return n.number;
    throw Error(Errc::invalid,
                "invalid runtime spec: " + field + " is " + v.dump(256).substr(0, 64) +
                    ", not a name Linux defines",
                "one of " + sched_name_list(names));
}

// A whole number within [LO, HI] (JSON integers only, as runc's Go decoder reads them).
std::int64_t sched_int(const json& v, const std::string& field, std::int64_t lo, std::int64_t hi) {
    if (v.is_number_integer()) {
        bool fits = v.is_number_unsigned() ? std::cmp_less_equal(v.get<std::uint64_t>(), hi) : true;
        if (fits) {
            std::int64_t i = v.is_number_unsigned()
                                 ? static_cast<std::int64_t>(v.get<std::uint64_t>())
                                 : v.get<std::int64_t>();
            if (i >= lo && i <= hi) return i;
        }
    }
    throw Error(Errc::invalid,
                "invalid runtime spec: " + field + " is " + v.dump(256).substr(0, 64) +
                    ", not a whole number from " + std::to_string(lo) + " to " + std::to_string(hi),
                "write " + field + " in that range");
}

std::uint64_t sched_u64(const json& v, const std::string& field) {
    if (v.is_number_unsigned()) return v.get<std::uint64_t>();
    if (v.is_number_integer() && v.get<std::int64_t>() >= 0)
        return static_cast<std::uint64_t>(v.get<std::int64_t>());
    throw Error(Errc::invalid,
                "invalid runtime spec: " + field + " is " + v.dump(256).substr(0, 64) +
                    ", not a whole number of nanoseconds",
                "write " + field + " as a non-negative integer");
}

const json& sched_object(const json& j, const std::string& field) {
    if (!j.is_object())
        throw Error(Errc::invalid, "invalid runtime spec: " + field + " is not an object",
                    "see runtime-spec 1.2's config.md for its fields");
    return j;
}

const json& sched_required(const json& j, const char* key, const std::string& field) {
    if (!j.contains(key))
        throw Error(Errc::invalid, "invalid runtime spec: " + field + "." + key + " is missing",
                    field + " must name its " + key);
    return j[key];
}

template <std::size_t N>
std::pair<std::vector<std::string>, std::uint64_t>
sched_flag_list(const SchedName (&names)[N], const json& j, const std::string& field) {
    std::vector<std::string> out;
    std::uint64_t bits = 0;
    if (!j.contains("flags")) return {out, bits};
    const json& a = j["flags"];
    if (!a.is_array())
        throw Error(Errc::invalid, "invalid runtime spec: " + field + ".flags is not an array",
                    "write it as a list of names: " + sched_name_list(names));
    for (std::size_t i = 0; i < a.size(); ++i) {
        bits |= sched_lookup(names, a[i], field + ".flags[" + std::to_string(i) + "]");
        out.push_back(a[i].get<std::string>());
    }
    return {out, bits};
}

std::string sched_name_of(const json& v) {
    return v.get<std::string>();
}

} // namespace

std::string parse_personality(const json& j) {
    const std::string f = "linux.personality";
    sched_object(j, f);
    for (const auto& [key, v] : j.items())
        if (key != "domain" && key != "flags")
            throw Error(Errc::invalid, "invalid runtime spec: " + f + "." + key + " is not a field",
                        f + " has domain and flags");
    const json& d = sched_required(j, "domain", f);
    if (!d.is_string() || (d.get<std::string>() != "LINUX" && d.get<std::string>() != "LINUX32"))
        throw Error(Errc::invalid, f + ".domain " + d.dump() + " is not a domain",
                    "LINUX or LINUX32 (runtime-spec 1.2's two)");
    if (j.contains("flags") && !j["flags"].is_null() && !j["flags"].empty())
        throw Error(Errc::invalid,
                    f + ".flags is not supported by gantry: runtime-spec defines no flag",
                    "remove the flags");
    return d.get<std::string>();
}

Scheduler parse_scheduler(const json& j) {
    const std::string f = "process.scheduler";
    sched_object(j, f);
    Scheduler s;
    const json& policy = sched_required(j, "policy", f);
    if (policy.is_string() && policy.get<std::string>() == "SCHED_ISO")
        throw Error(Errc::invalid, f + ".policy SCHED_ISO is not a policy Linux implements",
                    "one of " + sched_name_list(kSchedPolicies));
    s.policy_number =
        static_cast<std::uint32_t>(sched_lookup(kSchedPolicies, policy, f + ".policy"));
    s.policy = sched_name_of(policy);
    if (j.contains("nice"))
        s.nice = static_cast<std::int32_t>(sched_int(j["nice"], f + ".nice", -20, 19));
    const bool realtime = s.policy == "SCHED_FIFO" || s.policy == "SCHED_RR";
    if (j.contains("priority"))
        s.priority = static_cast<std::int32_t>(sched_int(j["priority"], f + ".priority",
                                                         std::numeric_limits<std::int32_t>::min(),
                                                         std::numeric_limits<std::int32_t>::max()));
    if (realtime && (s.priority < 1 || s.priority > 99))
        throw Error(Errc::invalid,
                    f + ".priority " + std::to_string(s.priority) + " is not a " + s.policy +
                        " priority",
                    s.policy + " takes a static priority from 1 to 99 (sched(7))");
    if (!realtime && s.priority != 0)
        throw Error(Errc::invalid, f + ".priority is only for SCHED_FIFO and SCHED_RR",
                    "remove it, or set it to 0, for " + s.policy);
    std::tie(s.flags, s.flag_bits) = sched_flag_list(kSchedFlags, j, f);
    for (auto [key, out] : {std::pair{"runtime", &s.runtime}, std::pair{"deadline", &s.deadline},
                            std::pair{"period", &s.period}})
        if (j.contains(key)) *out = sched_u64(j[key], f + "." + key);
    if (s.policy != "SCHED_DEADLINE" && (s.runtime || s.deadline || s.period))
        throw Error(Errc::invalid, f + ".runtime, deadline and period are only for SCHED_DEADLINE",
                    "remove them for " + s.policy);
    return s;
}

IoPriority parse_io_priority(const json& j) {
    const std::string f = "process.ioPriority";
    sched_object(j, f);
    IoPriority p;
    const json& c = sched_required(j, "class", f);
    p.class_number = static_cast<int>(sched_lookup(kIoClasses, c, f + ".class"));
    p.io_class = sched_name_of(c);
    // IOPRIO_CLASS_IDLE has no levels (the kernel ignores the data): its priority may be left
    // out, as runc 1.2's and crun's zero value; RT and BE need it.
    if (p.io_class == "IOPRIO_CLASS_IDLE" && !j.contains("priority")) return p;
    p.priority =
        static_cast<int>(sched_int(sched_required(j, "priority", f), f + ".priority", 0, 7));
    return p;
}

std::vector<unsigned long> parse_node_list(std::string_view nodes, const std::string& field) {
    constexpr unsigned kBits = std::numeric_limits<unsigned long>::digits;
    std::vector<unsigned long> mask;
    auto bad = [&](const std::string& why) -> Error {
        std::string shown(nodes.substr(0, 64));
        return Error(Errc::invalid, "invalid runtime spec: " + field + " \"" + shown + "\" " + why,
                     "write node numbers and ranges from 0 to " + std::to_string(kMaxNumaNode) +
                         " separated by commas, e.g. \"0-3,7\"");
    };
    auto number = [&](std::size_t& at) {
        std::size_t start = at;
        unsigned v = 0;
        while (at < nodes.size() && nodes[at] >= '0' && nodes[at] <= '9') {
            v = v * 10 + static_cast<unsigned>(nodes[at] - '0');
            if (v > kMaxNumaNode)
                throw bad("names a node above " + std::to_string(kMaxNumaNode) + " (Linux's most)");
            ++at;
        }
        if (at == start)
            throw bad("has something other than a node number at offset " + std::to_string(start));
        return v;
    };
    if (nodes.empty()) return mask;
    std::size_t at = 0;
    for (;;) {
        unsigned lo = number(at), hi = lo;
        if (at < nodes.size() && nodes[at] == '-') {
            ++at;
            hi = number(at);
            if (hi < lo) throw bad("has a range whose end is below its start");
        }
        if (mask.size() < hi / kBits + 1) mask.resize(hi / kBits + 1, 0);
        for (unsigned n = lo; n <= hi; ++n) mask[n / kBits] |= 1ul << (n % kBits);
        if (at == nodes.size()) break;
        if (nodes[at] != ',') throw bad("has '" + std::string(1, nodes[at]) + "' where a ',' goes");
        ++at;
    }
    return mask;
}

MemoryPolicy parse_memory_policy(const json& j) {
    const std::string f = "linux.memoryPolicy";
    sched_object(j, f);
    MemoryPolicy m;
    const json& mode = sched_required(j, "mode", f);
    m.mode_number = static_cast<int>(sched_lookup(kMpolModes, mode, f + ".mode"));
    m.mode = sched_name_of(mode);
    if (j.contains("nodes")) {
        if (!j["nodes"].is_string())
            throw Error(Errc::invalid, "invalid runtime spec: " + f + ".nodes is not a string",
                        "write the node list as a string, e.g. \"0-3,7\"");
        m.nodes = j["nodes"].get<std::string>();
        m.node_mask = parse_node_list(m.nodes, f + ".nodes");
    }
    std::uint64_t bits;
    std::tie(m.flags, bits) = sched_flag_list(kMpolFlags, j, f);
    m.flag_bits = static_cast<int>(bits);
    const bool any = std::ranges::any_of(m.node_mask, [](unsigned long w) { return w != 0; });
    if ((m.mode == "MPOL_DEFAULT" || m.mode == "MPOL_LOCAL") && any)
        throw Error(Errc::invalid, f + ".nodes must be empty for " + m.mode,
                    "remove the nodes, or choose a mode that takes them (MPOL_BIND, ...)");
    if ((m.mode == "MPOL_BIND" || m.mode == "MPOL_INTERLEAVE" || m.mode == "MPOL_PREFERRED_MANY" ||
         m.mode == "MPOL_WEIGHTED_INTERLEAVE") &&
        !any)
        throw Error(Errc::invalid, f + ".nodes is empty: " + m.mode + " needs at least one node",
                    "name the nodes, e.g. \"0\" (/sys/devices/system/node/online lists them)");
    if ((m.flag_bits & (1 << 14)) && (m.flag_bits & (1 << 15)))
        throw Error(Errc::invalid,
                    f + ".flags: MPOL_F_STATIC_NODES and MPOL_F_RELATIVE_NODES exclude each other",
                    "keep one of them");
    return m;
}

json to_json(const Scheduler& s) {
    json j{{"policy", s.policy}};
    if (s.nice) j["nice"] = s.nice;
    if (s.priority) j["priority"] = s.priority;
    if (!s.flags.empty()) j["flags"] = s.flags;
    if (s.runtime) j["runtime"] = s.runtime;
    if (s.deadline) j["deadline"] = s.deadline;
    if (s.period) j["period"] = s.period;
    return j;
}

json to_json(const IoPriority& p) {
    return json{{"class", p.io_class}, {"priority", p.priority}};
}

json to_json(const MemoryPolicy& m) {
    json j{{"mode", m.mode}};
    if (!m.nodes.empty()) j["nodes"] = m.nodes;
    if (!m.flags.empty()) j["flags"] = m.flags;
    return j;
}

const std::vector<std::string>& memory_policy_modes() {
    static const std::vector<std::string> v = [] {
        std::vector<std::string> out;
        for (auto& n : kMpolModes) out.push_back(n.name);
        return out;
    }();
    return v;
}

const std::vector<std::string>& memory_policy_flags() {
    static const std::vector<std::string> v = {"MPOL_F_STATIC_NODES", "MPOL_F_RELATIVE_NODES",
                                               "MPOL_F_NUMA_BALANCING"};
    return v;
}

} // namespace gantry::oci
