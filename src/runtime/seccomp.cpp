#include "runtime/seccomp.hpp"

#include "oci/seccomp_profile.hpp"
#include "util/error.hpp"

#include <cerrno>
#include <cstring>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace gantry::runtime {

namespace {
// kDefaultSeccomp: the profile compiled to BPF at build time by tools/seccomp_bpf.cpp.
#include "seccomp_default.inc"
} // namespace

const std::vector<std::string>& seccomp_denied_syscalls() {
    return oci::seccomp_denylist();
}

void load_default_seccomp() {
    sock_fprog prog{static_cast<unsigned short>(sizeof kDefaultSeccomp / sizeof kDefaultSeccomp[0]),
                    const_cast<sock_filter*>(kDefaultSeccomp)};
    if (::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0)
        throw Error(Errc::run_failed,
                    std::string("cannot load the seccomp profile: ") + std::strerror(errno),
                    "run with --security-opt seccomp=unconfined to start without it");
}

} // namespace gantry::runtime
