#include "userns/idmap.hpp"

#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"
#include "util/text.hpp"

#include <cerrno>
#include <cstdio>
#include <fcntl.h>
#include <optional>
#include <pwd.h>
#include <string_view>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace gantry::userns {

namespace {
const char* kNewUidMap = "/usr/bin/newuidmap";
const char* kNewGidMap = "/usr/bin/newgidmap";

// The error of writing PATH (".../setgroups", ".../uid_map" or ".../gid_map") with ERR.
Error map_error(int err, const std::string& path) {
    if (path.ends_with("/setgroups")) return sys_error(err, "cannot write setgroups");
    return sys_error(err, "cannot write " + path,
                     "unprivileged user namespaces must be enabled "
                     "(sysctl kernel.unprivileged_userns_clone=1, user.max_user_namespaces > 0)");
}

// proc: "/proc/<pid>" or "/proc/self"
void write_direct(const std::string& proc, const char* file,
                  const std::vector<oci::IdMapping>& maps) {
    std::string text;
    for (auto& m : maps)
        text += std::to_string(m.container_id) + " " + std::to_string(m.host_id) + " " +
                std::to_string(m.size) + "\n";
    std::string path = proc + "/" + file;
    Fd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
    if (!fd || ::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size()))
        throw map_error(errno, path);
}

void deny_setgroups(const std::string& proc) {
    Fd sg(::open((proc + "/setgroups").c_str(), O_WRONLY | O_CLOEXEC));
    if (sg && ::write(sg.get(), "deny", 4) != 4) throw map_error(errno, proc + "/setgroups");
}

