// gantry's default seccomp profile: allow by default, refuse (EPERM) the syscalls docker's
// default profile refuses to unprivileged containers: kernel modules, kexec, keyrings, bpf,
// perf, namespace creation (user namespaces included), mount/pivot_root, clock and swap
// control, cross-process memory access, and obsolete calls. NUMA policy calls and ptrace of
// one's own children stay allowed (HPC codes and debuggers need them). clone3 returns ENOSYS so
// libc falls back to clone, whose namespace flags can be checked.
#pragma once

#include "oci/seccomp_spec.hpp"

#include <linux/filter.h>
#include <string>
#include <vector>

namespace gantry::seccomp {

const std::vector<std::string>& seccomp_denied_syscalls();

// The filter for a process with capabilities CAPS (oci::seccomp_profile): empty for the default
// profile, which was compiled at build time; else compiled now with libseccomp, loaded with
// dlopen (Error(unsupported) naming the package when it cannot be).
// FAKE_ROOT adds fake root's rules (oci::fake_root_syscalls), always compiled now.
std::vector<sock_filter> seccomp_program(const std::vector<std::string>& caps,
                                         bool fake_root = false);
// A bundle's linux.seccomp (`gantry oci`), compiled with libseccomp loaded with dlopen: never
// empty. Throws Error(run_failed) naming the step that failed.
std::vector<sock_filter> seccomp_program(const oci::SeccompSpec& spec);
// The default profile's program as the build compiled it (tools/seccomp_bpf.cpp, for the
// architecture gantry was built for: a cross build runs the tool under the target's emulator).
std::vector<sock_filter> default_program();
// What `gantry oci` loads for a bundle's profile: its program and seccomp(2)'s filter flags.
struct SeccompFilter {
    std::vector<sock_filter> program;
    unsigned flags = 0; // oci::kScmpFlag*
};
// Loads PROGRAM (empty: the default profile) into the calling thread with seccomp(2)'s FLAGS
// (no_new_privs must be set, or CAP_SYS_ADMIN held). Throws Error.
void load_seccomp(const std::vector<sock_filter>& program, unsigned flags = 0);

} // namespace gantry::seccomp
