#include "docker_model/stats.hpp"

#include "docker_model/gpu_memory.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/text.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <dirent.h>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

namespace gantry::docker_model {

namespace {

std::string stats_read_file(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::uint64_t stats_number(const std::string& text) {
    try {
        return text.empty() || text.rfind("max", 0) == 0 ? 0 : std::stoull(text);
    } catch (const std::exception&) {
        return 0;
    }
}

// "key value" lines (cpu.stat, memory.stat)
std::map<std::string, std::uint64_t> stats_keyed(const std::string& text) {
    std::map<std::string, std::uint64_t> m;
    std::istringstream in(text);
    std::string k;
    std::uint64_t v;
    while (in >> k >> v) m[k] = v;
    return m;
}

std::string stats_now() {
    auto now = std::chrono::system_clock::now();
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count();
    std::time_t secs = static_cast<std::time_t>(ns / 1000000000);
    std::tm tm{};
    ::gmtime_r(&secs, &tm);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%09lldZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<long long>(ns % 1000000000));
    return buf;
}

// the host's CPU time in nanoseconds, as docker's system_cpu_usage (/proc/stat's cpu line)
std::uint64_t stats_host_cpu(unsigned& online) {
    std::ifstream in("/proc/stat");
    std::string line;
    std::uint64_t total = 0;
    online = 0;
    while (std::getline(in, line)) {
        if (line.rfind("cpu ", 0) == 0) {
            std::istringstream f(line.substr(4));
            std::uint64_t v;
            for (int i = 0; i < 7 && f >> v; ++i) total += v;
        } else if (line.rfind("cpu", 0) == 0) {
            ++online;
        }
    }
    return total * (1000000000ULL / static_cast<std::uint64_t>(::sysconf(_SC_CLK_TCK)));
}

std::uint64_t stats_host_memory() {
    std::ifstream in("/proc/meminfo");
    std::string k;
    std::uint64_t v;
    std::string unit;
    while (in >> k >> v >> unit)
        if (k == "MemTotal:") return v * 1024;
    return 0;
}

// the container's own cgroup v2 directory, or "" (none of its own)
std::string stats_own_cgroup(const records::ContainerState& s) {
    std::ifstream in("/proc/" + std::to_string(s.pid) + "/cgroup");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("0::", 0) != 0) continue;
        std::string rel = line.substr(3);
        std::string dir = "/sys/fs/cgroup" + rel;
        // gantry's cgroup, or below it (the workload's init may make a leaf); one with no
        // controller enabled (a detached container's for the freezer alone, for pause) has no
        // figures: its processes' are read instead
        if (rel.find("/gantry-" + s.id) == std::string::npos) continue;
        std::string own = dir.substr(0, dir.find("/gantry-" + s.id) + 8 + s.id.size());
        if (stats_read_file(own + "/cgroup.controllers").find_first_not_of(" \n") !=
            std::string::npos)
            return own;
    }
    return "";
}

void stats_from_cgroup(const std::string& dir, StatsSample& x) {
    auto cpu = stats_keyed(stats_read_file(dir + "/cpu.stat"));
    x.cpu_total = cpu["usage_usec"] * 1000;
    x.cpu_user = cpu["user_usec"] * 1000;
    x.cpu_kernel = cpu["system_usec"] * 1000;
    x.periods = cpu["nr_periods"];
    x.throttled_periods = cpu["nr_throttled"];
    x.throttled_time = cpu["throttled_usec"] * 1000;
    x.mem_usage = stats_number(stats_read_file(dir + "/memory.current"));
    x.mem_limit = stats_number(stats_read_file(dir + "/memory.max"));
    for (auto& [k, v] : stats_keyed(stats_read_file(dir + "/memory.stat"))) x.mem_stats[k] = v;
    x.pids = stats_number(stats_read_file(dir + "/pids.current"));
    x.pids_limit = stats_number(stats_read_file(dir + "/pids.max"));
    // io.stat: "MAJ:MIN rbytes=N wbytes=N rios=N wios=N ..."
    std::istringstream io(stats_read_file(dir + "/io.stat"));
    json bytes = json::array();
    std::string line;
    while (std::getline(io, line)) {
        std::istringstream f(line);
        std::string dev, kv;
        f >> dev;
        unsigned major = 0, minor = 0;
        if (std::sscanf(dev.c_str(), "%u:%u", &major, &minor) != 2) continue;
        while (f >> kv) {
            auto eq = kv.find('=');
            if (eq == std::string::npos) continue;
            std::string k = kv.substr(0, eq);
            const char* op = k == "rbytes" ? "read" : k == "wbytes" ? "write" : nullptr;
            if (op)
                bytes.push_back({{"major", major},
                                 {"minor", minor},
                                 {"op", op},
                                 {"value", stats_number(kv.substr(eq + 1))}});
        }
    }
    x.blkio = bytes.empty() ? json(nullptr) : bytes;
}

