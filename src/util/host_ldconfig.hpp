// The host's ldconfig that can run inside a container's root: an ELF binary (glibc builds it
// static), never a wrapper script. Ubuntu's /sbin/ldconfig is `#!/bin/sh ... exec ldconfig.real`,
// which cannot run in an image without /bin/sh (found on the first real GPU host: a minimal image
// got no linker cache, so dlopen("libcuda.so.1") failed and CUDA said "driver insufficient").
// nvidia-container-toolkit's config names "@/sbin/ldconfig.real" on Ubuntu for the same reason.
#pragma once

#include <string>
#include <vector>

namespace gantry::host_ldconfig {

// The first of CANDIDATES that is an executable ELF file; "" when none is.
std::string find(const std::vector<std::string>& candidates);

// find() over /sbin/ldconfig.real, /sbin/ldconfig, /usr/sbin/ldconfig.real, /usr/sbin/ldconfig.
std::string find();

// PATH itself when it is an executable ELF file; PATH.real when PATH is a script and that is one
// (Ubuntu's layout); else throws Error(invalid_input) naming PATH and the binary to give instead.
std::string resolve(const std::string& path);

} // namespace gantry::host_ldconfig
