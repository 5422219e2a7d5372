#include "sandbox/thread_confinement.hpp"

#include "oci/seccomp_spec.hpp"
#include "seccomp/seccomp.hpp"
#include "util/error.hpp"

#include <cerrno>
#include <cstring>
#include <linux/capability.h>
#include <map>
#include <memory>
#include <mutex>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace gantry::sandbox {

std::vector<sock_filter> confinement_program(const std::vector<std::string>& syscalls) {
    oci::SeccompSpec spec;
    spec.default_action = oci::ScmpAction::errno_ret;
    spec.default_errno_ret = EPERM;
    spec.flags = 0;
    for (const auto& name : syscalls) spec.rules.push_back({name, oci::ScmpAction::allow, {}, {}});
    return seccomp::seccomp_program(spec);
}

void confine_this_thread(const std::vector<sock_filter>& program) {
    auto fail = [](const char* step) {
        throw Error(Errc::run_failed, std::string("cannot confine the squashfs server (") + step +
                                          "): " + std::strerror(errno));
    };
    int death_signal = 0; // PR_SET_PDEATHSIG's, this thread's (0: none)
    if (::prctl(PR_GET_PDEATHSIG, &death_signal, 0, 0, 0) != 0) fail("parent-death signal");
    const pid_t parent = ::getppid();
    // the bounding set first (dropping it needs CAP_SETPCAP, which goes next)
    for (int cap = 0; cap <= CAP_LAST_CAP; ++cap)
        if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL && errno != EPERM)
            fail("bounding set");
    if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL)
        fail("ambient set");
    if (::geteuid() == 0) { // raw calls: this thread only (glibc's would signal every thread)
        constexpr unsigned nobody = 65534;
        if (::syscall(SYS_setgroups, 0, nullptr) != 0) fail("groups");
        if (::syscall(SYS_setresgid, nobody, nobody, nobody) != 0) fail("group id");
        if (::syscall(SYS_setresuid, nobody, nobody, nobody) != 0) fail("user id");
    }
    __user_cap_header_struct head{_LINUX_CAPABILITY_VERSION_3, 0}; // 0: this thread
    __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
    if (::syscall(SYS_capset, &head, data) != 0) fail("capabilities");
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) fail("no_new_privs");
    // The kernel clears a parent-death signal when the ids change (nobody, above): armed again,
    // and a parent that ended meanwhile (this process reparented) is an error, so that a
    // process that must die with its parent (fuse/server.cpp) never outlives it
    if (death_signal != 0) {
        if (::prctl(PR_SET_PDEATHSIG, death_signal, 0, 0, 0) != 0) fail("parent-death signal");
        if (::getppid() != parent)
            throw Error(Errc::run_failed,
                        "the process the squashfs server was started for has ended");
    }
    seccomp::load_seccomp(program, 0);
}

std::function<void()> confinement(const std::vector<std::string>& syscalls) {
    static std::mutex mutex;
    static std::map<const void*, std::shared_ptr<const std::vector<sock_filter>>> compiled;
    std::lock_guard lock(mutex);
    auto& program = compiled[&syscalls];
    if (!program)
        program = std::make_shared<const std::vector<sock_filter>>(confinement_program(syscalls));
    return [program] { confine_this_thread(*program); };
}

} // namespace gantry::sandbox
