// User-namespace id maps: the single-ID map any user may write (own uid as 0), the identity map
// of real root, and full subordinate-ID maps from /etc/subuid and /etc/subgid written through the
// setuid helpers newuidmap/newgidmap (shadow's uidmap package) when they allow it.
#pragma once

#include "oci/runtime_spec.hpp"
#include "util/error.hpp"

#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace gantry::userns {

struct SubIdRange {
    std::uint32_t start = 0, count = 0;
};

// The first range for (name or uid) in a subuid/subgid file; nullopt if none.
std::optional<SubIdRange> find_subid_range(const std::string& file, const std::string& name,
                                           std::uint32_t id);

// Maps for an unprivileged user: [0 -> uid] plus [1.. -> subordinate range] when both files have
// a range for the user and newuidmap/newgidmap are installed; else the single-ID map.
// want_subids = false forces the single-ID map.
void unprivileged_maps(std::uint32_t uid, std::uint32_t gid, bool want_subids,
                       std::vector<oci::IdMapping>& uids, std::vector<oci::IdMapping>& gids);

// Writes the maps of a child that has just unshared its user namespace: directly when the
// process may (root, or the single own-id map with setgroups denied), else with newuidmap.
void write_id_maps(pid_t pid, const std::vector<oci::IdMapping>& uids,
                   const std::vector<oci::IdMapping>& gids);

// The calling process, just moved into a new user namespace, maps its own uid and gid to 0
// (setgroups denied first): the one map the kernel lets a process write for itself.
void write_own_id_maps(uid_t uid, gid_t gid);
// What write_own_id_maps throws when writing /proc/self/FILE ("setgroups", "uid_map" or
// "gid_map") failed with ERR (for a process that wrote its maps without libc).
Error own_id_map_error(const char* file, int err);

bool is_single_id(const std::vector<oci::IdMapping>& maps);

// Whether this process is chrooted (its root is not its mount namespace's), read from PROC: its
// root against /proc/1/root's where it may follow that (root), else whether its mount table
// (PROC/self/mountinfo) has a mount at "/". False when neither can tell.
bool chrooted(const std::string& proc = "/proc");

// Why a process with effective uid EUID could not create a user namespace (ERR from clone),
// read from PROC (the proc filesystem; tests give a fake tree): its own user or group ID
// unmapped (a caller in `unshare -U` without a mapping), a chroot (chrooted), user namespaces
// disabled or their limit reached (user.max_user_namespaces), and for a caller other than root
// Debian's kernel.unprivileged_userns_clone or Ubuntu's AppArmor restriction; else a filter
// this process cannot see (seccomp in another container). `why` is empty when ERR says it all.
struct UsernsDiagnosis {
    std::string why, hint;
};
UsernsDiagnosis diagnose_userns(int err, uid_t euid, const std::string& proc = "/proc");

// The two fixes for Ubuntu's AppArmor restriction (23.10 on): gantry's profile
// (/etc/apparmor.d/gantry, packaging/apparmor/gantry) loaded, or the sysctl turned off.
const std::string& apparmor_fixes();

// For `gantry doctor`: what keeps every rootless run from creating its user namespace on this
// host, read from PROC (sysctls) and SYS (the loaded AppArmor profiles, kernel/security/apparmor/
// profiles): user.max_user_namespaces = 0, Debian's kernel.unprivileged_userns_clone = 0, or
// kernel.apparmor_restrict_unprivileged_userns = 1 without a loaded profile named PROFILE.
// nullopt when nothing does.
std::optional<UsernsDiagnosis> rootless_blocked(const std::string& proc = "/proc",
                                                const std::string& sys = "/sys",
                                                const std::string& profile = "gantry");

} // namespace gantry::userns
