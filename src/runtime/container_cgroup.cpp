#include "runtime/container_cgroup.hpp"

#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"
#include "util/text.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <set>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

namespace gantry::runtime {

using namespace detail;
namespace stdfs = std::filesystem;

namespace detail {

// One write(2) of VALUE to FILE; 0 or errno.
int write_value(const std::string& file, const std::string& value) {
    Fd fd(::open(file.c_str(), O_WRONLY | O_CLOEXEC));
    if (!fd) return errno;
    for (;;) {
        ssize_t n = ::write(fd.get(), value.data(), value.size());
        if (n >= 0) return static_cast<size_t>(n) == value.size() ? 0 : EIO;
        if (errno != EINTR) return errno;
    }
}

// A fake tree's interface file (for_run's, in tests): VALUE appended as a line, the file made.
int append_simulated(const std::string& file, const std::string& value) {
    Fd fd(::open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
    if (!fd) return errno;
    std::string line = value + "\n";
    return ::write(fd.get(), line.data(), line.size()) == static_cast<ssize_t>(line.size()) ? 0
                                                                                            : EIO;
}

std::string read_value(const std::string& file) {
    try {
        return std::string(text::trim(fs::read_file(file)));
    } catch (const Error&) {
        return {};
    }
}

bool permission_error(int err) {
    return err == EPERM || err == EACCES || err == EROFS;
}

} // namespace detail

namespace {

const std::set<std::string>& v1_controllers() { // built at first use, not at every start
    static const std::set<std::string> s = {
        "cpuset",   "cpu",   "cpuacct",    "memory",  "devices", "freezer", "net_cls",
        "net_prio", "blkio", "perf_event", "hugetlb", "pids",    "rdma",    "misc"};
    return s;
}

// runc's CleanPath: no ".." leaves the root, a relative path stays relative.
std::string clean_path(const std::string& p) {
    if (p.empty()) return {};
    std::string c = stdfs::path("/" + p).lexically_normal().string();
    while (c.size() > 1 && c.back() == '/') c.pop_back();
    if (p[0] != '/') c.erase(0, 1);
    return c;
}

// /proc/self/cgroup: hierarchy ("cpu,cpuacct", "name=systemd", "" for v2) -> path.
std::map<std::string, std::string> own_paths(const std::string& proc_cgroup) {
    std::map<std::string, std::string> out;
    for (std::string_view line : text::lines(proc_cgroup)) {
        auto a = line.find(':');
        auto b = a == std::string_view::npos ? a : line.find(':', a + 1);
        if (b == std::string_view::npos) continue;
        out[std::string(line.substr(a + 1, b - a - 1))] = std::string(line.substr(b + 1));
    }
    return out;
}

// The path of PROC_PATH below MOUNT's root ("" when the mount shows another part of the tree).
std::string below_root(const CgroupMount& m, const std::string& proc_path) {
    if (m.root == "/") return proc_path;
    if (proc_path == m.root) return "/";
    if (proc_path.starts_with(m.root + "/")) return proc_path.substr(m.root.size());
    return "/";
}

std::string join(const std::string& dir, const std::string& rel) {
    std::string r = rel;
    while (!r.empty() && r.front() == '/') r.erase(0, 1);
    if (r.empty()) return dir;
    return dir.back() == '/' ? dir + r : dir + "/" + r;
}

// mkdir -p; 0 or errno. A v1 cpuset directory made here inherits its parent's cpus and mems,
// as the kernel gives a new one none (runc's cpusetEnsureParent).
int make_dirs(const std::string& top, const std::string& dir, bool cpuset) {
    std::string cur = top;
    std::string rest = dir.substr(top.size());
    for (std::string_view part : text::split(rest, '/')) {
        if (part.empty()) continue;
        std::string next = cur + "/" + std::string(part);
        if (::mkdir(next.c_str(), 0755) != 0 && errno != EEXIST) return errno;
        if (cpuset)
            for (const char* f : {"cpuset.cpus", "cpuset.mems"})
                if (read_value(next + "/" + f).empty()) {
                    int err = write_value(next + "/" + f, read_value(cur + "/" + f));
                    if (err != 0) return err;
                }
        cur = next;
    }
    return 0;
}

std::string controllers_of(const CgroupMount& m) {
    std::vector<std::string> c;
    for (const auto& o : m.super_options)
        if (v1_controllers().count(o) || o.starts_with("name=")) c.push_back(o);
    return text::join(c, ",");
}

// A v1 (or hybrid) host: a cgroup v1 hierarchy with a controller (not only name=systemd).
bool has_v1_controllers(const std::vector<CgroupMount>& mounts) {
    for (const auto& m : mounts)
        if (m.fstype == "cgroup" && !controllers_of(m).empty() &&
            !controllers_of(m).starts_with("name="))
            return true;
    return false;
}

bool holds(const std::string& hierarchy, const std::string& controller) {
    for (std::string_view c : text::split(hierarchy, ','))
        if (c == controller) return true;
    return false;
}

// Whether two hierarchies' controller lists ("cpu,cpuacct") name one controller in common.
bool shares_controller(const std::string& a, const std::string& b) {
    for (std::string_view c : text::split(b, ','))
        if (holds(a, std::string(c))) return true;
    return false;
}

} // namespace

ContainerCgroup ContainerCgroup::create(const Place& place, const oci::LinuxResources& r) {
    const std::string& given = place.cgroups_path;
    if (std::count(given.begin(), given.end(), ':') == 2 && given.find('/') == std::string::npos)
        throw Error(Errc::invalid,
                    "linux.cgroupsPath \"" + given +
                        "\" is systemd's \"slice:prefix:name\" form, and gantry manages cgroups "
                        "through the cgroup filesystem only",
                    "give a path (/machine/NAME) in linux.cgroupsPath, or run the engine with "
                    "its cgroupfs cgroup manager");
    const std::string inner = given.empty() ? place.id : clean_path(given);
    const bool absolute = inner.starts_with("/");
    const auto mounts = cgroup_mounts(place.probe.mountinfo);
    const auto own = own_paths(place.probe.proc_cgroup);

    ContainerCgroup cg;
    std::map<std::string, std::string> tops;
    bool v1 = place.probe.root.empty() && has_v1_controllers(mounts);
    cg.version_ = v1 ? CgroupVersion::v1 : CgroupVersion::v2;
    if (!place.probe.root.empty()) { // $GANTRY_CGROUP_ROOT: the place below it (a fake tree's)
        cg.dirs_[""] = join(place.probe.root, inner);
        tops[""] = place.probe.root;
        cg.simulated_ = !on_cgroup2(place.probe.root);
    }
    for (const auto& m : place.probe.root.empty() ? mounts : decltype(mounts){}) {
        std::string key = m.fstype == "cgroup2" ? (v1 ? "unified" : "") : controllers_of(m);
        if (m.fstype == "cgroup" && key.empty()) continue;
        if (cg.dirs_.count(key)) continue; // the hierarchy is also mounted elsewhere
        std::string own_path = "/";
        for (const auto& [h, p] : own)
            if ((m.fstype == "cgroup2" && h.empty()) ||
                (m.fstype == "cgroup" && !h.empty() && shares_controller(key, h)))
                own_path = p;
        std::string base = below_root(m, own_path);
        if (!absolute && !v1) base = stdfs::path(base).parent_path().string(); // runc's v2 rule
        cg.dirs_[key] =
            absolute ? join(m.mountpoint, inner) : join(join(m.mountpoint, base), inner);
        tops[key] = m.mountpoint;
    }
    if (cg.dirs_.empty())
        throw Error(Errc::run_failed,
                    "cannot create the container's cgroup: no cgroup filesystem "
                    "is mounted (/proc/self/mountinfo has no cgroup or cgroup2)",
                    "mount the cgroup hierarchies (/sys/fs/cgroup), as the host's init does");

    // cgroup v2: the device rules' program, checked before anything is made
    std::vector<bpf_insn> device_program;
    if (cg.version_ == CgroupVersion::v2 && !r.devices.empty())
        device_program = device_filter_program(fold_device_rules(r.devices));

    // the directories, then the limits; a failure removes what was made
    std::map<std::string, std::string> made;
    std::vector<std::string> left_out;
    std::string why_left_out;
    try {
        for (auto it = cg.dirs_.begin(); it != cg.dirs_.end();) {
            const auto& [key, dir] = *it;
            int err = make_dirs(tops[key], dir, holds(key, "cpuset"));
            if (err == 0) {
                made[key] = dir;
                ++it;
                continue;
            }
            // runc: rootless without a cgroupsPath leaves out what it may not write; the
            // process-only hierarchies (name=systemd, hybrid's cgroup2) are never a reason to fail
            bool join_only = key == "unified" || key.starts_with("name=");
            if ((place.rootless && given.empty() && permission_error(err)) || join_only) {
                left_out.push_back(key.empty() ? "cgroup2" : key);
                if (why_left_out.empty())
                    why_left_out = "cannot create " + dir + ": " + std::strerror(err);
                it = cg.dirs_.erase(it);
                continue;
            }
            throw Error(Errc::run_failed,
                        "cannot create the container's cgroup " + dir + ": " + std::strerror(err),
                        permission_error(err) ? std::string(kDelegateHint) : "");
        }
        if (!left_out.empty()) // one line, however many hierarchies
            log::warn("the container has no cgroup in " + text::join_english(left_out) + " (" +
                      why_left_out + ")");
        if (cg.version_ == CgroupVersion::v2) {
            // enable the controllers the limits need, from the top down to the parent
            const std::string& dir = cg.dirs_.at("");
            std::set<std::string> need = {"memory", "pids", "cpu"};
            for (const auto& w : cgroup_writes(r, cg.version_))
                if (!w.controller.empty()) need.insert(w.controller);
            std::string cur = tops[""];
            const std::string below = dir.substr(cur.size());
            for (std::string_view part : text::split(below, '/')) {
                if (part.empty()) continue;
                auto avail = read_cgroup_list(cur + "/cgroup.controllers");
                auto on = read_cgroup_list(cur + "/cgroup.subtree_control");
                for (const auto& c : need) {
                    if (std::ranges::find(avail, c) == avail.end()) continue;
                    if (!cg.simulated_)
                        write_value(cur + "/cgroup.subtree_control", "+" + c); // checked below
                    else if (std::ranges::find(on, c) == on.end()) // a fake tree: the kernel's view
                        append_simulated(cur + "/cgroup.subtree_control", c);
                }
                cur += "/" + std::string(part);
            }
        }
        cg.apply(cgroup_writes(r, cg.version_), place.rootless, place.swap_optional);
        // rootless: none may be left; a fake tree ($GANTRY_CGROUP_ROOT) takes no program
        if (!device_program.empty() && cg.dirs_.count("") && !cg.simulated_) {
            try {
                place.attach_devices(device_program, cg.dirs_.at(""));
            } catch (const Error& e) {
                if (!place.rootless) throw;
                log::warn("device rules not enforced (rootless): " + e.message());
            }
        }
    } catch (...) {
        ContainerCgroup undo;
        undo.version_ = cg.version_;
        undo.dirs_ = made;
        undo.destroy();
        throw;
    }
    return cg;
}

ContainerCgroup ContainerCgroup::of_process(pid_t pid, const CgroupProbe& probe) {
    std::string proc_cgroup;
    try {
        proc_cgroup =
            fs::read_file("/proc/" + (pid ? std::to_string(pid) : std::string("self")) + "/cgroup");
    } catch (const Error&) {
        throw Error(Errc::run_failed,
                    "cannot read the cgroups of the container's process " + std::to_string(pid),
                    "is the container still running?");
    }
    const auto theirs = own_paths(proc_cgroup);
    const auto mounts = cgroup_mounts(probe.mountinfo);
    ContainerCgroup cg;
    bool v1 = has_v1_controllers(mounts);
    cg.version_ = v1 ? CgroupVersion::v1 : CgroupVersion::v2;
    for (const auto& m : mounts) {
        std::string key = m.fstype == "cgroup2" ? (v1 ? "unified" : "") : controllers_of(m);
        if ((m.fstype == "cgroup" && key.empty()) || cg.dirs_.count(key)) continue;
        for (const auto& [h, p] : theirs)
            if ((m.fstype == "cgroup2" && h.empty()) ||
                (m.fstype == "cgroup" && !h.empty() && shares_controller(key, h)))
                cg.dirs_[key] = join(m.mountpoint, below_root(m, p));
    }
    return cg;
}

std::vector<ContainerCgroup::ViewBind> ContainerCgroup::v1_view(const CgroupProbe& probe) const {
    std::vector<ViewBind> out;
    if (version_ != CgroupVersion::v1) return out;
    std::set<std::string> seen;
    for (const auto& m : cgroup_mounts(probe.mountinfo)) {
        const std::string key = controllers_of(m);
        if (m.fstype != "cgroup" || key.empty() || !seen.insert(key).second) continue;
        auto it = dirs_.find(key);
        if (it == dirs_.end()) continue;
        out.push_back({stdfs::path(m.mountpoint).filename().string(), it->second});
    }
    return out;
}

std::string ContainerCgroup::dir(const std::string& controller) const {
    if (version_ == CgroupVersion::v2) {
        auto it = dirs_.find("");
        return it == dirs_.end() ? "" : it->second;
    }
    for (const auto& [key, d] : dirs_)
        if (holds(key, controller)) return d;
    return {};
}

void ContainerCgroup::apply(const std::vector<CgroupWrite>& writes_in, bool rootless,
                            bool swap_optional) const {
    std::vector<CgroupWrite> writes = writes_in;
    // v1 memory: the memory+swap limit may not go below the memory limit at any moment, so
    // when it grows it is written first (runc's order)
    auto limit =
        std::ranges::find_if(writes, [](auto& w) { return w.file == "memory.limit_in_bytes"; });
    auto memsw = std::ranges::find_if(
        writes, [](auto& w) { return w.file == "memory.memsw.limit_in_bytes"; });
    if (limit != writes.end() && memsw != writes.end()) {
        std::string cur = read_value(dir("memory") + "/memory.memsw.limit_in_bytes");
        bool grows =
            memsw->value == "-1" || cur.empty() || std::stoll(memsw->value) > std::stoll(cur);
        if (grows) std::iter_swap(limit, memsw);
    }
    for (const auto& w : writes) {
        const std::string d = dir(w.controller);
        if (d.empty()) {
            if (rootless && w.controller == "devices") continue;
            throw Error(
                Errc::run_failed,
                "cannot apply " + w.field + ": " +
                    (rootless ? "cannot set " + w.controller +
                                    " limit: container could not join or create cgroup"
                              : "the " + w.controller + " controller is not mounted on this host"),
                rootless ? "run as root, or give linux.cgroupsPath a cgroup this user "
                           "may write (a delegated one)"
                         : "remove " + w.field + " from the configuration");
        }
        std::string file = d + "/" + w.file, value = w.value;
        int err = simulated_ ? append_simulated(file, value) : write_value(file, value);
        if (err == ENOENT && !w.fallback_file.empty()) {
            file = d + "/" + w.fallback_file;
            value = w.fallback_value;
            err = write_value(file, value);
        }
        if (err == ENOENT && w.optional) continue;
        if (err == ENOENT && swap_optional &&
            (w.file == "memory.memsw.limit_in_bytes" || w.file == "memory.swap.max")) {
            log::warn("the kernel has no swap accounting (no " + w.file +
                      "): --memory limits memory but not swap");
            continue;
        }
        if (err != 0 && rootless && w.controller == "devices") {
            log::warn("device rule " + w.field + " not written (rootless): " + std::strerror(err));
            continue;
        }
        if (err == ENOENT)
            throw Error(Errc::run_failed,
                        "cannot apply " + w.field + ": the kernel has no " + w.file + " in " + d,
                        "remove " + w.field + ", or use a kernel with that cgroup feature");
        if (err != 0)
            throw Error(Errc::run_failed,
                        "cannot apply " + w.field + ": writing \"" + value + "\" to " + file +
                            ": " + std::strerror(err),
                        err == EINVAL ? "the kernel refused the value: check " + w.field
                                      : std::string());
        if (w.file == "cpu.shares") { // the kernel clamps what it does not take, runc checks
            std::string got = read_value(file);
            if (got != value)
                throw Error(Errc::invalid,
                            "cannot apply " + w.field + ": the kernel set cpu.shares to " + got +
                                " instead of " + value,
                            "cpu shares range from 2 to 262144");
        }
    }
}

void ContainerCgroup::set(const oci::LinuxResources& r) const {
    apply(cgroup_writes(r, version_), false);
}

void ContainerCgroup::destroy() const noexcept {
    for (const auto& [key, d] : dirs_) {
        if (simulated_) {
            try {
                fs::remove_tree(d);
            } catch (...) {
            }
            continue;
        }
        for (int i = 0; i < 500; ++i) { // processes just killed may take a moment to leave
            if (::rmdir(d.c_str()) == 0 || errno != EBUSY) break;
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
        }
    }
}

nlohmann::json ContainerCgroup::to_json() const {
    nlohmann::json j{{"version", version_ == CgroupVersion::v1 ? 1 : 2}, {"dirs", dirs_}};
    if (simulated_) j["simulated"] = true;
    return j;
}

ContainerCgroup ContainerCgroup::from_json(const nlohmann::json& j) {
    ContainerCgroup cg;
    cg.version_ = j.at("version").get<int>() == 1 ? CgroupVersion::v1 : CgroupVersion::v2;
    cg.dirs_ = j.at("dirs").get<std::map<std::string, std::string>>();
    cg.simulated_ = j.value("simulated", false);
    return cg;
}

ContainerCgroup::OomWatch ContainerCgroup::watch_oom_v1() const {
    OomWatch w;
    const std::string d = dir("memory");
    if (version_ != CgroupVersion::v1 || d.empty()) return w;
    w.control.reset(::open((d + "/memory.oom_control").c_str(), O_RDONLY | O_CLOEXEC));
    w.event.reset(::eventfd(0, EFD_CLOEXEC));
    if (!w.control || !w.event) return {};
    std::string reg = std::to_string(w.event.get()) + " " + std::to_string(w.control.get());
    if (write_value(d + "/cgroup.event_control", reg) != 0) return {};
    return w;
}

std::string ContainerCgroup::oom_events_file() const {
    if (version_ != CgroupVersion::v2) return {};
    std::string d = dir("memory");
    return d.empty() ? "" : d + "/memory.events";
}

void RemoveCgroup::operator()(ContainerCgroup* cgroup) const noexcept {
    cgroup->destroy();
    delete cgroup;
}

OwnedCgroup own(ContainerCgroup cgroup) {
    return OwnedCgroup(new ContainerCgroup(std::move(cgroup)));
}

} // namespace gantry::runtime