// the container's processes: its workload and every descendant (/proc's parent links)
std::set<pid_t> stats_process_tree(pid_t root) {
    std::map<pid_t, std::vector<pid_t>> kids;
    if (DIR* d = ::opendir("/proc")) {
        while (auto* e = ::readdir(d)) {
            char* end = nullptr;
            long pid = std::strtol(e->d_name, &end, 10);
            if (*end || pid <= 0) continue;
            std::string stat = stats_read_file("/proc/" + std::string(e->d_name) + "/stat");
            auto close = stat.rfind(')');
            if (close == std::string::npos) continue;
            std::istringstream f(stat.substr(close + 2));
            char state;
            long ppid;
            if (f >> state >> ppid)
                kids[static_cast<pid_t>(ppid)].push_back(static_cast<pid_t>(pid));
        }
        ::closedir(d);
    }
    std::set<pid_t> all;
    std::vector<pid_t> todo{root};
    while (!todo.empty()) {
        pid_t p = todo.back();
        todo.pop_back();
        if (!all.insert(p).second) continue;
        for (pid_t c : kids[p]) todo.push_back(c);
    }
    return all;
}

void stats_from_proc(const records::ContainerState& s, StatsSample& x) {
    const auto tick = 1000000000ULL / static_cast<std::uint64_t>(::sysconf(_SC_CLK_TCK));
    const auto page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
    for (pid_t p : stats_process_tree(s.pid)) {
        std::string stat = stats_read_file("/proc/" + std::to_string(p) + "/stat");
        auto close = stat.rfind(')');
        if (close == std::string::npos) continue;
        std::istringstream f(stat.substr(close + 2));
        std::vector<std::string> w;
        for (std::string t; f >> t;) w.push_back(t);
        if (w.size() < 15) continue;
        // fields from state (3rd): utime 14th, stime 15th, cutime 16th, cstime 17th
        std::uint64_t ut = stats_number(w[11]), st = stats_number(w[12]);
        std::uint64_t cut = stats_number(w[13]), cst = stats_number(w[14]);
        x.cpu_user += (ut + cut) * tick;
        x.cpu_kernel += (st + cst) * tick;
        std::istringstream statm(stats_read_file("/proc/" + std::to_string(p) + "/statm"));
        std::uint64_t size = 0, resident = 0;
        statm >> size >> resident;
        x.mem_usage += resident * page;
        ++x.pids;
    }
    x.cpu_total = x.cpu_user + x.cpu_kernel;
    x.mem_limit = 0;
}

// cgroup v1's memory controller (a v1 or hybrid host): the container's own memory cgroup's
// usage, limit and stat, when it has one (a run with --memory)
void stats_memory_v1(const records::ContainerState& s, StatsSample& x) {
    std::ifstream in("/proc/" + std::to_string(s.pid) + "/cgroup");
    std::string line;
    while (std::getline(in, line)) {
        auto a = line.find(':'), b = line.find(':', a + 1);
        if (a == std::string::npos || b == std::string::npos) continue;
        std::string ctrls = "," + line.substr(a + 1, b - a - 1) + ",";
        std::string rel = line.substr(b + 1);
        if (ctrls.find(",memory,") == std::string::npos) continue;
        if (rel.find("/gantry-" + s.id) == std::string::npos) return; // shared: not its own
        std::string dir = "/sys/fs/cgroup/memory" + rel;
        std::uint64_t limit = stats_number(stats_read_file(dir + "/memory.limit_in_bytes"));
        if (limit == 0 || limit >= (1ULL << 62)) return; // unlimited
        x.mem_limit = limit;
        x.mem_usage = stats_number(stats_read_file(dir + "/memory.usage_in_bytes"));
        x.mem_stats = json::object();
        for (auto& [k, v] : stats_keyed(stats_read_file(dir + "/memory.stat"))) x.mem_stats[k] = v;
        return;
    }
}

json stats_cpu_json(const StatsSample& x) {
    return {{"cpu_usage",
             {{"total_usage", x.cpu_total},
              {"usage_in_kernelmode", x.cpu_kernel},
              {"usage_in_usermode", x.cpu_user}}},
            {"system_cpu_usage", x.system},
            {"online_cpus", x.online},
            {"throttling_data",
             {{"periods", x.periods},
              {"throttled_periods", x.throttled_periods},
              {"throttled_time", x.throttled_time}}}};
}

