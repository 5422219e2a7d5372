#include "runtime/cgroup.hpp"

#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <limits>
#include <linux/magic.h>
#include <map>
#include <sched.h>
#include <sstream>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace gantry::runtime {

namespace {

constexpr std::int64_t kMinMemory = 6 * 1024 * 1024; // docker's linuxMinMemory
constexpr std::int64_t kCpuPeriod = 100000;          // microseconds, docker's default
constexpr std::int64_t kNanos = 1000000000;
constexpr const char* kLeaf = "init"; // where a cgroup's own processes go (podman, dind)

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}
char lower(char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

[[noreturn]] void bad_flag(const std::string& flag, const std::string& value,
                           const std::string& expected) {
    throw Error(Errc::usage, flag + ": invalid value \"" + value + "\": expected " + expected);
}

// Consumes the run of decimal digits at s[i...] into v; false when it overflows uint64 (v is then
// the maximum).
bool parse_digits(const std::string& s, size_t& i, std::uint64_t& v, size_t& ndigits) {
    constexpr std::uint64_t max = std::numeric_limits<std::uint64_t>::max();
    bool ok = true;
    v = 0;
    ndigits = 0;
    for (; i < s.size() && is_digit(s[i]); ++i, ++ndigits) {
        std::uint64_t d = static_cast<std::uint64_t>(s[i] - '0');
        if (!ok || v > (max - d) / 10) {
            ok = false;
            v = max;
        } else {
            v = v * 10 + d;
        }
    }
    return ok;
}

int online_cpus() {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (::sched_getaffinity(0, sizeof set, &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n > 0) return n;
    }
    long n = ::sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? static_cast<int>(n) : 1;
}

std::string join_english(const std::vector<std::string>& items) {
    std::string out;
    for (size_t i = 0; i < items.size(); ++i) {
        if (i > 0) out += (i + 1 == items.size()) ? " and " : ", ";
        out += items[i];
    }
    return out;
}

std::string join_spaces(const std::vector<std::string>& items) {
    std::string out;
    for (const auto& s : items) out += (out.empty() ? "" : " ") + s;
    return out;
}

std::vector<std::string> split_ws(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string w; in >> w;) out.push_back(w);
    return out;
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
    return std::find(v.begin(), v.end(), s) != v.end();
}

// --- /proc parsing ---------------------------------------------------------------------------

struct MountEntry {
    std::string root, mountpoint, fstype;
    std::vector<std::string> super_options;
};

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

