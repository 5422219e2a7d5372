// A seccomp profile (oci/seccomp_profile.hpp) compiled to classic BPF with libseccomp, through
// a table of its functions: the build tool links libseccomp (the default profile, compiled once),
// gantry loads it with dlopen only for a profile that differs (--cap-add of a capability that
// unlocks syscalls). No dependencies beyond the profile: the build tool links this file.
#pragma once

#include "oci/seccomp_profile.hpp"

#include <cstdint>
#include <linux/filter.h>
#include <seccomp.h>
#include <vector>

namespace gantry::runtime {

struct SeccompApi {
    scmp_filter_ctx (*init)(std::uint32_t def_action);
    void (*release)(scmp_filter_ctx ctx);
    int (*attr_set)(scmp_filter_ctx ctx, enum scmp_filter_attr attr, std::uint32_t value);
    int (*resolve_name)(const char* name);
    int (*rule_add_array)(scmp_filter_ctx ctx, std::uint32_t action, int syscall,
                          unsigned int arg_cnt, const struct scmp_arg_cmp* arg_array);
    int (*export_bpf)(const scmp_filter_ctx ctx, int fd);
};

// Allow by default; the profile's syscalls fail with EPERM; unless the profile lets them,
// clone's namespace flags fail with EPERM and clone3 with ENOSYS (so libc falls back to clone,
// whose flags can be inspected). Throws std::runtime_error naming the step that failed.
std::vector<sock_filter> compile_seccomp(const SeccompApi& api, const oci::SeccompProfile& profile);

} // namespace gantry::runtime
