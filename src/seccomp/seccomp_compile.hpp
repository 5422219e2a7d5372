// A seccomp profile compiled to classic BPF with libseccomp, through a table of its functions:
// gantry's own profile (oci/seccomp_profile.hpp; seccomp_compile.cpp) and a bundle's
// linux.seccomp (oci/seccomp_spec.hpp; seccomp_compile_spec.cpp, for `gantry oci`). The build
// tool links libseccomp (the default profile, compiled once); gantry loads it with dlopen only for
// a profile that differs (--cap-add of a capability that unlocks syscalls, a bundle's profile).
// No dependencies beyond the profile: the build tool links seccomp_compile.cpp alone.
#pragma once

#include "oci/seccomp_profile.hpp"
#include "oci/seccomp_spec.hpp"

#include <cstdint>
#include <linux/filter.h>
#include <seccomp.h>
#include <vector>

namespace gantry::seccomp {

struct SeccompApi {
    scmp_filter_ctx (*init)(std::uint32_t def_action);
    void (*release)(scmp_filter_ctx ctx);
    int (*attr_set)(scmp_filter_ctx ctx, enum scmp_filter_attr attr, std::uint32_t value);
    int (*resolve_name)(const char* name);
    int (*rule_add_array)(scmp_filter_ctx ctx, std::uint32_t action, int syscall,
                          unsigned int arg_cnt, const struct scmp_arg_cmp* arg_array);
    int (*export_bpf)(const scmp_filter_ctx ctx, int fd);
    // a bundle's profile only (compile_seccomp_spec): the build tool leaves them null
    std::uint32_t (*arch_resolve_name)(const char* arch_name);
    int (*arch_add)(scmp_filter_ctx ctx, std::uint32_t arch_token);
};

// Allow by default; the profile's syscalls fail with EPERM; unless the profile lets them,
// clone's namespace flags fail with EPERM and clone3 with ENOSYS (so libc falls back to clone,
// whose flags can be inspected). Throws std::runtime_error naming the step that failed.
std::vector<sock_filter> compile_seccomp(const SeccompApi& api, const oci::SeccompProfile& profile);

// A bundle's linux.seccomp, as runc compiles it (libcontainer/seccomp/seccomp_linux.go): its
// default action, its architectures added, one rule per syscall name (names libseccomp does not
// know are skipped, rules whose action is the default one too), the conditions of a rule in one
// libseccomp rule, or one rule per condition when two test the same argument. The filter flags
// (spec.flags) are for seccomp(2), not in the program. Throws std::runtime_error naming the step.
std::vector<sock_filter> compile_seccomp_spec(const SeccompApi& api, const oci::SeccompSpec& spec);

// CTX's program, exported by libseccomp and read back (shared by both compilers).
std::vector<sock_filter> export_seccomp(const SeccompApi& api, scmp_filter_ctx ctx);

} // namespace gantry::seccomp
