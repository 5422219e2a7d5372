#include "runtime/seccomp.hpp"

#include "oci/runtime_spec.hpp"
#include "util/error.hpp"

#include <cerrno>
#include <cstring>
#include <memory>
#include <sched.h>
#include <seccomp.h>

namespace gantry::runtime {

const std::vector<std::string>& seccomp_denied_syscalls() {
    return oci::seccomp_denylist();
}

void load_default_seccomp() {
    std::unique_ptr<void, void (*)(scmp_filter_ctx)> ctx(seccomp_init(SCMP_ACT_ALLOW),
                                                         seccomp_release);
    if (!ctx) throw Error(Errc::run_failed, "cannot initialise seccomp (libseccomp)");
    for (auto& n : seccomp_denied_syscalls()) {
        int nr = seccomp_syscall_resolve_name(n.c_str());
        if (nr == __NR_SCMP_ERROR) continue; // not on this architecture
        if (seccomp_rule_add(ctx.get(), SCMP_ACT_ERRNO(EPERM), nr, 0) != 0)
            throw Error(Errc::run_failed, "cannot add seccomp rule for " + n);
    }
    int clone3 = seccomp_syscall_resolve_name("clone3");
    if (clone3 != __NR_SCMP_ERROR) seccomp_rule_add(ctx.get(), SCMP_ACT_ERRNO(ENOSYS), clone3, 0);
    // clone(2) may not create namespaces (flags are the first argument on x86_64/arm64).
    for (unsigned long f :
         {static_cast<unsigned long>(CLONE_NEWNS), static_cast<unsigned long>(CLONE_NEWUTS),
          static_cast<unsigned long>(CLONE_NEWIPC), static_cast<unsigned long>(CLONE_NEWUSER),
          static_cast<unsigned long>(CLONE_NEWPID), static_cast<unsigned long>(CLONE_NEWNET),
          static_cast<unsigned long>(CLONE_NEWCGROUP)})
        seccomp_rule_add(ctx.get(), SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
                         SCMP_A0(SCMP_CMP_MASKED_EQ, f, f));
    int rc = seccomp_load(ctx.get());
    if (rc != 0)
        throw Error(Errc::run_failed,
                    std::string("cannot load the seccomp profile: ") + std::strerror(-rc),
                    "run with --security-opt seccomp=unconfined to start without it");
}

} // namespace gantry::runtime
