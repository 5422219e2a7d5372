// GET /containers/{id}/stats: docker's StatsJSON of a running container, read from its cgroup
// v2 interface files when it has a cgroup of its own (a run with --memory, --cpus or
// --pids-limit: gantry-ID), else summed over its processes in /proc (the cgroup it shares
// would count others' too), with its memory from cgroup v1's controller where a --memory run
// has one (a v1 or hybrid host). One sample (stream=false: precpu_stats is a read 100 ms before,
// with its time in preread; one-shot=true: none) or one a second (stream=true) until the
// container ends or the client hangs up.
#include "engine_api/api.hpp"
#include "runtime/state.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <dirent.h>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>
#include <unistd.h>

namespace gantry::engine_api {

namespace {

struct ApiStSample {
    std::string read = "0001-01-01T00:00:00Z";
    std::uint64_t cpu_total = 0, cpu_user = 0, cpu_kernel = 0, system = 0;
    std::uint64_t periods = 0, throttled_periods = 0, throttled_time = 0;
    unsigned online = 0;
    std::uint64_t mem_usage = 0, mem_limit = 0, pids = 0, pids_limit = 0;
    json mem_stats = json::object();
    json blkio = nullptr;
    bool valid = false;
};

std::string api_st_read(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::uint64_t api_st_num(const std::string& text) {
    try {
        return text.empty() || text.rfind("max", 0) == 0 ? 0 : std::stoull(text);
    } catch (const std::exception&) {
        return 0;
    }
}

// "key value" lines (cpu.stat, memory.stat)
std::map<std::string, std::uint64_t> api_st_keyed(const std::string& text) {
    std::map<std::string, std::uint64_t> m;
    std::istringstream in(text);
    std::string k;
    std::uint64_t v;
    while (in >> k >> v) m[k] = v;
    return m;
}

std::string api_st_now() {
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
std::uint64_t api_st_system(unsigned& online) {
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

std::uint64_t api_st_meminfo_total() {
    std::ifstream in("/proc/meminfo");
    std::string k;
    std::uint64_t v;
    std::string unit;
    while (in >> k >> v >> unit)
        if (k == "MemTotal:") return v * 1024;
    return 0;
}

// the container's own cgroup v2 directory, or "" (none of its own)
std::string api_st_cgroup(const runtime::ContainerState& s) {
    std::ifstream in("/proc/" + std::to_string(s.pid) + "/cgroup");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("0::", 0) != 0) continue;
        std::string rel = line.substr(3);
        std::string dir = "/sys/fs/cgroup" + rel;
        // gantry's cgroup, or below it (the workload's init may make a leaf)
        if (rel.find("/gantry-" + s.id) != std::string::npos &&
            fs::stdfs::exists(dir + "/cgroup.controllers"))
            return dir.substr(0, dir.find("/gantry-" + s.id) + 8 + s.id.size());
    }
    return "";
}

void api_st_from_cgroup(const std::string& dir, ApiStSample& x) {
    auto cpu = api_st_keyed(api_st_read(dir + "/cpu.stat"));
    x.cpu_total = cpu["usage_usec"] * 1000;
    x.cpu_user = cpu["user_usec"] * 1000;
    x.cpu_kernel = cpu["system_usec"] * 1000;
    x.periods = cpu["nr_periods"];
    x.throttled_periods = cpu["nr_throttled"];
    x.throttled_time = cpu["throttled_usec"] * 1000;
    x.mem_usage = api_st_num(api_st_read(dir + "/memory.current"));
    x.mem_limit = api_st_num(api_st_read(dir + "/memory.max"));
    for (auto& [k, v] : api_st_keyed(api_st_read(dir + "/memory.stat"))) x.mem_stats[k] = v;
    x.pids = api_st_num(api_st_read(dir + "/pids.current"));
    x.pids_limit = api_st_num(api_st_read(dir + "/pids.max"));
    // io.stat: "MAJ:MIN rbytes=N wbytes=N rios=N wios=N ..."
    std::istringstream io(api_st_read(dir + "/io.stat"));
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
                                 {"value", api_st_num(kv.substr(eq + 1))}});
        }
    }
    x.blkio = bytes.empty() ? json(nullptr) : bytes;
}

