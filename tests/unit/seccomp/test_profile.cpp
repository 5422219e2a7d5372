// The seccomp profile that follows a container's capabilities (oci::seccomp_profile), as docker's
// default profile, and its program (seccomp::seccomp_program): the default one compiled at build
// time, another compiled at run time with libseccomp, fake root's rules; each loaded in a child.
#include "oci/runtime_spec.hpp"
#include "oci/seccomp_profile.hpp"
#include "seccomp/seccomp.hpp"

#include <algorithm>
#include <cerrno>
#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <string>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace seccomp_profile_test {

namespace oci = gantry::oci;
using Caps = std::vector<std::string>;

namespace {

bool has(const Caps& caps, const std::string& c) {
    return std::find(caps.begin(), caps.end(), c) != caps.end();
}

// In a child with no_new_privs: loads PROGRAM, then reads its own memory with process_vm_readv;
// the errno that call failed with, or 0.
int process_vm_readv_errno(const std::vector<sock_filter>& program) {
    pid_t child = ::fork();
    if (child == 0) {
        ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
        try {
            gantry::seccomp::load_seccomp(program);
        } catch (...) {
            ::_exit(100);
        }
        char from[8] = "secret", to[8] = {};
        iovec local{to, sizeof to}, remote{from, sizeof from};
        ssize_t n = ::process_vm_readv(::getpid(), &local, 1, &remote, 1, 0);
        ::_exit(n == static_cast<ssize_t>(sizeof from) ? 0 : errno);
    }
    int st = 0;
    ::waitpid(child, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

} // namespace

TEST(SeccompProfile, DockersDefaultCapabilitiesGetTheCompiledProfile) {
    EXPECT_TRUE(oci::seccomp_profile_is_default(oci::default_capabilities()));
    EXPECT_EQ(oci::seccomp_profile(oci::default_capabilities()), oci::seccomp_profile({}));
    EXPECT_EQ(oci::seccomp_profile({}).denied, oci::seccomp_denylist());
    EXPECT_TRUE(oci::seccomp_profile({}).confine_namespaces);
    EXPECT_TRUE(gantry::seccomp::seccomp_program(oci::default_capabilities()).empty());
}

TEST(SeccompProfile, ACapabilityAllowsItsSyscalls) {
    auto ptrace = oci::seccomp_profile({"CAP_SYS_PTRACE"});
    EXPECT_FALSE(oci::seccomp_profile_is_default({"CAP_SYS_PTRACE"}));
    for (const char* n : {"process_vm_readv", "process_vm_writev", "kcmp"})
        EXPECT_FALSE(has(ptrace.denied, n)) << n;
    EXPECT_TRUE(has(ptrace.denied, "mount"));
    EXPECT_TRUE(ptrace.confine_namespaces);
    auto admin = oci::seccomp_profile({"CAP_SYS_ADMIN"});
    for (const char* n : {"mount", "umount2", "unshare", "setns", "open_tree", "move_mount"})
        EXPECT_FALSE(has(admin.denied, n)) << n;
    EXPECT_FALSE(admin.confine_namespaces);
    for (const char* n : {"kexec_load", "init_module", "keyctl", "process_vm_readv"})
        EXPECT_TRUE(has(admin.denied, n)) << n; // never, or another capability's
    EXPECT_TRUE(has(oci::seccomp_profile({"CAP_IPC_LOCK"}).denied, "mount"));
    EXPECT_TRUE(oci::seccomp_profile_is_default({"CAP_IPC_LOCK"}));
}

TEST(SeccompProfile, TheProgramCompiledAtRunTimeAllowsWhatItShould) {
    EXPECT_EQ(process_vm_readv_errno({}), EPERM); // the default profile, compiled at build time
    auto program = gantry::seccomp::seccomp_program({"CAP_SYS_PTRACE"});
    ASSERT_FALSE(program.empty());
    EXPECT_EQ(process_vm_readv_errno(program), 0);
    EXPECT_EQ(process_vm_readv_errno(gantry::seccomp::seccomp_program({"CAP_SYS_ADMIN"})), EPERM);
}

// Fake root: as an unprivileged process (nobody, so the calls would really fail), chown to
// another owner and setgroups return 0 and change nothing; a character-device mknod returns 0
// and makes no node; a fifo is still made.
TEST(SeccompProfile, FakeRootFakesOwnersIdsAndDeviceNodes) {
    if (::geteuid() != 0) GTEST_SKIP() << "drops to nobody to make the real calls fail";
    auto program = gantry::seccomp::seccomp_program(oci::default_capabilities(), true);
    ASSERT_FALSE(program.empty());
    char dir[] = "/tmp/fakeroot.XXXXXX";
    ASSERT_NE(::mkdtemp(dir), nullptr);
    ::chmod(dir, 0777);
    std::string file = std::string(dir) + "/f", node = std::string(dir) + "/c",
                fifo = std::string(dir) + "/p";
    auto child = [&](bool fake) {
        pid_t pid = ::fork();
        if (pid == 0) {
            if (::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(90);
            ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
            if (fake) try {
                    gantry::seccomp::load_seccomp(program);
                } catch (...) {
                    ::_exit(100);
                }
            int fd = ::open(file.c_str(), O_CREAT | O_WRONLY, 0644);
            if (fd < 0) ::_exit(91);
            ::close(fd);
            int bits = 0;
            if (::chown(file.c_str(), 0, 0) == 0) bits |= 1;
            gid_t g = 0;
            if (::setgroups(1, &g) == 0) bits |= 2;
            if (::mknod(node.c_str(), S_IFCHR | 0600, ::makedev(1, 3)) == 0) bits |= 4;
            if (::mkfifo(fifo.c_str(), 0600) == 0) bits |= 8;
            ::_exit(bits);
        }
        int st = 0;
        ::waitpid(pid, &st, 0);
        return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    };
    EXPECT_EQ(child(false), 8); // the real calls: only the fifo works
    ::unlink(fifo.c_str());
    ::unlink(file.c_str());
    EXPECT_EQ(child(true), 1 | 2 | 4 | 8);
    struct stat st {};
    ASSERT_EQ(::stat(file.c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, 65534u);               // chown changed nothing
    EXPECT_NE(::access(node.c_str(), F_OK), 0); // no device node
    EXPECT_EQ(::stat(fifo.c_str(), &st), 0);
    EXPECT_TRUE(S_ISFIFO(st.st_mode));
    ::unlink(fifo.c_str());
    ::unlink(file.c_str());
    ::rmdir(dir);
}

// The program compiled at build time is for the architecture gantry was built for, not the build
// host's: libseccomp's first test is the seccomp_data's arch against its AUDIT_ARCH (an aarch64
// cross build runs tools/seccomp_bpf under qemu-aarch64-static, cmake/aarch64-linux-gnu.cmake).
TEST(SeccompProfile, DefaultProgramIsForTheBuildsArchitecture) {
#if defined(__aarch64__)
    constexpr std::uint32_t arch = AUDIT_ARCH_AARCH64;
#elif defined(__x86_64__)
    constexpr std::uint32_t arch = AUDIT_ARCH_X86_64;
#endif
    auto prog = gantry::seccomp::default_program();
    ASSERT_GE(prog.size(), 3u);
    EXPECT_EQ(prog[0].code, BPF_LD | BPF_W | BPF_ABS);
    EXPECT_EQ(prog[0].k, offsetof(seccomp_data, arch));
    EXPECT_EQ(prog[1].code, BPF_JMP | BPF_JEQ | BPF_K);
    EXPECT_EQ(prog[1].k, arch) << std::hex << prog[1].k;
    // no other architecture's test anywhere in it
    for (std::size_t i = 2; i + 1 < prog.size(); ++i) {
        if (prog[i].code == (BPF_LD | BPF_W | BPF_ABS) &&
            prog[i].k == offsetof(seccomp_data, arch)) {
            EXPECT_EQ(prog[i + 1].k, arch) << i;
        }
    }
}

} // namespace seccomp_profile_test
