// The syscalls gantry's default seccomp profile refuses (EPERM), shared by the launcher's
// compiled filter (tools/seccomp_bpf.cpp) and the profile `gantry bundle` writes for runc/crun.
// No dependencies: the build tool that compiles the filter links this file alone.
#pragma once

#include <string>
#include <vector>

namespace gantry::oci {

// Syscalls gantry's default seccomp profile refuses with EPERM (see seccomp/seccomp.hpp).
const std::vector<std::string>& seccomp_denylist();

// The profile for a process whose capabilities are CAPS ("CAP_SYS_PTRACE", ...). As in docker's
// default profile, a syscall that only a capability makes useful is allowed when the process has
// that capability: CAP_SYS_PTRACE allows process_vm_readv/writev and kcmp, CAP_SYS_ADMIN mount,
// setns, unshare and namespace creation, ... With docker's default capabilities it is the
// default profile, the one compiled at build time.
struct SeccompProfile {
    std::vector<std::string> denied; // EPERM, in seccomp_denylist()'s order
    bool confine_namespaces = true;  // clone's namespace flags EPERM, clone3 ENOSYS
    // Fake root (--fake-root, Charliecloud's seccomp mode): these return 0 without running
    // (fake_root_syscalls()), and mknod/mknodat of a character or block device too.
    bool fake_root = false;
    bool operator==(const SeccompProfile&) const = default;
};
SeccompProfile seccomp_profile(const std::vector<std::string>& caps);

// What fake root makes succeed without doing: changing owners (chown family) and the process's
// ids (setuid family, setgroups), which fail in a user namespace that maps one id, so that
// apt-get, dpkg and package scripts run. Files stay owned by the one mapped id.
const std::vector<std::string>& fake_root_syscalls();
// The annotation a runtime spec carries when its process runs with fake root (kept in the
// container's state, so `gantry exec` gets the same filter).
inline constexpr const char* kFakeRootAnnotation = "io.gantry.fake-root";
// Whether seccomp_profile(CAPS) is the default profile (no capability in CAPS unlocks a syscall):
// the question each run asks, answered without building the profile.
bool seccomp_profile_is_default(const std::vector<std::string>& caps);

} // namespace gantry::oci