// the container's processes: its workload and every descendant (/proc's parent links)
std::set<pid_t> api_st_tree(pid_t root) {
    std::map<pid_t, std::vector<pid_t>> kids;
    if (DIR* d = ::opendir("/proc")) {
        while (auto* e = ::readdir(d)) {
            char* end = nullptr;
            long pid = std::strtol(e->d_name, &end, 10);
            if (*end || pid <= 0) continue;
            std::string stat = api_st_read("/proc/" + std::string(e->d_name) + "/stat");
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

void api_st_from_proc(const runtime::ContainerState& s, ApiStSample& x) {
    const auto tick = 1000000000ULL / static_cast<std::uint64_t>(::sysconf(_SC_CLK_TCK));
    const auto page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
    for (pid_t p : api_st_tree(s.pid)) {
        std::string stat = api_st_read("/proc/" + std::to_string(p) + "/stat");
        auto close = stat.rfind(')');
        if (close == std::string::npos) continue;
        std::istringstream f(stat.substr(close + 2));
        std::vector<std::string> w;
        for (std::string t; f >> t;) w.push_back(t);
        if (w.size() < 15) continue;
        // fields from state (3rd): utime 14th, stime 15th, cutime 16th, cstime 17th
        std::uint64_t ut = api_st_num(w[11]), st = api_st_num(w[12]);
        std::uint64_t cut = api_st_num(w[13]), cst = api_st_num(w[14]);
        x.cpu_user += (ut + cut) * tick;
        x.cpu_kernel += (st + cst) * tick;
        std::istringstream statm(api_st_read("/proc/" + std::to_string(p) + "/statm"));
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
void api_st_memory_v1(const runtime::ContainerState& s, ApiStSample& x) {
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
        std::uint64_t limit = api_st_num(api_st_read(dir + "/memory.limit_in_bytes"));
        if (limit == 0 || limit >= (1ULL << 62)) return; // unlimited
        x.mem_limit = limit;
        x.mem_usage = api_st_num(api_st_read(dir + "/memory.usage_in_bytes"));
        x.mem_stats = json::object();
        for (auto& [k, v] : api_st_keyed(api_st_read(dir + "/memory.stat"))) x.mem_stats[k] = v;
        return;
    }
}

ApiStSample api_st_sample(const runtime::ContainerState& s) {
    ApiStSample x;
    if (!s.running()) return x;
    x.read = api_st_now();
    x.system = api_st_system(x.online);
    std::string dir = api_st_cgroup(s);
    if (!dir.empty())
        api_st_from_cgroup(dir, x);
    else {
        api_st_from_proc(s, x);
        api_st_memory_v1(s, x);
    }
    if (x.mem_limit == 0) x.mem_limit = api_st_meminfo_total(); // docker's: the host's memory
    x.valid = true;
    return x;
}

json api_st_cpu(const ApiStSample& x) {
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

json api_st_json(const runtime::ContainerState& s, const ApiStSample& now, const ApiStSample& pre) {
    json mem = json::object();
    if (now.valid)
        mem = {{"usage", now.mem_usage}, {"stats", now.mem_stats}, {"limit", now.mem_limit}};
    json pids = {{"current", now.pids}};
    if (now.pids_limit) pids["limit"] = now.pids_limit;
    return {{"read", now.read},
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
            {"cpu_stats", api_st_cpu(now)},
            {"precpu_stats", api_st_cpu(pre)},
            {"memory_stats", mem},
            {"name", "/" + s.name},
            {"id", s.id}};
}

// stream=true: a sample a second, each a JSON line, until the container ends or the client
// hangs up
class ApiStStream : public Stream {
  public:
    explicit ApiStStream(runtime::ContainerState s) : s_(std::move(s)) {}
    std::size_t read(char* buf, std::size_t max, const std::function<bool()>& gone) override {
        while (pos_ >= line_.size()) {
            if (!first_) {
                for (int i = 0; i < 10; ++i) {
                    if (gone()) return 0;
                    std::this_thread::sleep_for(std::chrono::milliseconds(100));
                }
            }
            if (!first_ && !s_.running()) return 0;
            first_ = false;
            ApiStSample now = api_st_sample(s_);
            line_ = api_st_json(s_, now, pre_).dump() + "\n";
            pos_ = 0;
            pre_ = now;
        }
        std::size_t n = std::min(max, line_.size() - pos_);
        std::memcpy(buf, line_.data() + pos_, n);
        pos_ += n;
        return n;
    }

  private:
    runtime::ContainerState s_;
    ApiStSample pre_;
    std::string line_;
    std::size_t pos_ = 0;
    bool first_ = true;
};

} // namespace

Response handle_stats(const ServiceContext&, const Request& r) {
    runtime::StateDir states;
    const std::string& name = r.route.params.at("id");
    auto found = states.find(name);
    if (!found) return error_response(404, "No such container: " + name);
    const auto& s = *found;
    bool stream = r.arg("stream").empty() || query_bool(r.arg("stream"));
    if (stream) {
        Response res;
        res.stream = std::make_unique<ApiStStream>(s);
        return res;
    }
    ApiStSample pre;
    if (!query_bool(r.arg("one-shot")) && s.running()) {
        pre = api_st_sample(s);
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return json_response(200, api_st_json(s, api_st_sample(s), pre));
}

} // namespace gantry::engine_api
