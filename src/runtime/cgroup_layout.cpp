#include "runtime/cgroup_layout.hpp"

#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/text.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <linux/magic.h>
#include <map>
#include <optional>
#include <string_view>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

namespace gantry::runtime {

namespace detail {

CgroupRequest::CgroupRequest(const Resources& r) {
    auto need = [&](bool set, const char* controller, const char* flag) {
        if (!set) return;
        if (std::ranges::find(needed, controller) == needed.end()) needed.emplace_back(controller);
        flags[controller].emplace_back(flag);
    };
    need(r.memory.has_value(), "memory", "--memory");
    need(r.memory_swap.has_value(), "memory", "--memory-swap");
    need(r.memory_reservation.has_value(), "memory", "--memory-reservation");
    need(r.memory_swappiness.has_value(), "memory", "--memory-swappiness");
    need(r.cpus.has_value(), "cpu", "--cpus");
    need(r.cpu_shares.has_value(), "cpu", "--cpu-shares");
    need(!r.cpuset_cpus.empty(), "cpuset", "--cpuset-cpus");
    need(!r.cpuset_mems.empty(), "cpuset", "--cpuset-mems");
    need(r.pids.has_value(), "pids", "--pids-limit");
    need(r.cpu_rt_period.has_value(), "cpu", "--cpu-rt-period");
    need(r.cpu_rt_runtime.has_value(), "cpu", "--cpu-rt-runtime");
    need(!r.dmem_max.empty(), "dmem", "--gpu-memory");
    need(!r.dmem_min.empty(), "dmem", "--gpu-memory-reservation");
    subject =
        needed.empty() ? "cannot create a cgroup" : "cannot apply " + text::join_english(r.flags());
}

void CgroupRequest::fail(const std::string& why, std::string hint) const {
    throw Error(Errc::run_failed, subject + ": " + why, std::move(hint));
}

void CgroupRequest::fail_errno(int err, const std::string& what, std::string hint) const {
    fail(what + ": " + std::strerror(err), std::move(hint));
}

std::vector<std::string> read_cgroup_list(const std::string& file) {
    std::vector<std::string> out;
    try {
        const std::string content = fs::read_file(file);
        for (std::string_view w : text::words(content)) {
            if (!w.empty() && (w[0] == '+' || w[0] == '-')) w.remove_prefix(1); // fake trees
            if (!w.empty() && std::ranges::find(out, w) == out.end()) out.emplace_back(w);
        }
    } catch (const Error&) {
    }
    return out;
}

bool on_cgroup2(const std::string& dir) {
    struct statfs sfs {};
    return ::statfs(dir.c_str(), &sfs) == 0 && static_cast<unsigned long>(sfs.f_type) ==
                                                   static_cast<unsigned long>(CGROUP2_SUPER_MAGIC);
}

bool path_exists(const std::string& p) {
    struct stat st {};
    return ::lstat(p.c_str(), &st) == 0;
}

namespace {

// --- /proc parsing ---------------------------------------------------------------------------

using MountEntry = CgroupMount;

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescape_mount(const std::string& s) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\\' && i + 3 < s.size() && s[i + 1] >= '0' && s[i + 1] <= '3' &&
            s[i + 2] >= '0' && s[i + 2] <= '7' && s[i + 3] >= '0' && s[i + 3] <= '7') {
            out +=
                static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
            i += 3;
        } else {
            out += s[i];
        }
    }
    return out;
}

std::vector<MountEntry> parse_mountinfo(const std::string& mountinfo) {
    std::vector<MountEntry> out;
    for (std::string_view line : text::lines(mountinfo)) {
        auto f = text::words(line);
        // id parent major:minor root mountpoint options [optional...] - fstype source superopts
        auto sep = std::find(f.begin(), f.end(), "-");
        if (f.size() < 5 || sep == f.end() || std::distance(sep, f.end()) < 3) continue;
        MountEntry m;
        m.root = unescape_mount(std::string(f[3]));
        m.mountpoint = unescape_mount(std::string(f[4]));
        m.fstype = *(sep + 1);
        std::string opts(*(sep + 3));
        for (size_t p = 0; p <= opts.size();) {
            size_t q = opts.find(',', p);
            if (q == std::string::npos) q = opts.size();
            if (q > p) m.super_options.push_back(opts.substr(p, q - p));
            p = q + 1;
        }
        out.push_back(std::move(m));
    }
    return out;
}

// The "0::/path" line of /proc/self/cgroup, or nullopt.
std::optional<std::string> v2_path(const std::string& proc_cgroup) {
    for (std::string_view line : text::lines(proc_cgroup))
        if (line.starts_with("0::")) return std::string(line.substr(3));
    return std::nullopt;
}

std::string join_path(const std::string& dir, const std::string& rel) {
    if (rel.empty() || rel == "/") return dir;
    if (!dir.empty() && dir.back() == '/') return dir + rel.substr(1);
    return dir + rel;
}

