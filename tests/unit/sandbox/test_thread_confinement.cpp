// sandbox/thread_confinement: a process confined as gantry confines its FUSE servers can still make
// the system calls its list names and no other (EPERM), holds no capability, has no_new_privs, and,
// started by root, runs as nobody.
#include "sandbox/thread_confinement.hpp"

#include <cerrno>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/capability.h>
#include <string>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace sandbox_thread_confinement_test {

namespace {

// What a confined child found, one bit each; its exit status.
enum : int {
    kOpenRefused = 1,
    kSocketRefused = 2,
    kAllowedCallWorks = 4,
    kNoCapabilities = 8,
    kNoNewPrivs = 16,
    kNobodyIfRoot = 32,
    kConfineFailed = 64,
};

// the list lives as long as the process, as confinement() asks
const std::vector<std::string>& calls() {
    static const std::vector<std::string> list = {"exit_group", "getpid", "geteuid", "capget",
                                                  "prctl"};
    return list;
}

int confined_child() {
    auto confine = gantry::sandbox::confinement(calls()); // compiled before the fork
    const bool root = ::geteuid() == 0;
    const pid_t pid = ::fork();
    if (pid == 0) {
        int bits = 0;
        try {
            confine();
        } catch (...) {
            ::syscall(SYS_exit_group, kConfineFailed);
        }
        // raw calls only from here (libc's wrappers may call what the list leaves out)
        if (::syscall(SYS_openat, AT_FDCWD, "/", O_RDONLY | O_DIRECTORY) < 0 && errno == EPERM)
            bits |= kOpenRefused;
        if (::syscall(SYS_socket, AF_UNIX, SOCK_STREAM, 0) < 0 && errno == EPERM)
            bits |= kSocketRefused;
        if (::syscall(SYS_getpid) > 0) bits |= kAllowedCallWorks;
        __user_cap_header_struct head{_LINUX_CAPABILITY_VERSION_3, 0};
        __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
        if (::syscall(SYS_capget, &head, data) == 0 && data[0].effective == 0 &&
            data[1].effective == 0 && data[0].permitted == 0 && data[1].permitted == 0)
            bits |= kNoCapabilities;
        if (::syscall(SYS_prctl, PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1) bits |= kNoNewPrivs;
        if (!root || ::syscall(SYS_geteuid) == 65534) bits |= kNobodyIfRoot;
        ::syscall(SYS_exit_group, bits);
    }
    int st = 0;
    ::waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

} // namespace

TEST(SandboxConfinement, OnlyTheListedCallsNoCapabilitiesNobody) {
    EXPECT_EQ(confined_child(), kOpenRefused | kSocketRefused | kAllowedCallWorks |
                                    kNoCapabilities | kNoNewPrivs | kNobodyIfRoot);
}

} // namespace sandbox_thread_confinement_test