std::vector<MountEntry> parse_mountinfo(const std::string& text) {
    std::vector<MountEntry> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        auto f = split_ws(line);
        // id parent major:minor root mountpoint options [optional...] - fstype source superopts
        auto sep = std::find(f.begin(), f.end(), "-");
        if (f.size() < 5 || sep == f.end() || std::distance(sep, f.end()) < 3) continue;
        MountEntry m;
        m.root = unescape_mount(f[3]);
        m.mountpoint = unescape_mount(f[4]);
        m.fstype = *(sep + 1);
        std::string opts = *(sep + 3);
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
std::optional<std::string> v2_path(const std::string& text) {
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        if (line.rfind("0::", 0) == 0) return line.substr(3);
    }
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

// --- cgroup files ----------------------------------------------------------------------------

bool is_dir(const std::string& p) {
    struct stat st {};
    return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool exists(const std::string& p) {
    struct stat st {};
    return ::lstat(p.c_str(), &st) == 0;
}

bool writable(const std::string& p) {
    return ::faccessat(AT_FDCWD, p.c_str(), W_OK, AT_EACCESS) == 0;
}

// A directory whose processes this user may move and whose children it may configure.
bool writable_cgroup(const std::string& dir) {
    return writable(dir) && writable(dir + "/cgroup.procs") &&
           writable(dir + "/cgroup.subtree_control");
}

bool on_cgroup2(const std::string& dir) {
    struct statfs sfs {};
    return ::statfs(dir.c_str(), &sfs) == 0 && static_cast<unsigned long>(sfs.f_type) ==
                                                   static_cast<unsigned long>(CGROUP2_SUPER_MAGIC);
}

std::vector<std::string> read_list(const std::string& file) {
    std::vector<std::string> out;
    try {
        for (auto& w : split_ws(fs::read_file(file))) {
            if (!w.empty() && (w[0] == '+' || w[0] == '-')) w.erase(0, 1); // fake trees
            if (!w.empty() && !contains(out, w)) out.push_back(w);
        }
    } catch (const Error&) {
    }
    return out;
}

// Writes value into a cgroup interface file in one write(2); returns 0 or errno. `simulated`
// (a fake tree) creates the file, as the kernel would already have it; `append` keeps content.
int write_interface(const std::string& file, const std::string& value, bool simulated,
                    bool append = false) {
    int flags = O_WRONLY | O_CLOEXEC;
    if (simulated) flags |= O_CREAT | (append ? O_APPEND : O_TRUNC);
    Fd fd(::open(file.c_str(), flags, 0644));
    if (!fd) return errno;
    std::string data = simulated ? value + "\n" : value;
    for (;;) {
        ssize_t n = ::write(fd.get(), data.data(), data.size());
        if (n >= 0) return static_cast<size_t>(n) == data.size() ? 0 : EIO;
        if (errno != EINTR) return errno;
    }
}

const char* flag_of(const std::string& controller) {
    if (controller == "memory") return "--memory";
    if (controller == "cpu") return "--cpus";
    return "--pids-limit";
}

// What create() is doing, for messages: "cannot apply --memory and --cpus".
struct Context {
    std::vector<std::string> needed; // controllers, in the order memory, cpu, pids
    std::string subject;

    explicit Context(const Resources& r) {
        if (r.memory) needed.push_back("memory");
        if (r.cpus) needed.push_back("cpu");
        if (r.pids) needed.push_back("pids");
        std::vector<std::string> flags;
        for (const auto& c : needed) flags.push_back(flag_of(c));
        subject = needed.empty() ? "cannot create a cgroup" : "cannot apply " + join_english(flags);
    }

    [[noreturn]] void fail(const std::string& why, std::string hint = {}) const {
        throw Error(Errc::run_failed, subject + ": " + why, std::move(hint));
    }
    [[noreturn]] void fail_errno(int err, const std::string& what, std::string hint = {}) const {
        fail(what + ": " + std::strerror(err), std::move(hint));
    }
};

const char* kDelegateHint =
    "run under a delegated cgroup, e.g. systemd-run --user --scope -p Delegate=yes, or as root";

// The directory to create children in, and the top of the visible cgroup2 tree above it.
struct Place {
    std::string base; // "" when nothing is writable
    std::string own;  // this process's cgroup directory (or the override)
    std::string top;  // the cgroup2 mount point (or the override)
    bool override = false;
    bool read_only = false; // the mount refused writing, not the permissions
};

Place locate(const Context& ctx, const CgroupProbe& probe, const std::vector<MountEntry>& mounts,
             const std::map<std::string, std::string>& v1) {
    Place p;
    if (!probe.root.empty()) {
        if (!is_dir(probe.root) || !exists(probe.root + "/cgroup.controllers"))
            ctx.fail("GANTRY_CGROUP_ROOT=" + probe.root +
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
            why += " (this host has cgroup v1 only: " + join_english(where) + ")";
        }
        ctx.fail(why, "gantry sets limits through cgroup v2 only: boot with "
                      "systemd.unified_cgroup_hierarchy=1, or mount -t cgroup2 none /sys/fs/cgroup "
                      "on a host without cgroup v1 hierarchies");
    }

    auto path = v2_path(probe.proc_cgroup);
    if (!path)
        ctx.fail(
            "/proc/self/cgroup has no cgroup v2 (\"0::\") entry although cgroup2 is mounted at " +
            cg2.front()->mountpoint);
    // The last matching mount wins: a later mount may hide an earlier one.
    for (const MountEntry* m : cg2) {
        std::string rel;
        if (m->root == "/")
            rel = *path;
        else if (*path == m->root)
            rel = "";
        else if (path->rfind(m->root + "/", 0) == 0)
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
        ctx.fail("this process's cgroup v2 path " + *path +
                 " (from /proc/self/cgroup) is not visible under any cgroup2 mount: " +
                 join_english(mps));
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

void check_controllers(const Context& ctx, const Place& p,
                       const std::map<std::string, std::string>& v1) {
    const std::string dir = p.base.empty() ? p.own : p.base;
    const auto avail = read_list(dir + "/cgroup.controllers");
    std::vector<std::string> missing;
    for (const auto& c : ctx.needed)
        if (!contains(avail, c)) missing.push_back(c);
    if (missing.empty()) return;

    const auto top_avail = dir == p.top ? avail : read_list(p.top + "/cgroup.controllers");
    std::vector<std::string> in_v1, where_v1, absent;
    for (const auto& c : missing) {
        if (contains(top_avail, c)) continue;
        auto it = v1.find(c);
        if (it != v1.end()) {
            in_v1.push_back(c);
            where_v1.push_back(it->second);
        } else {
            absent.push_back(c);
        }
    }
    // Each message names the flags it is about: "cannot apply --memory: ...".
    auto flags = [](const std::vector<std::string>& controllers) {
        std::vector<std::string> out;
        for (const auto& c : controllers) out.push_back(flag_of(c));
        return join_english(out);
    };
    auto fail = [&](const std::vector<std::string>& about, const std::string& why,
                    const std::string& hint) {
        throw Error(Errc::run_failed, "cannot apply " + flags(about) + ": " + why, hint);
    };
    auto are = [](const std::vector<std::string>& v) {
        return join_english(v) + (v.size() == 1 ? " controller is" : " controllers are");
    };
    auto lists = [](const std::string& file, const std::vector<std::string>& listed) {
        return file + "/cgroup.controllers " +
               (listed.empty() ? "is empty" : "lists only " + join_spaces(listed));
    };
    if (!in_v1.empty()) {
        fail(in_v1,
             "this host has a cgroup v1 \"hybrid\" layout: the " + are(in_v1) +
                 " bound to cgroup v1 (" + join_english(where_v1) + ") and " +
                 (p.override ? "GANTRY_CGROUP_ROOT=" : "the cgroup2 mount at ") + p.top +
                 (top_avail.empty() ? " offers no controllers"
                                    : " offers only " + join_english(top_avail)),
             "gantry sets limits through cgroup v2 only: boot with "
             "systemd.unified_cgroup_hierarchy=1 (or cgroup_no_v1=all) for a cgroup v2 host, or "
             "run without " +
                 flags(in_v1));
    }
    if (!absent.empty() && !p.override) {
        fail(absent,
             "the kernel offers no cgroup v2 " + join_english(absent) +
                 (absent.size() == 1 ? " controller: " : " controllers: ") +
                 lists(p.top, top_avail),
             "use a kernel with these controllers (not disabled by cgroup_disable= on its "
             "command line), or run without " +
                 flags(absent));
    }
    if (p.base.empty()) return; // nothing is writable: create() says so
    if (p.override)
        fail(missing, "the " + are(missing) + " not available in " + dir + ": " + lists(dir, avail),
             kDelegateHint);
    fail(missing, "the " + are(missing) + " not delegated to " + dir + ": " + lists(dir, avail),
         "enable them in " + parent_dir(dir) + "/cgroup.subtree_control, or " + kDelegateHint);
}

// "No internal processes": a non-root cgroup with processes cannot enable controllers for its
// children. Moves its processes (this one included) into its leaf "init".
void move_into_leaf(const Context& ctx, const std::string& base, bool simulated) {
    const std::string leaf = base + "/" + kLeaf;
    if (::mkdir(leaf.c_str(), 0755) != 0 && errno != EEXIST)
        ctx.fail_errno(errno, "cannot create " + leaf, kDelegateHint);
    std::string procs;
    try {
        procs = fs::read_file(base + "/cgroup.procs");
    } catch (const Error& e) {
        ctx.fail(e.message());
    }
    for (const auto& pid : split_ws(procs)) {
        int err = write_interface(leaf + "/cgroup.procs", pid, simulated, true);
        if (err != 0 && err != ESRCH) // ESRCH: it exited meanwhile
            ctx.fail_errno(err, "cannot move process " + pid + " into " + leaf, kDelegateHint);
    }
    if (simulated) write_interface(base + "/cgroup.procs", "", true); // as if they moved
}

void enable_controllers(const Context& ctx, const std::string& base, bool simulated) {
    const std::string file = base + "/cgroup.subtree_control";
    auto enabled = read_list(file);
    std::vector<std::string> todo;
    for (const auto& c : ctx.needed)
        if (!contains(enabled, c)) todo.push_back(c);
    if (todo.empty()) return;

    // The root cgroup has no cgroup.type and is exempt from the rule.
    if (exists(base + "/cgroup.type") && !read_list(base + "/cgroup.procs").empty())
        move_into_leaf(ctx, base, simulated);

    std::string value;
    if (simulated) { // the kernel's view after the write: the union
        for (const auto& c : todo) enabled.push_back(c);
        value = join_spaces(enabled);
    } else {
        for (const auto& c : todo) value += (value.empty() ? "+" : " +") + c;
    }
    for (int attempt = 0;; ++attempt) {
        int err = write_interface(file, value, simulated);
        if (err == 0) return;
        if (err == EBUSY && attempt < 3) { // processes arrived meanwhile
            move_into_leaf(ctx, base, simulated);
            continue;
        }
        std::string hint = err == EACCES || err == EPERM ? kDelegateHint : "";
        if (err == ENOENT) hint = "the controller is not listed in " + base + "/cgroup.controllers";
        ctx.fail_errno(err, "writing \"" + value + "\" to " + file, hint);
    }
}

} // namespace

// --- flag values -----------------------------------------------------------------------------

std::int64_t parse_ram_size(const std::string& value, const std::string& flag) {
    static const char* expected = "a size such as 512m or 2g (units b, k, m, g, t, p; 1k = 1024)";
    size_t i = 0, nint = 0, nfrac = 0;
    std::uint64_t whole = 0, frac = 0;
    const bool fits = parse_digits(value, i, whole, nint);
    if (nint == 0) bad_flag(flag, value, expected);
    std::string frac_digits;
    if (i < value.size() && value[i] == '.') {
        size_t start = ++i;
        parse_digits(value, i, frac, nfrac); // only the text of the digits is used
        if (nfrac == 0) bad_flag(flag, value, expected);
        frac_digits = value.substr(start, nfrac);
    }
    if (i < value.size() && value[i] == ' ') ++i;
    int shift = 0;
    if (i < value.size()) {
        const std::string units = "kmgtp";
        auto u = units.find(lower(value[i]));
        if (u != std::string::npos) {
            shift = 10 * static_cast<int>(u + 1);
            ++i;
            if (i < value.size() && lower(value[i]) == 'i') ++i;
        }
    }
    if (i < value.size() && lower(value[i]) == 'b') ++i;
    if (i != value.size()) bad_flag(flag, value, expected);

    const std::uint64_t mult = std::uint64_t{1} << shift;
    const auto max = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
    if (!fits || whole > max / mult)
        throw Error(Errc::usage, flag + ": " + value + " is too large");
    std::uint64_t bytes = whole * mult;
    if (!frac_digits.empty()) {
        long double f = std::strtold(("0." + frac_digits).c_str(), nullptr);
        auto extra = static_cast<std::uint64_t>(f * static_cast<long double>(mult));
        if (bytes > max - extra) throw Error(Errc::usage, flag + ": " + value + " is too large");
        bytes += extra;
    }
    return static_cast<std::int64_t>(bytes);
}

std::int64_t parse_memory(const std::string& value) {
    auto result = parse_ram_size(value, "--memory");
    if (result != 0 && result < kMinMemory)
        throw Error(Errc::usage, "--memory: " + value +
                                     " is below the minimum memory limit of 6MB (0 = unlimited)");
    return result;
}

double parse_cpus(const std::string& value) {
    static const char* expected = "a number of CPUs such as 1.5";
    size_t i = 0, nint = 0, nfrac = 0;
    std::uint64_t whole = 0, frac = 0;
    parse_digits(value, i, whole, nint); // an overflow saturates: out of range below
    if (i < value.size() && value[i] == '.') {
        ++i;
        parse_digits(value, i, frac, nfrac);
    }
    if (i != value.size() || nint + nfrac == 0) bad_flag("--cpus", value, expected);
    if (nfrac > 9)
        throw Error(Errc::usage, "--cpus: " + value + " is too precise (at most 9 decimals)");
    for (size_t k = nfrac; k < 9; ++k) frac *= 10;
    const int ncpu = online_cpus();
    const std::string range = "range of CPUs is from 0.01 to " + std::to_string(ncpu) +
                              ".00, as there are only " + std::to_string(ncpu) + " CPUs available";
    if (whole > static_cast<std::uint64_t>(ncpu)) throw Error(Errc::usage, "--cpus: " + range);
    const std::uint64_t nanos = whole * kNanos + frac;
    if (nanos == 0) return 0.0; // unlimited
    if (nanos < kNanos / 100 || nanos > static_cast<std::uint64_t>(ncpu) * kNanos)
        throw Error(Errc::usage, "--cpus: " + range);
    return static_cast<double>(nanos) / static_cast<double>(kNanos);
}

std::int64_t parse_pids(const std::string& value) {
    std::int64_t v = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
    if (value.empty() || ec != std::errc() || end != value.data() + value.size())
        bad_flag("--pids-limit", value, "an integer (-1 for unlimited)");
    if (v < -1)
        bad_flag("--pids-limit", value, "a positive number of processes, or -1 for unlimited");
    return v <= 0 ? -1 : v;
}

// --- Cgroup ----------------------------------------------------------------------------------

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

Cgroup Cgroup::create(const std::string& name, const Resources& r) {
    return create(name, r, CgroupProbe::system());
}

Cgroup Cgroup::create(const std::string& name, const Resources& r, const CgroupProbe& probe) {
    const Context ctx(r);
    if (name.empty() || name == "." || name == ".." || name == kLeaf ||
        name.find_first_of("/\n") != std::string::npos)
        throw Error(Errc::invalid, "invalid cgroup name \"" + name + "\"");

    const auto mounts = parse_mountinfo(probe.mountinfo);
    std::map<std::string, std::string> v1; // controller -> v1 mount point
    for (const auto& m : mounts) {
        if (m.fstype != "cgroup") continue;
        for (const auto& o : m.super_options)
            if ((o == "memory" || o == "cpu" || o == "pids") && !v1.count(o)) v1[o] = m.mountpoint;
    }

    const Place place = locate(ctx, probe, mounts, v1);
    check_controllers(ctx, place, v1);
    if (place.base.empty()) {
        const std::string uid = std::to_string(::geteuid());
        if (place.read_only)
            ctx.fail("the cgroup2 filesystem at " + place.top + " is mounted read-only",
                     "run where cgroup2 is mounted read-write (a container engine mounts it "
                     "read-only unless given a private cgroup namespace with write access)");
        if (place.override)
            ctx.fail("GANTRY_CGROUP_ROOT=" + place.own + " is not writable by uid " + uid,
                     kDelegateHint);
        ctx.fail("no cgroup v2 directory is writable by uid " + uid +
                     ": not this process's cgroup " + place.own +
                     (place.own == place.top ? "" : " nor any parent up to " + place.top),
                 kDelegateHint);
    }
    const std::string& base = place.base;
    const bool simulated = !on_cgroup2(base);
    enable_controllers(ctx, base, simulated);

    const std::string dir = base + "/" + name;
    if (::mkdir(dir.c_str(), 0755) != 0) {
        if (errno != EEXIST) ctx.fail_errno(errno, "cannot create " + dir, kDelegateHint);
        // Left by a run that crashed: replace it if no process is in it.
        std::vector<std::string> procs = read_list(dir + "/cgroup.procs");
        if (!procs.empty())
            ctx.fail("cgroup " + dir + " already exists and holds processes (" +
                         join_spaces(procs) + ")",
                     "stop the container that uses it, or choose another name");
        if (simulated) {
            try {
                fs::remove_tree(dir);
            } catch (const Error& e) {
                ctx.fail(e.message());
            }
        } else if (::rmdir(dir.c_str()) != 0) {
            ctx.fail_errno(errno, "cannot remove the stale cgroup " + dir);
        }
        if (::mkdir(dir.c_str(), 0755) != 0) ctx.fail_errno(errno, "cannot create " + dir);
    }
    Cgroup cg(dir, simulated); // from here on, a failure removes the directory
    if (simulated) write_interface(dir + "/cgroup.procs", "", true);

    auto set = [&](const char* file, const std::string& value, bool optional = false) {
        int err = write_interface(dir + "/" + file, value, simulated);
        if (err == 0) return true;
        if (optional && err == ENOENT) return false;
        ctx.fail_errno(err, "writing \"" + value + "\" to " + dir + "/" + file);
    };
    if (r.memory) {
        std::string v = *r.memory > 0 ? std::to_string(*r.memory) : "max";
        set("memory.max", v);
        // docker: --memory without --memory-swap allows as much swap again as memory.
        if (!set("memory.swap.max", v, true))
            log::warn("the kernel has no swap accounting (no memory.swap.max): --memory limits "
                      "memory but not swap");
    }
    if (r.cpus) {
        auto nanos = static_cast<std::int64_t>(*r.cpus * static_cast<double>(kNanos) + 0.5);
        std::int64_t quota = nanos * kCpuPeriod / kNanos;
        set("cpu.max", (quota > 0 ? std::to_string(quota) : std::string("max")) + " " +
                           std::to_string(kCpuPeriod));
    }
    if (r.pids) set("pids.max", *r.pids > 0 ? std::to_string(*r.pids) : std::string("max"));
    return cg;
}

void Cgroup::add(pid_t pid) {
    if (path_.empty()) throw Error(Errc::internal, "Cgroup::add on a moved-from cgroup");
    int err = write_interface(path_ + "/cgroup.procs", std::to_string(pid), simulated_, true);
    if (err != 0)
        throw Error(Errc::run_failed,
                    "cannot move process " + std::to_string(pid) + " into cgroup " + path_ + ": " +
                        std::strerror(err),
                    err == EACCES || err == EPERM ? kDelegateHint : "");
}

void Cgroup::remove() noexcept {
    if (path_.empty()) return;
    if (simulated_) {
        try {
            fs::remove_tree(path_);
        } catch (...) {
        }
    } else {
        // Processes that were just killed may take a moment to leave.
        for (int i = 0; i < 100; ++i) {
            if (::rmdir(path_.c_str()) == 0 || errno != EBUSY) break;
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
        }
    }
    path_.clear();
}

Cgroup::~Cgroup() {
    remove();
}

Cgroup::Cgroup(Cgroup&& o) noexcept
    : path_(std::exchange(o.path_, std::string())), simulated_(o.simulated_) {}

Cgroup& Cgroup::operator=(Cgroup&& o) noexcept {
    if (this != &o) {
        remove();
        path_ = std::exchange(o.path_, std::string());
        simulated_ = o.simulated_;
    }
    return *this;
}

} // namespace gantry::runtime