std::string parent_dir(const std::string& dir) {
    auto p = dir.find_last_of('/');
    if (p == std::string::npos || p == 0) return "/";
    return dir.substr(0, p);
}

// --- what this process may write -------------------------------------------------------------

bool is_dir(const std::string& p) {
    struct stat st {};
    return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool writable(const std::string& p) {
    return ::faccessat(AT_FDCWD, p.c_str(), W_OK, AT_EACCESS) == 0;
}

// A directory whose processes this user may move and whose children it may configure.
bool writable_cgroup(const std::string& dir) {
    return writable(dir) && writable(dir + "/cgroup.procs") &&
           writable(dir + "/cgroup.subtree_control");
}

// The directory to create children in, and the top of the visible cgroup2 tree above it.
struct Place {
    std::string base; // "" when nothing is writable
    std::string own;  // this process's cgroup directory (or the override)
    std::string top;  // the cgroup2 mount point (or the override)
    bool override = false;
    bool read_only = false; // the mount refused writing, not the permissions
};

Place locate(const CgroupRequest& request, const CgroupProbe& probe,
             const std::vector<MountEntry>& mounts, const std::map<std::string, std::string>& v1) {
    Place p;
    if (!probe.root.empty()) {
        if (!is_dir(probe.root) || !path_exists(probe.root + "/cgroup.controllers"))
            request.fail("GANTRY_CGROUP_ROOT=" + probe.root +
                             " is not a cgroup v2 directory (it has no cgroup.controllers)",
                         "point GANTRY_CGROUP_ROOT at a cgroup v2 directory, or unset it");
        p.own = p.top = probe.root;
        p.override = true;
        if (writable_cgroup(p.own)) p.base = p.own;
        p.read_only = p.base.empty() && errno == EROFS;
        return p;
    }

    std::vector<const MountEntry*> cg2;
    for (const auto& m : mounts)
        if (m.fstype == "cgroup2") cg2.push_back(&m);
    if (cg2.empty()) {
        std::string why = "no cgroup2 filesystem is mounted";
        if (!v1.empty()) {
            std::vector<std::string> where;
            for (const auto& [c, mp] : v1) where.push_back(c + " at " + mp);
            why += " (this host has cgroup v1 only: " + text::join_english(where) + ")";
        }
        request.fail(why,
                     "gantry sets limits through cgroup v2 only: boot with "
                     "systemd.unified_cgroup_hierarchy=1, or mount -t cgroup2 none /sys/fs/cgroup "
                     "on a host without cgroup v1 hierarchies");
    }

    auto path = v2_path(probe.proc_cgroup);
    if (!path)
        request.fail(
            "/proc/self/cgroup has no cgroup v2 (\"0::\") entry although cgroup2 is mounted at " +
            cg2.front()->mountpoint);
    // The last matching mount wins: a later mount may hide an earlier one.
    for (const MountEntry* m : cg2) {
        std::string rel;
        if (m->root == "/")
            rel = *path;
        else if (*path == m->root)
            rel = "";
        else if (path->starts_with(m->root + "/"))
            rel = path->substr(m->root.size());
        else
            continue;
        std::string dir = join_path(m->mountpoint, rel);
        if (!is_dir(dir)) continue;
        p.own = dir;
        p.top = m->mountpoint;
    }
    if (p.own.empty()) {
        std::vector<std::string> mps;
        for (const MountEntry* m : cg2) mps.push_back(m->mountpoint + " (root " + m->root + ")");
        request.fail("this process's cgroup v2 path " + *path +
                     " (from /proc/self/cgroup) is not visible under any cgroup2 mount: " +
                     text::join_english(mps));
    }
    // Its own cgroup, else the nearest writable ancestor: a delegated subtree.
    for (std::string dir = p.own;; dir = parent_dir(dir)) {
        if (writable_cgroup(dir)) {
            p.base = dir;
            break;
        }
        if (errno == EROFS) p.read_only = true;
        if (dir == p.top || dir == "/" || dir.size() <= p.top.size()) break;
    }
    return p;
}

void check_controllers(const CgroupRequest& request, const Place& p,
                       const std::map<std::string, std::string>& v1) {
    const std::string dir = p.base.empty() ? p.own : p.base;
    const auto avail = read_cgroup_list(dir + "/cgroup.controllers");
    std::vector<std::string> missing;
    for (const auto& c : request.needed)
        if (std::ranges::find(avail, c) == avail.end()) missing.push_back(c);
    if (missing.empty()) return;

    const auto top_avail = dir == p.top ? avail : read_cgroup_list(p.top + "/cgroup.controllers");
    std::vector<std::string> in_v1, where_v1, absent;
    for (const auto& c : missing) {
        if (std::ranges::find(top_avail, c) != top_avail.end()) continue;
        auto it = v1.find(c);
        if (it != v1.end()) {
            in_v1.push_back(c);
            where_v1.push_back(it->second);
        } else {
            absent.push_back(c);
        }
    }
    // Each message names the flags it is about: "cannot apply --memory: ...".
    auto flags = [&request](const std::vector<std::string>& controllers) {
        std::vector<std::string> out;
        for (const auto& c : controllers)
            if (auto it = request.flags.find(c); it != request.flags.end())
                out.insert(out.end(), it->second.begin(), it->second.end());
        return text::join_english(out);
    };
    auto fail = [&](const std::vector<std::string>& about, const std::string& why,
                    const std::string& hint) {
        throw Error(Errc::run_failed, "cannot apply " + flags(about) + ": " + why, hint);
    };
    auto are = [](const std::vector<std::string>& v) {
        return text::join_english(v) + (v.size() == 1 ? " controller is" : " controllers are");
    };
    auto lists = [](const std::string& file, const std::vector<std::string>& listed) {
        return file + "/cgroup.controllers " +
               (listed.empty() ? "is empty" : "lists only " + text::join(listed, " "));
    };
    if (!in_v1.empty()) {
        fail(in_v1,
             "this host has a cgroup v1 \"hybrid\" layout: the " + are(in_v1) +
                 " bound to cgroup v1 (" + text::join_english(where_v1) + ") and " +
                 (p.override ? "GANTRY_CGROUP_ROOT=" : "the cgroup2 mount at ") + p.top +
                 (top_avail.empty() ? " offers no controllers"
                                    : " offers only " + text::join_english(top_avail)),
             "gantry sets limits through cgroup v2 only: boot with "
             "systemd.unified_cgroup_hierarchy=1 (or cgroup_no_v1=all) for a cgroup v2 host, or "
             "run without " +
                 flags(in_v1));
    }
    if (!absent.empty() && !p.override) {
        fail(absent,
             "the kernel offers no cgroup v2 " + text::join_english(absent) +
                 (absent.size() == 1 ? " controller: " : " controllers: ") +
                 lists(p.top, top_avail),
             "use a kernel with these controllers (not disabled by cgroup_disable= on its "
             "command line), or run without " +
                 flags(absent));
    }
    if (p.base.empty()) return; // nothing is writable: the caller says so
    if (p.override)
        fail(missing, "the " + are(missing) + " not available in " + dir + ": " + lists(dir, avail),
             kDelegateHint);
    fail(missing, "the " + are(missing) + " not delegated to " + dir + ": " + lists(dir, avail),
         "enable them in " + parent_dir(dir) + "/cgroup.subtree_control, or " + kDelegateHint);
}

} // namespace

