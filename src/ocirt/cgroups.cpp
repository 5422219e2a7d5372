// A container's cgroup from the caller's side: made at create from linux.resources and
// linux.cgroupsPath, then `update`, `pause`, `resume` and `events`, as runc 1.1 does them.
#include "ocirt/cgroups.hpp"

#include "ocirt/container.hpp"
#include "ocirt/ocirt.hpp"
#include "records/state.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"
#include "util/identity.hpp"
#include "util/units.hpp"

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace gantry::ocirt {

using nlohmann::json;

namespace {

const json& resources_json(const json& config) {
    static const json none;
    if (!config.is_object() || !config.contains("linux") || !config["linux"].is_object() ||
        !config["linux"].contains("resources"))
        return none;
    return config["linux"]["resources"];
}

// The bundle's own linux.devices, by path (SPEC's also holds the default nodes create adds).
std::vector<oci::DeviceNode> bundle_devices(const json& config) {
    std::vector<oci::DeviceNode> out;
    if (!config.contains("linux") || !config["linux"].is_object()) return out;
    const json& list = config["linux"].value("devices", json());
    if (!list.is_array()) return out;
    for (const auto& d : list)
        if (d.is_object() && d.contains("path") && d["path"].is_string()) {
            oci::DeviceNode n;
            n.path = d["path"].get<std::string>();
            out.push_back(std::move(n));
        }
    return out;
}

void print_line(const json& j) {
    std::printf("%s\n", j.dump().c_str());
    std::fflush(stdout);
}

} // namespace

runtime::ContainerCgroup make_cgroup(const Global& g, const std::string& id, const json& config,
                                     const oci::RuntimeSpec& spec) {
    oci::LinuxResources r = oci::LinuxResources::from_json(resources_json(config));
    // the rules of the devices create added for the GPUs the bundle asks for (CDI: an allow rule
    // per node), as a CDI-aware runtime shim adds them to the spec runc reads
    r.devices.insert(r.devices.end(), spec.device_rules.begin(), spec.device_rules.end());
    r.devices = runtime::container_device_rules(r.devices, bundle_devices(config));
    runtime::ContainerCgroup::Place place;
    place.id = id;
    if (config.contains("linux") && config["linux"].is_object()) {
        const json& p = config["linux"].value("cgroupsPath", json());
        if (!p.is_null() && !p.is_string())
            throw Error(Errc::invalid, "linux.cgroupsPath is not a string: " + p.dump());
        if (p.is_string()) place.cgroups_path = p.get<std::string>();
    }
    if (g.systemd_cgroup)
        throw Error(Errc::invalid,
                    "--systemd-cgroup: gantry does not create cgroups through systemd (linux."
                    "cgroupsPath \"" +
                        place.cgroups_path + "\")",
                    "use the cgroupfs driver: kubelet's cgroupDriver: cgroupfs with "
                    "SystemdCgroup = false in containerd's runtime options, or podman "
                    "--cgroup-manager cgroupfs");
    place.rootless = !(::geteuid() == 0 && running_as_real_root());
    return runtime::ContainerCgroup::create(place, r);
}

namespace {

runtime::ContainerCgroup cgroup_of(const Container& c, const char* what) {
    auto cg = cgroups(c);
    if (!cg)
        throw Error(Errc::unsupported,
                    std::string("cannot ") + what + " container " + c.id +
                        ": it has no cgroup (made rootless without one)",
                    "run the container as root, or in a cgroup this user may write");
    return *cg;
}

std::int64_t size_flag(const std::string& flag, const std::string& v) {
    if (v == "-1") return -1;
    return static_cast<std::int64_t>(units::parse_size(v, "--" + flag));
}

std::int64_t int_flag(const std::string& flag, const std::string& v) {
    try {
        size_t end = 0;
        long long n = std::stoll(v, &end);
        if (end == v.size()) return n;
    } catch (const std::exception&) {
    }
    throw Error(Errc::usage, "--" + flag + ": invalid value \"" + v + "\": expected an integer");
}

// The update's linux.resources document: --resources FILE (or '-'), or the flags.
json update_document(const UpdateOptions& o) {
    if (!o.resources_file.empty()) {
        if (!o.flags.empty())
            throw Error(Errc::usage, "--resources and --" + o.flags.begin()->first + " both given",
                        "give the limits either in the JSON file or as flags");
        std::string text;
        if (o.resources_file == "-") {
            char buf[4096];
            size_t n;
            while ((n = std::fread(buf, 1, sizeof buf, stdin)) > 0) text.append(buf, n);
        } else {
            text = fs::read_file(o.resources_file);
        }
        try {
            return json::parse(text);
        } catch (const json::exception& e) {
            throw Error(Errc::invalid, "--resources " + o.resources_file +
                                           " is not a JSON linux.resources: " + e.what());
        }
    }
    json r = json::object();
    for (const auto& [flag, v] : o.flags) {
        if (flag == "memory")
            r["memory"]["limit"] = size_flag(flag, v);
        else if (flag == "memory-swap")
            r["memory"]["swap"] = size_flag(flag, v);
        else if (flag == "memory-reservation")
            r["memory"]["reservation"] = size_flag(flag, v);
        else if (flag == "pids-limit")
            r["pids"]["limit"] = int_flag(flag, v);
        else if (flag == "cpu-quota")
            r["cpu"]["quota"] = int_flag(flag, v);
        else if (flag == "cpu-period")
            r["cpu"]["period"] = int_flag(flag, v);
        else if (flag == "cpu-share" || flag == "cpu-shares") // runc's; crun's and docker's
            r["cpu"]["shares"] = int_flag(flag, v);
        else if (flag == "cpu-rt-period")
            r["cpu"]["realtimePeriod"] = int_flag(flag, v);
        else if (flag == "cpu-rt-runtime")
            r["cpu"]["realtimeRuntime"] = int_flag(flag, v);
        else if (flag == "cpuset-cpus")
            r["cpu"]["cpus"] = v;
        else if (flag == "cpuset-mems")
            r["cpu"]["mems"] = v;
        else if (flag == "blkio-weight")
            r["blockIO"]["weight"] = int_flag(flag, v);
        else
            throw Error(Errc::internal, "update: unknown flag " + flag);
    }
    return r;
}

} // namespace

void update(const Global& g, const UpdateOptions& o) {
    Container c = load(g, o.id);
    if (status(c) == "stopped")
        throw Error(Errc::conflict, "cannot update container " + o.id + ": it is stopped");
    const json doc = update_document(o);
    oci::LinuxResources change = oci::LinuxResources::from_json(doc, "--resources");
    if (!change.devices.empty()) {
        // containerd's UpdateContainerResources (kubelet's resize) sends the container's whole
        // linux.resources, its device rules as created included: those the cgroup has already.
        // Other rules would be a change, which update does not make.
        const json& now = resources_json(c.config);
        if (!now.is_object() || now.value("devices", json()) != doc["devices"])
            throw Error(Errc::unsupported,
                        "--resources: devices cannot be updated: the rules given differ from "
                        "container " +
                            o.id + "'s",
                        "give the container's own device rules or none (runc's update does not "
                        "change device rules either)");
        change.devices.clear(); // unchanged: the cgroup's rules stay as they are
    }
    oci::LinuxResources before = oci::LinuxResources::from_json(resources_json(c.config));
    if (change.memory.swap && !change.memory.limit) change.memory.limit = before.memory.limit;
    cgroup_of(c, "update").set(change);
    json merged = resources_json(c.config).is_object() ? resources_json(c.config) : json::object();
    merged.merge_patch(doc);
    c.config["linux"]["resources"] = merged;
    save(c);
}

void pause(const Global& g, const std::string& id) {
    Container c = load(g, id);
    std::string st = status(c);
    if (st != "running" && st != "created")
        throw Error(Errc::conflict, "container not running or created: " + st);
    cgroup_of(c, "pause").freeze();
}

void resume(const Global& g, const std::string& id) {
    Container c = load(g, id);
    if (status(c) != "paused") throw Error(Errc::conflict, "container not paused");
    cgroup_of(c, "resume").thaw();
}

json stats(const Global& g, const std::string& id) {
    Container c = load(g, id);
    if (!alive(c)) throw Error(Errc::conflict, "container " + id + " is not running");
    return {{"type", "stats"}, {"id", id}, {"data", cgroup_of(c, "read the stats of").stats()}};
}

int events(const Global& g, const std::string& id, const std::string& every) {
    std::int64_t ns = 0;
    try {
        ns = units::parse_duration(every);
    } catch (const Error& e) {
        throw Error(Errc::usage, "--interval: " + e.message(), e.hint());
    }
    if (ns < 1000000)
        throw Error(Errc::usage, "--interval " + every + " is too short", "at least 1ms");
    const std::chrono::milliseconds interval(ns / 1000000);
    Container c = load(g, id);
    if (!alive(c)) throw Error(Errc::conflict, "container " + id + " is not running");
    runtime::ContainerCgroup cg = cgroup_of(c, "watch");
    Fd exited(static_cast<int>(::syscall(SYS_pidfd_open, c.pid, 0)));
    if (!exited) throw sys_error(errno, "cannot watch container " + id);
    auto oom_v1 = cg.watch_oom_v1();
    Fd notify;
    if (std::string f = cg.oom_events_file(); !f.empty()) {
        notify.reset(::inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
        if (notify && ::inotify_add_watch(notify.get(), f.c_str(), IN_MODIFY) < 0) notify.reset();
    }
    std::uint64_t kills = cg.oom_kills();
    auto next = std::chrono::steady_clock::now() + interval;
    for (;;) {
        pollfd fds[3] = {{exited.get(), POLLIN, 0},
                         {oom_v1.event ? oom_v1.event.get() : -1, POLLIN, 0},
                         {notify ? notify.get() : -1, POLLIN, 0}};
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            next - std::chrono::steady_clock::now());
        int n = ::poll(fds, 3, static_cast<int>(std::max<std::int64_t>(0, left.count())));
        if (n < 0 && errno != EINTR) throw sys_error(errno, "cannot watch container " + id);
        if (n > 0 && (fds[1].revents & POLLIN)) {
            std::uint64_t count = 0;
            if (::read(oom_v1.event.get(), &count, sizeof count) == sizeof count)
                print_line({{"type", "oom"}, {"id", id}});
        }
        if (n > 0 && (fds[2].revents & POLLIN)) {
            char buf[4096];
            while (::read(notify.get(), buf, sizeof buf) > 0) {
            }
            std::uint64_t now = cg.oom_kills();
            if (now > kills) print_line({{"type", "oom"}, {"id", id}});
            kills = now;
        }
        if (n > 0 && (fds[0].revents & POLLIN)) return 0; // the container ended
        if (std::chrono::steady_clock::now() >= next) {
            print_line({{"type", "stats"}, {"id", id}, {"data", cg.stats()}});
            next += interval;
        }
    }
}

} // namespace gantry::ocirt