void run_helper(const char* helper, pid_t pid, const std::vector<oci::IdMapping>& maps) {
    std::vector<std::string> args{helper, std::to_string(pid)};
    for (auto& m : maps)
        for (auto v : {m.container_id, m.host_id, m.size}) args.push_back(std::to_string(v));
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t c = ::fork();
    if (c < 0) throw_errno("fork failed");
    if (c == 0) {
        char* envp[] = {nullptr};
        ::execve(helper, argv.data(), envp);
        ::_exit(127);
    }
    int st = 0;
    while (::waitpid(c, &st, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        throw Error(Errc::run_failed, std::string(helper) + " refused the subordinate id map",
                    "check /etc/subuid and /etc/subgid, or run with --userns=single");
}

// The first line of PROC/REL without its newline; nullopt when it cannot be read.
std::optional<std::string> proc_value(const std::string& proc, const char* rel) {
    Fd fd(::open((proc + "/" + rel).c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return std::nullopt;
    char buf[256];
    ssize_t n = ::read(fd.get(), buf, sizeof buf - 1);
    if (n < 0) return std::nullopt;
    std::string v(buf, static_cast<size_t>(n));
    return v.substr(0, v.find('\n'));
}

} // namespace

const std::string& apparmor_fixes() {
    static const std::string fixes =
        "load gantry's AppArmor profile (the package installs /etc/apparmor.d/gantry; as root: "
        "apparmor_parser -r /etc/apparmor.d/gantry), or, as root, lift the restriction: sysctl -w "
        "kernel.apparmor_restrict_unprivileged_userns=0";
    return fixes;
}

std::optional<UsernsDiagnosis> rootless_blocked(const std::string& proc, const std::string& sys,
                                                const std::string& profile) {
    if (auto max = proc_value(proc, "sys/user/max_user_namespaces"); max && *max == "0")
        return UsernsDiagnosis{"user namespaces are disabled (user.max_user_namespaces = 0): no "
                               "rootless run works here",
                               "enable them, as root: sysctl -w user.max_user_namespaces=15000"};
    if (proc_value(proc, "sys/kernel/unprivileged_userns_clone") == "0")
        return UsernsDiagnosis{
            "unprivileged user namespaces are disabled (kernel.unprivileged_userns_clone = 0): "
            "no rootless run works here",
            "enable them, as root: sysctl -w kernel.unprivileged_userns_clone=1"};
    if (proc_value(proc, "sys/kernel/apparmor_restrict_unprivileged_userns") != "1")
        return std::nullopt;
    // The profile's name is the first word of its line in the loaded profiles' list.
    std::string loaded;
    bool readable = true;
    try {
        loaded = fs::read_file(sys + "/kernel/security/apparmor/profiles", 4 << 20);
    } catch (const Error&) { // AppArmor's file system not mounted, or only root may read it
        readable = false;
    }
    for (auto line : text::lines(loaded))
        if (line.substr(0, line.find(' ')) == profile) return std::nullopt;
    return UsernsDiagnosis{
        "AppArmor lets only programs with a profile that allows it create user namespaces "
        "(kernel.apparmor_restrict_unprivileged_userns = 1) and " +
            (readable ? "no profile \"" + profile + "\" is loaded: rootless runs fail here"
                      : "only root can tell whether the profile \"" + profile +
                            "\" is loaded: without it rootless runs fail here"),
        apparmor_fixes()};
}

bool chrooted(const std::string& proc) {
    struct statx self {
    }, init{};
    const unsigned mask = STATX_INO | STATX_MNT_ID;
    if (::statx(AT_FDCWD, "/", 0, mask, &self) == 0 &&
        ::statx(AT_FDCWD, (proc + "/1/root").c_str(), 0, mask, &init) == 0) {
        if (self.stx_dev_major != init.stx_dev_major || self.stx_dev_minor != init.stx_dev_minor ||
            self.stx_ino != init.stx_ino)
            return true;
        // the mount too (a chroot into a bind mount of "/" has its inode, not its mount), when
        // init is in this mount namespace: another namespace's root is another mount anyway
        std::error_code ec_self, ec_init;
        auto ns_self = fs::stdfs::read_symlink(proc + "/self/ns/mnt", ec_self);
        auto ns_init = fs::stdfs::read_symlink(proc + "/1/ns/mnt", ec_init);
        return !ec_self && !ec_init && ns_self == ns_init &&
               (self.stx_mask & init.stx_mask & STATX_MNT_ID) && self.stx_mnt_id != init.stx_mnt_id;
    }
    // /proc/1/root is only root's to follow: the mount table then says it. A process's
    // mountinfo lists only the mounts reachable from its root, at paths from it; a chroot into a
    // directory that is no mount point leaves none at "/"
    std::string table;
    try {
        table = fs::read_file(proc + "/self/mountinfo", 4u << 20);
    } catch (const Error&) {
        return false; // nothing to tell by
    }
    if (table.empty()) return false;
    for (auto line : text::lines(table)) {
        std::size_t field = 0, p = 0;
        for (; field < 4 && p != std::string_view::npos; ++field) {
            p = line.find(' ', p);
            if (p != std::string_view::npos) ++p;
        }
        if (p == std::string_view::npos) continue;
        auto end = line.find(' ', p);
        if (line.substr(p, end == std::string_view::npos ? end : end - p) == "/") return false;
    }
    return true;
}

UsernsDiagnosis diagnose_userns(int err, uid_t euid, const std::string& proc) {
    if (err == ENOSPC || err == EUSERS) { // the kernel checks the limits first
        auto max = proc_value(proc, "sys/user/max_user_namespaces");
        if (max && *max == "0")
            return {"user namespaces are disabled (user.max_user_namespaces = 0)",
                    "enable them, as root: sysctl -w user.max_user_namespaces=15000"};
        return {"the limit of user namespaces is reached (user.max_user_namespaces" +
                    (max ? " = " + *max : std::string()) +
                    " here, or a lower one in an outer namespace; at most 32 levels of nesting)",
                "raise the limit, as root: sysctl -w user.max_user_namespaces=15000 (in the "
                "namespace that sets it), or end containers that hold user namespaces"};
    }
    if (err != EPERM) return {};
    // the kernel wants both of the caller's IDs mapped in its namespace
    auto uids = proc_value(proc, "self/uid_map"), gids = proc_value(proc, "self/gid_map");
    bool no_uid = uids && uids->empty(), no_gid = gids && gids->empty();
    if (no_uid || no_gid)
        return {std::string("gantry runs in a user namespace that maps no ") +
                    (no_uid && no_gid ? "user or group ID"
                     : no_uid         ? "user ID"
                                      : "group ID") +
                    " (such as unshare -U without a mapping), and a process whose IDs are not "
                    "both mapped there cannot create one",
                "map your user and group IDs in that namespace (unshare -r, or "
                "--map-current-user with --map-group) or run gantry outside it"};
    // the kernel refuses a chrooted process a user namespace, root too (CLONE_NEWUSER)
    if (chrooted(proc))
        return {"gantry runs in a chroot, and the kernel refuses a chrooted process a new user "
                "namespace (even root)",
                "run gantry outside the chroot, or enter the directory as its own mount "
                "namespace's root instead (pivot_root, as `unshare --mount` then `pivot_root`, "
                "systemd-nspawn or a container do) with /proc mounted"};
    // both switches leave root (CAP_SYS_ADMIN) alone
    if (euid != 0 && proc_value(proc, "sys/kernel/unprivileged_userns_clone") == "0")
        return {"unprivileged user namespaces are disabled (kernel.unprivileged_userns_clone = 0)",
                "enable them, as root: sysctl -w kernel.unprivileged_userns_clone=1"};
    if (euid != 0 && proc_value(proc, "sys/kernel/apparmor_restrict_unprivileged_userns") == "1")
        return {"AppArmor lets only programs with a profile that allows it create user namespaces "
                "(kernel.apparmor_restrict_unprivileged_userns = 1)",
                apparmor_fixes()};
    return {"", "user namespaces may be forbidden here by a seccomp filter or a security module "
                "(inside another container, for instance); gantry needs them, rootless or not"};
}

bool is_single_id(const std::vector<oci::IdMapping>& maps) {
    return maps.size() == 1 && maps[0].size == 1;
}

std::optional<SubIdRange> find_subid_range(const std::string& file, const std::string& name,
                                           std::uint32_t id) {
    std::string content;
    try {
        content = fs::read_file(file, 1 << 20);
    } catch (const Error&) {
        return std::nullopt;
    }
    for (auto line : text::lines(content)) {
        auto a = line.find(':'), b = line.rfind(':');
        if (a == line.npos || a == b) continue;
        auto who = line.substr(0, a);
        if (who != name && who != std::to_string(id)) continue;
        // whole decimal numbers only (no sign, space or suffix), a range that fits in 32 bits
        auto start = text::to_u32(line.substr(a + 1, b - a - 1));
        auto count = text::to_u32(line.substr(b + 1));
        if (start && count && *count > 0 && std::uint64_t(*start) + *count <= (1ull << 32))
            return SubIdRange{*start, *count};
    }
    return std::nullopt;
}

namespace {

// UID's name, which its /etc/subuid and /etc/subgid lines may go by. /etc/passwd is read
// directly first (glibc's fgetpwent_r: the same entry getpwuid finds when "files" comes first in
// nsswitch.conf, as it does by default) without NSS's set-up (nscd probes, nsswitch.conf), ~50 us
// on the start path of every rootless run on a host with subordinate ids; NSS (LDAP, sssd, ...)
// for a user the file does not list. newuidmap checks the ranges against the same files itself.
std::string user_name(uid_t uid) {
    if (FILE* f = std::fopen("/etc/passwd", "re")) {
        std::string name;
        char buf[4096];
        struct passwd pwd {
        }, *found = nullptr;
        while (::fgetpwent_r(f, &pwd, buf, sizeof buf, &found) == 0 && found)
            if (found->pw_uid == uid) {
                name = found->pw_name;
                break;
            }
        std::fclose(f);
        if (!name.empty()) return name;
    }
    if (auto* pw = ::getpwuid(uid)) return pw->pw_name;
    return {};
}

} // namespace

void unprivileged_maps(std::uint32_t uid, std::uint32_t gid, bool want_subids,
                       std::vector<oci::IdMapping>& uids, std::vector<oci::IdMapping>& gids) {
    uids = {{0, uid, 1}};
    gids = {{0, gid, 1}};
    if (!want_subids || ::access(kNewUidMap, X_OK) != 0 || ::access(kNewGidMap, X_OK) != 0) return;
    // Most hosts give a user no ranges at all: skip the user's name (user_name) when the files
    // are missing or empty.
    struct stat st {};
    if (::stat("/etc/subuid", &st) != 0 || st.st_size == 0) return;
    const std::string name = user_name(uid);
    auto su = find_subid_range("/etc/subuid", name, uid);
    auto sg = find_subid_range("/etc/subgid", name, uid);
    if (!su || !sg) return;
    uids.push_back({1, su->start, su->count});
    gids.push_back({1, sg->start, sg->count});
}

void write_id_maps(pid_t pid, const std::vector<oci::IdMapping>& uids,
                   const std::vector<oci::IdMapping>& gids) {
    bool helpers = ::geteuid() != 0 && !(is_single_id(uids) && is_single_id(gids));
    if (helpers) {
        run_helper(kNewUidMap, pid, uids);
        run_helper(kNewGidMap, pid, gids);
        return;
    }
    std::string proc = "/proc/" + std::to_string(pid);
    if (::geteuid() != 0 && is_single_id(gids)) deny_setgroups(proc);
    write_direct(proc, "uid_map", uids);
    write_direct(proc, "gid_map", gids);
}

Error own_id_map_error(const char* file, int err) {
    return map_error(err, std::string("/proc/self/") + file);
}

void write_own_id_maps(uid_t uid, gid_t gid) {
    deny_setgroups("/proc/self");
    write_direct("/proc/self", "uid_map", {{0, uid, 1}});
    write_direct("/proc/self", "gid_map", {{0, gid, 1}});
}

} // namespace gantry::userns
