// ContainerCgroup's readings: runc's `events --stats` data and the OOM kill count.
#include "runtime/container_cgroup.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/text.hpp"

#include <charconv>
#include <limits>
#include <unistd.h>

namespace gantry::runtime {

namespace {

std::string read_or_empty(const std::string& file) {
    try {
        return fs::read_file(file);
    } catch (const Error&) {
        return {};
    }
}

// A number file ("max" is the largest, as runc reads it); nullopt when missing.
std::optional<std::uint64_t> number(const std::string& file) {
    std::string t(text::trim(read_or_empty(file)));
    if (t.empty()) return std::nullopt;
    if (t == "max") return std::numeric_limits<std::uint64_t>::max();
    std::uint64_t v = 0;
    auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
    if (ec != std::errc()) return std::nullopt;
    return v;
}

// "key value" lines (memory.stat, cpu.stat, memory.events, memory.oom_control).
std::map<std::string, std::uint64_t> key_values(const std::string& file) {
    std::map<std::string, std::uint64_t> out;
    const std::string content = read_or_empty(file);
    for (std::string_view line : text::lines(content)) {
        auto w = text::words(line);
        if (w.size() != 2) continue;
        std::uint64_t v = 0;
        auto [p, ec] = std::from_chars(w[1].data(), w[1].data() + w[1].size(), v);
        if (ec == std::errc()) out[std::string(w[0])] = v;
    }
    return out;
}

void put(nlohmann::json& j, const char* key, const std::optional<std::uint64_t>& v) {
    if (v && *v != 0) j[key] = *v;
}

} // namespace

nlohmann::json ContainerCgroup::stats() const {
    using json = nlohmann::json;
    json cpu = json::object(), memory = json::object(), pids = json::object();
    const bool v1 = version_ == CgroupVersion::v1;
    const std::string mem = dir("memory"), pid = dir("pids");
    json usage = {{"kernel", 0}, {"user", 0}}, throttling = json::object();
    if (v1) {
        const std::string acct = dir("cpuacct");
        if (!acct.empty()) {
            put(usage, "total", number(acct + "/cpuacct.usage"));
            std::vector<std::uint64_t> per;
            const std::string percpu = read_or_empty(acct + "/cpuacct.usage_percpu");
            for (std::string_view w : text::words(percpu)) {
                std::uint64_t v = 0;
                std::from_chars(w.data(), w.data() + w.size(), v);
                per.push_back(v);
            }
            if (!per.empty()) usage["percpu"] = per;
            // cpuacct.stat counts USER_HZ ticks; runc reports nanoseconds
            const auto st = key_values(acct + "/cpuacct.stat");
            const std::uint64_t tick =
                1000000000ull / static_cast<std::uint64_t>(::sysconf(_SC_CLK_TCK));
            if (st.count("user")) usage["user"] = st.at("user") * tick;
            if (st.count("system")) usage["kernel"] = st.at("system") * tick;
        }
        const std::string c = dir("cpu");
        if (!c.empty()) {
            const auto st = key_values(c + "/cpu.stat");
            for (auto [from, to] : {std::pair{"nr_periods", "periods"},
                                    {"nr_throttled", "throttledPeriods"},
                                    {"throttled_time", "throttledTime"}})
                if (st.count(from) && st.at(from) != 0) throttling[to] = st.at(from);
        }
        if (!mem.empty()) {
            json u = {{"limit", number(mem + "/memory.limit_in_bytes").value_or(0)},
                      {"failcnt", number(mem + "/memory.failcnt").value_or(0)}};
            put(u, "usage", number(mem + "/memory.usage_in_bytes"));
            put(u, "max", number(mem + "/memory.max_usage_in_bytes"));
            memory["usage"] = u;
            json s = {{"limit", number(mem + "/memory.memsw.limit_in_bytes").value_or(0)},
                      {"failcnt", number(mem + "/memory.memsw.failcnt").value_or(0)}};
            put(s, "usage", number(mem + "/memory.memsw.usage_in_bytes"));
            put(s, "max", number(mem + "/memory.memsw.max_usage_in_bytes"));
            memory["swap"] = s;
            for (auto [key, prefix] :
                 {std::pair{"kernel", "/memory.kmem."}, {"kernelTCP", "/memory.kmem.tcp."}}) {
                const std::string f = mem + prefix;
                if (!number(f + "limit_in_bytes")) continue;
                json k = {{"limit", number(f + "limit_in_bytes").value_or(0)},
                          {"failcnt", number(f + "failcnt").value_or(0)}};
                put(k, "usage", number(f + "usage_in_bytes"));
                put(k, "max", number(f + "max_usage_in_bytes"));
                memory[key] = k;
            }
        }
    } else {
        const std::string d = dir("cpu");
        if (!d.empty()) {
            const auto st = key_values(d + "/cpu.stat");
            auto ns = [&](const char* k) { return st.count(k) ? st.at(k) * 1000 : 0; };
            if (ns("usage_usec") != 0) usage["total"] = ns("usage_usec");
            usage["user"] = ns("user_usec");
            usage["kernel"] = ns("system_usec");
            for (auto [from, to] :
                 {std::pair{"nr_periods", "periods"}, {"nr_throttled", "throttledPeriods"}})
                if (st.count(from) && st.at(from) != 0) throttling[to] = st.at(from);
            if (ns("throttled_usec") != 0) throttling["throttledTime"] = ns("throttled_usec");
        }
        if (!mem.empty()) {
            json u = {{"limit", number(mem + "/memory.max").value_or(0)},
                      {"failcnt", key_values(mem + "/memory.events")["max"]}};
            put(u, "usage", number(mem + "/memory.current"));
            put(u, "max", number(mem + "/memory.peak"));
            memory["usage"] = u;
            json s = {{"limit", number(mem + "/memory.swap.max").value_or(0)}, {"failcnt", 0}};
            put(s, "usage", number(mem + "/memory.swap.current"));
            memory["swap"] = s;
        }
    }
    cpu["usage"] = usage;
    if (!throttling.empty()) cpu["throttling"] = throttling;
    if (!mem.empty()) {
        auto raw = key_values(mem + "/memory.stat");
        if (!raw.empty()) memory["raw"] = raw;
        // runc leaves out a cache of 0 (omitempty)
        if (v1 && raw["total_cache"] != 0) memory["cache"] = raw["total_cache"];
        if (!v1 && raw["file"] != 0) memory["cache"] = raw["file"];
    }
    if (!pid.empty()) {
        put(pids, "current", number(pid + "/pids.current"));
        auto limit = number(pid + "/pids.max");
        if (limit && *limit != std::numeric_limits<std::uint64_t>::max()) pids["limit"] = *limit;
    }
    return {{"cpu", cpu},
            {"cpuset", json::object()},
            {"memory", memory},
            {"pids", pids},
            {"blkio", json::object()},
            {"hugetlb", json::object()},
            {"intel_rdt", json::object()},
            {"network_interfaces", nullptr}};
}

std::uint64_t ContainerCgroup::oom_kills() const {
    const std::string mem = dir("memory");
    if (mem.empty()) return 0;
    auto kv = key_values(
        mem + (version_ == CgroupVersion::v1 ? "/memory.oom_control" : "/memory.events"));
    return kv.count("oom_kill") ? kv["oom_kill"] : 0;
}

} // namespace gantry::runtime