// docker's networks: the interfaces of the container's own network namespace but lo, each with
// its counters, from /proc/PID/net/dev (which shows PID's namespace); none (the key left out,
// as docker's for a container on the host's network) when it shares this process's namespace
// or has no interface but lo
std::optional<json> stats_networks(const records::ContainerState& s) {
    const std::string proc = "/proc/" + std::to_string(s.pid);
    struct stat mine {
    }, theirs{};
    if (::stat("/proc/self/ns/net", &mine) != 0 ||
        ::stat((proc + "/ns/net").c_str(), &theirs) != 0 ||
        (mine.st_ino == theirs.st_ino && mine.st_dev == theirs.st_dev))
        return std::nullopt;
    std::istringstream dev(stats_read_file(proc + "/net/dev"));
    json out = json::object();
    for (std::string line; std::getline(dev, line);) {
        auto colon = line.find(':');
        if (colon == std::string::npos) continue; // the two header lines
        std::string name(text::trim(line.substr(0, colon)));
        if (name.empty() || name == "lo") continue;
        std::istringstream f(line.substr(colon + 1));
        std::vector<std::uint64_t> v;
        for (std::uint64_t n = 0; f >> n;) v.push_back(n);
        if (v.size() < 12) continue;
        // receive: bytes packets errs drop fifo frame compressed multicast; transmit: bytes
        // packets errs drop ...
        out[name] = {{"rx_bytes", v[0]},   {"rx_packets", v[1]}, {"rx_errors", v[2]},
                     {"rx_dropped", v[3]}, {"tx_bytes", v[8]},   {"tx_packets", v[9]},
                     {"tx_errors", v[10]}, {"tx_dropped", v[11]}};
    }
    if (out.empty()) return std::nullopt;
    return out;
}

} // namespace

StatsSample sample_stats(const records::ContainerState& s) {
    StatsSample x;
    if (!s.running()) return x;
    x.read = stats_now();
    x.system = stats_host_cpu(x.online);
    std::string dir = stats_own_cgroup(s);
    if (!dir.empty())
        stats_from_cgroup(dir, x);
    else {
        stats_from_proc(s, x);
        stats_memory_v1(s, x);
    }
    if (x.mem_limit == 0) x.mem_limit = stats_host_memory(); // docker's: the host's memory
    x.gpu_memory = gpu_memory(s, true);
    x.valid = true;
    return x;
}

json stats_json(const records::ContainerState& s, const StatsSample& now, const StatsSample& pre) {
    json mem = json::object();
    if (now.valid)
        mem = {{"usage", now.mem_usage}, {"stats", now.mem_stats}, {"limit", now.mem_limit}};
    json pids = {{"current", now.pids}};
    if (now.pids_limit) pids["limit"] = now.pids_limit;
    json out = {{"read", now.read},
                {"preread", pre.read},
                {"pids_stats", now.valid ? pids : json::object()},
                {"blkio_stats",
                 {{"io_service_bytes_recursive", now.blkio},
                  {"io_serviced_recursive", nullptr},
                  {"io_queue_recursive", nullptr},
                  {"io_service_time_recursive", nullptr},
                  {"io_wait_time_recursive", nullptr},
                  {"io_merged_recursive", nullptr},
                  {"io_time_recursive", nullptr},
                  {"sectors_recursive", nullptr}}},
                {"num_procs", 0},
                {"storage_stats", json::object()},
                {"cpu_stats", stats_cpu_json(now)},
                {"precpu_stats", stats_cpu_json(pre)},
                {"memory_stats", mem},
                {"name", "/" + s.name},
                {"id", s.id}};
    if (now.valid)
        if (auto networks = stats_networks(s)) out["networks"] = std::move(*networks);
    if (now.valid && !now.gpu_memory.empty()) {
        json& regions = out["gantry_gpu_memory"] = json::array();
        for (const auto& r : now.gpu_memory) {
            json one = {{"region", r["Region"]}, {"usage", r.value("Usage", json(0))}};
            if (r.contains("Limit")) one["limit"] = r["Limit"];
            if (r.contains("Reservation")) one["reservation"] = r["Reservation"];
            regions.push_back(std::move(one));
        }
    }
    return out;
}

