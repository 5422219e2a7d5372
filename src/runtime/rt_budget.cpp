// The realtime CPU budget of cgroup v1's cpu hierarchy (runtime/rt_budget.hpp).
#include "runtime/rt_budget.hpp"

#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"
#include "util/text.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <limits>
#include <unistd.h>
#include <utility>
#include <vector>

namespace gantry::runtime {

namespace {

constexpr unsigned kShift = 20; // the kernel's BW_SHIFT
constexpr const char* kRuntime = "cpu.rt_runtime_us";
constexpr const char* kPeriod = "cpu.rt_period_us";

// a cgroup's cpu.rt_runtime_us or cpu.rt_period_us; Error(run_failed) when unreadable
std::int64_t rt_read(const std::string& dir, const char* file, const std::string& flags) {
    const std::string path = dir + "/" + file;
    std::string text;
    try {
        text = fs::read_file(path);
    } catch (const Error& e) {
        throw Error(Errc::run_failed, "cannot apply " + flags + ": " + e.message());
    }
    std::string_view v = text::trim(text);
    std::int64_t n = 0;
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (v.empty() || ec != std::errc() || end != v.data() + v.size())
        throw Error(Errc::run_failed, "cannot apply " + flags + ": " + path + " holds \"" +
                                          std::string(v) + "\", not a number of microseconds");
    return n;
}

std::uint64_t share_of(const std::string& dir, const std::string& flags) {
    return realtime_share(rt_read(dir, kPeriod, flags), rt_read(dir, kRuntime, flags));
}

// what DIR's child cgroups hold together, SKIP's left out (it is being sized)
std::uint64_t children_share(const std::string& dir, const std::string& skip,
                             const std::string& flags) {
    std::uint64_t sum = 0;
    DIR* d = ::opendir(dir.c_str());
    if (!d)
        throw Error(Errc::run_failed,
                    "cannot apply " + flags + ": cannot list " + dir + ": " + std::strerror(errno));
    std::vector<std::string> children;
    while (const dirent* e = ::readdir(d))
        if (e->d_type == DT_DIR && e->d_name[0] != '.' && e->d_name != skip)
            children.emplace_back(e->d_name);
    ::closedir(d);
    for (const auto& c : children) {
        const std::uint64_t s = share_of(dir + "/" + c, flags);
        sum = s > std::numeric_limits<std::uint64_t>::max() - sum
                  ? std::numeric_limits<std::uint64_t>::max()
                  : sum + s;
    }
    return sum;
}

std::string parent_of(const std::string& dir) {
    auto slash = dir.find_last_of('/');
    return slash == std::string::npos || slash == 0 ? "/" : dir.substr(0, slash);
}

std::string base_of(const std::string& dir) {
    return dir.substr(dir.find_last_of('/') + 1);
}

// SHARE of PERIOD microseconds, shifted back (ROUND added first: 0 rounds down); saturated
std::int64_t us_of_share(std::uint64_t share, std::int64_t period, std::uint64_t round) {
    std::uint64_t product = 0;
    if (__builtin_mul_overflow(share, static_cast<std::uint64_t>(period), &product) ||
        product > std::numeric_limits<std::uint64_t>::max() - round)
        return std::numeric_limits<std::int64_t>::max();
    return static_cast<std::int64_t>((product + round) >> kShift);
}

// microseconds of every PERIOD that SHARE is, to the nearest (for messages)
std::int64_t us_of(std::uint64_t share, std::int64_t period) {
    return us_of_share(share, period, std::uint64_t{1} << (kShift - 1));
}

} // namespace

std::uint64_t realtime_share(std::int64_t period, std::int64_t runtime) {
    if (runtime < 0) return std::numeric_limits<std::uint64_t>::max(); // RUNTIME_INF
    if (period <= 0) return 0;
    return (static_cast<std::uint64_t>(runtime) << kShift) / static_cast<std::uint64_t>(period);
}

std::string realtime_hierarchy(const std::string& flags, const CgroupProbe& probe) {
    const std::string refused = flags + " cannot be applied: ";
    const std::string where_v1 = "a cgroup v1 host (boot with systemd.unified_cgroup_hierarchy=0)";
    std::string cpu_v1;
    bool v2 = false;
    for (const auto& m : detail::cgroup_mounts(probe.mountinfo)) {
        if (m.fstype == "cgroup2" && m.root == "/") v2 = true;
        if (m.fstype == "cgroup" && cpu_v1.empty() &&
            std::ranges::find(m.super_options, "cpu") != m.super_options.end())
            cpu_v1 = m.mountpoint;
    }
    if (cpu_v1.empty() && v2)
        throw Error(Errc::usage,
                    refused +
                        "the cpu controller is on cgroup v2, which has no realtime CPU budget "
                        "(docker refuses it there too)",
                    "run without " + flags + ", or on " + where_v1);
    if (cpu_v1.empty())
        throw Error(Errc::usage, refused + "no cgroup v1 cpu hierarchy is mounted",
                    "mount the cpu controller's hierarchy at /sys/fs/cgroup/cpu, or run without " +
                        flags);
    if (!detail::path_exists(cpu_v1 + "/" + kRuntime))
        throw Error(Errc::usage,
                    refused + "the kernel has no realtime group scheduling (no " + cpu_v1 + "/" +
                        kRuntime + ": CONFIG_RT_GROUP_SCHED is off)",
                    "use a kernel built with CONFIG_RT_GROUP_SCHED, or run without " + flags);
    return cpu_v1;
}

void make_realtime_room(const std::string& top, const std::string& parent, const std::string& name,
                        std::int64_t period, std::int64_t runtime, const std::string& flags) {
    if (period == 0) period = rt_read(top, kPeriod, flags); // a new cgroup's: the host's
    if (runtime > period)
        throw Error(Errc::usage,
                    "--cpu-rt-runtime (" + std::to_string(runtime) + ") is above the period (" +
                        std::to_string(period) + " us)",
                    "give --cpu-rt-runtime at most the period's microseconds (--cpu-rt-period)");
    std::uint64_t need = realtime_share(period, runtime); // what the cgroup below must hold
    std::string skip = name;
    std::vector<std::pair<std::string, std::int64_t>> raises; // bottom up
    for (std::string dir = parent;; dir = parent_of(dir)) {
        const std::uint64_t own = share_of(dir, flags);
        const std::uint64_t used = children_share(dir, skip, flags);
        if (used <= own && need <= own - used) break; // room enough (an unlimited one has)
        if (dir == top || dir.size() <= top.size()) {
            const std::int64_t top_period = rt_read(top, kPeriod, flags);
            throw Error(Errc::run_failed,
                        "cannot apply " + flags + ": the realtime CPU budget of " + top + " (" +
                            std::to_string(rt_read(top, kRuntime, flags)) + " us of every " +
                            std::to_string(top_period) + ", kernel.sched_rt_runtime_us) has " +
                            std::to_string(used < own ? us_of(own - used, top_period) : 0) +
                            " us left beside what its cgroups hold, and the container asks for " +
                            std::to_string(runtime) + " us of every " + std::to_string(period) +
                            (raises.empty() ? "" : " beside what the cgroups above it hold"),
                        "ask for less (--cpu-rt-runtime), free what other cgroups hold (their " +
                            std::string(kRuntime) + "), or raise kernel.sched_rt_runtime_us");
        }
        const std::int64_t dir_period = rt_read(dir, kPeriod, flags);
        const std::uint64_t want = used + need;
        // the least runtime whose share (rounded down, as the kernel's) is WANT
        const std::int64_t raised = us_of_share(want, dir_period, (std::uint64_t{1} << kShift) - 1);
        raises.emplace_back(dir, raised);
        need = realtime_share(dir_period, raised);
        skip = base_of(dir);
    }
    for (auto it = raises.rbegin(); it != raises.rend(); ++it) {
        const std::string file = it->first + "/" + kRuntime, value = std::to_string(it->second);
        Fd fd(::open(file.c_str(), O_WRONLY | O_CLOEXEC));
        ssize_t n = fd ? ::write(fd.get(), value.data(), value.size()) : -1;
        if (n != static_cast<ssize_t>(value.size()))
            throw Error(Errc::run_failed,
                        "cannot apply " + flags + ": giving " + it->first +
                            " the realtime budget the container needs: writing \"" + value +
                            "\" to " + file + ": " + std::strerror(n < 0 ? errno : EIO),
                        "another run may have taken the budget meanwhile: try again");
    }
}

} // namespace gantry::runtime