std::vector<CgroupMount> cgroup_mounts(const std::string& mountinfo) {
    std::vector<CgroupMount> out;
    for (auto& m : parse_mountinfo(mountinfo))
        if (m.fstype == "cgroup" || m.fstype == "cgroup2") out.push_back(std::move(m));
    return out;
}

std::string writable_cgroup_parent(const CgroupRequest& request, const CgroupProbe& probe) {
    const auto mounts = parse_mountinfo(probe.mountinfo);
    std::map<std::string, std::string> v1; // controller -> v1 mount point
    for (const auto& m : mounts) {
        if (m.fstype != "cgroup") continue;
        for (const auto& o : m.super_options)
            if ((o == "memory" || o == "cpu" || o == "pids") && !v1.count(o)) v1[o] = m.mountpoint;
    }

    const Place place = locate(request, probe, mounts, v1);
    check_controllers(request, place, v1);
    if (place.base.empty()) {
        const std::string uid = std::to_string(::geteuid());
        if (place.read_only)
            request.fail("the cgroup2 filesystem at " + place.top + " is mounted read-only",
                         "run where cgroup2 is mounted read-write (a container engine mounts it "
                         "read-only unless given a private cgroup namespace with write access)");
        if (place.override)
            request.fail("GANTRY_CGROUP_ROOT=" + place.own + " is not writable by uid " + uid,
                         kDelegateHint);
        request.fail("no cgroup v2 directory is writable by uid " + uid +
                         ": not this process's cgroup " + place.own +
                         (place.own == place.top ? "" : " nor any parent up to " + place.top),
                     kDelegateHint);
    }
    return place.base;
}

} // namespace detail

std::string cgroup2_top(const CgroupProbe& probe) {
    if (!probe.root.empty()) return probe.root;
    std::string top;
    for (const auto& m : detail::cgroup_mounts(probe.mountinfo))
        if (m.fstype == "cgroup2" && m.root == "/") top = m.mountpoint;
    return top;
}

CgroupProbe CgroupProbe::system() {
    CgroupProbe p;
    auto read = [](const char* file) {
        try {
            return fs::read_file(file);
        } catch (const Error&) {
            return std::string();
        }
    };
    p.mountinfo = read("/proc/self/mountinfo");
    p.proc_cgroup = read("/proc/self/cgroup");
    if (const char* root = std::getenv("GANTRY_CGROUP_ROOT")) p.root = root;
    return p;
}

} // namespace gantry::runtime