namespace {

// go-units' CustomSize: SIZE divided by BASE while it reaches it (up to the last unit), then
// printed with Go's %.PRECISIONg and the unit ("1.5MiB", "64MiB", "0B")
std::string stats_size(double size, double base, const char* const* units, std::size_t n,
                       int precision) {
    std::size_t i = 0;
    while (size >= base && i + 1 < n) {
        size /= base;
        ++i;
    }
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*g%s", precision, size, units[i]);
    return buf;
}

// go-units' BytesSize (memory) and HumanSizeWithPrecision(.., 3) (network and block I/O)
std::string stats_binary(double size) {
    static constexpr const char* kUnits[] = {"B",   "KiB", "MiB", "GiB", "TiB",
                                             "PiB", "EiB", "ZiB", "YiB"};
    return stats_size(size, 1024.0, kUnits, std::size(kUnits), 4);
}
std::string stats_decimal(double size) {
    static constexpr const char* kUnits[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"};
    return stats_size(size, 1000.0, kUnits, std::size(kUnits), 3);
}

std::string stats_percent(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f%%", v);
    return buf;
}

double stats_figure(const json& j, std::initializer_list<const char*> path) {
    const json* at = &j;
    for (const char* key : path) {
        if (!at->is_object()) return 0;
        auto it = at->find(key);
        if (it == at->end()) return 0;
        at = &*it;
    }
    return at->is_number() ? at->get<double>() : 0;
}

// docker's calculateCPUPercentUnix: the container's share of the host's CPU time between the
// two samples, times the CPUs online
double stats_cpu_percent(const json& j) {
    double cpu = stats_figure(j, {"cpu_stats", "cpu_usage", "total_usage"}) -
                 stats_figure(j, {"precpu_stats", "cpu_usage", "total_usage"});
    double system = stats_figure(j, {"cpu_stats", "system_cpu_usage"}) -
                    stats_figure(j, {"precpu_stats", "system_cpu_usage"});
    double online = stats_figure(j, {"cpu_stats", "online_cpus"});
    return system > 0 && cpu > 0 ? cpu / system * online * 100.0 : 0.0;
}

// docker's calculateMemUsageUnixNoCache: the usage less the inactive file cache (v1's
// total_inactive_file, else v2's inactive_file) when that is below it
double stats_memory_used(const json& j) {
    double usage = stats_figure(j, {"memory_stats", "usage"});
    const json* st = nullptr;
    if (j.contains("memory_stats") && j["memory_stats"].is_object() &&
        j["memory_stats"].contains("stats"))
        st = &j["memory_stats"]["stats"];
    auto stat = [&](const char* key) -> std::optional<double> {
        if (!st || !st->is_object() || !st->contains(key) || !(*st)[key].is_number())
            return std::nullopt;
        return (*st)[key].get<double>();
    };
    if (auto v = stat("total_inactive_file"); v && *v < usage) return usage - *v;
    if (double v = stat("inactive_file").value_or(0); v < usage) return usage - v;
    return usage;
}

} // namespace

json stats_row(const json& j, const std::string& container, bool no_trunc, bool gone) {
    std::string id = j.value("id", std::string());
    std::string name = j.value("name", std::string());
    if (!name.empty() && name[0] == '/') name.erase(0, 1);
    json row = {{"Container", container}, {"Name", name}, {"ID", no_trunc ? id : id.substr(0, 12)}};
    if (gone) {
        for (const char* k : {"CPUPerc", "MemPerc", "NetIO", "BlockIO", "PIDs", "GpuMemUsage"})
            row[k] = "--";
        row["MemUsage"] = "-- / --";
        return row;
    }
    double used = stats_memory_used(j), limit = stats_figure(j, {"memory_stats", "limit"});
    double read = 0, written = 0;
    const json blk = j.contains("blkio_stats") && j["blkio_stats"].is_object()
                         ? j["blkio_stats"].value("io_service_bytes_recursive", json())
                         : json();
    if (blk.is_array())
        for (const auto& e : blk) {
            std::string op = e.value("op", std::string());
            for (auto& c : op) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            double v = e.value("value", 0.0);
            if (op == "read") read += v;
            if (op == "write") written += v;
        }
    double rx = 0, tx = 0; // a container on the host's network has none of its own to count
    if (j.contains("networks") && j["networks"].is_object())
        for (const auto& [_, n] : j["networks"].items()) {
            rx += n.value("rx_bytes", 0.0);
            tx += n.value("tx_bytes", 0.0);
        }
    row["CPUPerc"] = stats_percent(stats_cpu_percent(j));
    row["MemUsage"] = stats_binary(used) + " / " + stats_binary(limit);
    row["MemPerc"] = stats_percent(limit != 0 ? used / limit * 100.0 : 0.0);
    row["NetIO"] = stats_decimal(rx) + " / " + stats_decimal(tx);
    row["BlockIO"] = stats_decimal(read) + " / " + stats_decimal(written);
    row["PIDs"] =
        std::to_string(static_cast<std::uint64_t>(stats_figure(j, {"pids_stats", "current"})));
    std::string gpu; // each dmem region's usage against its limit
    for (const auto& r : j.value("gantry_gpu_memory", json::array())) {
        const json limit_of = r.value("limit", json("max"));
        gpu += (gpu.empty() ? "" : ", ") + stats_binary(r.value("usage", 0.0)) + " / " +
               (limit_of.is_number() ? stats_binary(limit_of.get<double>()) : "max");
    }
    row["GpuMemUsage"] = gpu.empty() ? "--" : gpu;
    return row;
}

const gotemplate::Listing& stats_listing() {
    static const gotemplate::Listing listing = [] {
        gotemplate::Listing l;
        l.data.what = "a container's usage (stats)";
        l.headers = {{"Container", "CONTAINER"},
                     {"Name", "NAME"},
                     {"ID", "CONTAINER ID"},
                     {"CPUPerc", "CPU %"},
                     {"MemUsage", "MEM USAGE / LIMIT"},
                     {"MemPerc", "MEM %"},
                     {"NetIO", "NET I/O"},
                     {"BlockIO", "BLOCK I/O"},
                     {"PIDs", "PIDS"},
                     {"GpuMemUsage", "GPU MEM USAGE / LIMIT"}};
        l.default_table = "{{.ID}}\\t{{.Name}}\\t{{.CPUPerc}}\\t{{.MemUsage}}\\t{{.MemPerc}}\\t"
                          "{{.NetIO}}\\t{{.BlockIO}}\\t{{.PIDs}}";
        return l;
    }();
    return listing;
}

namespace {

// A container stats lists: as the user named it (or its short ID), and its record, if any now
struct StatsTarget {
    std::string as_named;
    std::optional<records::ContainerState> state;
};

std::vector<StatsTarget> stats_targets(const records::StateDir& states, const StatsRequest& rq) {
    std::vector<StatsTarget> out;
    if (!rq.containers.empty()) {
        for (const auto& n : rq.containers) out.push_back({n, states.find(n)});
        return out;
    }
    for (auto& s : states.list())
        if (rq.all || s.running()) out.push_back({s.id.substr(0, 12), s});
    return out;
}

} // namespace

void print_stats(const StatsRequest& rq, std::FILE* out) {
    const auto format =
        gotemplate::Format::parse(rq.format.empty() ? "table" : rq.format, stats_listing());
    const auto with_gpu = gotemplate::Format::parse(
        "table " + stats_listing().default_table + "\\t{{.GpuMemUsage}}", stats_listing());
    records::StateDir states;
    for (const auto& n : rq.containers) (void)states.get(n); // each named one must exist
    const bool terminal = ::isatty(::fileno(out)) == 1;
    std::map<std::string, StatsSample> previous; // by container ID
    std::map<std::string, json> last;            // the last StatsJSON of each named container
    for (bool first = true;; first = false) {
        auto targets = stats_targets(states, rq);
        if (first) { // the samples CPU % is measured against
            for (auto& t : targets)
                if (t.state) previous[t.state->id] = sample_stats(*t.state);
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        std::vector<json> rows;
        std::map<std::string, StatsSample> now;
        for (auto& t : targets) {
            if (!t.state) { // a named container removed while streamed
                rows.push_back(stats_row(last[t.as_named], t.as_named, rq.no_trunc, true));
                continue;
            }
            const auto& s = *t.state;
            StatsSample sample = sample_stats(s);
            json j = stats_json(s, sample, previous[s.id]);
            rows.push_back(stats_row(j, t.as_named, rq.no_trunc));
            last[t.as_named] = std::move(j);
            now[s.id] = std::move(sample);
        }
        previous = std::move(now);
        if (terminal && rq.stream) std::fputs("\033[2J\033[H", out); // docker's: clear, home
        const bool gpu = rq.format.empty() && std::ranges::any_of(rows, [](const json& r) {
                             return r.value("GpuMemUsage", "--") != "--";
                         });
        std::string text = gpu ? with_gpu.render(rows) : format.render(rows);
        std::fwrite(text.data(), 1, text.size(), out);
        std::fflush(out);
        if (!rq.stream) return;
        std::this_thread::sleep_for(std::chrono::seconds(1));
    }
}
} // namespace gantry::docker_model
