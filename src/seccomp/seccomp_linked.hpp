// The SeccompApi table (seccomp/seccomp_compile.hpp) over a libseccomp linked at build time: for
// the programs that link it (the build tool that compiles the default profile, the fuzz
// harnesses); gantry itself loads libseccomp with dlopen (seccomp/seccomp.cpp).
#pragma once

#include "seccomp/seccomp_compile.hpp"

#include <seccomp.h>

namespace gantry::seccomp {

inline SeccompApi linked_seccomp_api() {
    return {seccomp_init,
            seccomp_release,
            seccomp_attr_set,
            seccomp_syscall_resolve_name,
            seccomp_rule_add_array,
            seccomp_export_bpf,
            seccomp_arch_resolve_name,
            seccomp_arch_add};
}

} // namespace gantry::seccomp
