// The syscalls gantry's default seccomp profile refuses (EPERM), shared by the launcher's
// compiled filter (tools/seccomp_bpf.cpp) and the profile `gantry bundle` writes for runc/crun.
// No dependencies: the build tool that compiles the filter links this file alone.
#pragma once

#include <string>
#include <vector>

namespace gantry::oci {

// Syscalls gantry's default seccomp profile refuses with EPERM (see runtime/seccomp.hpp).
const std::vector<std::string>& seccomp_denylist();

} // namespace gantry::oci
