// A bundle's linux.seccomp compiled (seccomp::seccomp_program, libseccomp loaded with dlopen) and
// loaded in a child does what runc's would: errnoRet, argument conditions, one rule per condition
// on a shared index, kill, unknown names skipped.
#include "oci/seccomp_spec.hpp"
#include "seccomp/seccomp.hpp"

#include <cerrno>
#include <csignal>
#include <functional>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <string>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <utility>
#include <vector>

namespace seccomp_spec_compiled_test {

using nlohmann::json;
namespace oci = gantry::oci;

namespace {

json deny(const std::string& name, json extra = json::object()) {
    json r{{"names", {name}}, {"action", "SCMP_ACT_ERRNO"}};
    r.update(extra);
    return json{{"defaultAction", "SCMP_ACT_ALLOW"}, {"syscalls", {r}}};
}

// In a child with no_new_privs: loads J's filter, runs BODY; BODY's return value is the exit
// status. The child's wait status.
int in_child(const json& j, const std::function<int()>& body) {
    auto spec = oci::SeccompSpec::from_json(j);
    EXPECT_TRUE(spec);
    auto program = gantry::seccomp::seccomp_program(*spec);
    pid_t child = ::fork();
    if (child == 0) {
        ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
        try {
            gantry::seccomp::load_seccomp(program, spec->flags);
        } catch (...) {
            ::_exit(100);
        }
        // exit_group directly: under ASan, _exit runs LeakSanitizer's scan first, which the
        // allow-list filters below deny its system calls (it then exits 86, ASan's exitcode)
        ::syscall(SYS_exit_group, body());
    }
    int st = 0;
    ::waitpid(child, &st, 0);
    return st;
}

int exit_of(int st) {
    return WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
}

std::string tmp_dir() {
    return "/tmp/gantry-seccomp-unit-" + std::to_string(::getpid());
}

} // namespace

TEST(SeccompSpecCompiled, ErrnoRetAndDefaultEperm) {
    const std::string d = tmp_dir();
    auto mkdir_errno = [&] { return ::mkdir(d.c_str(), 0700) == 0 ? 0 : errno; };
    EXPECT_EQ(exit_of(in_child(deny("mkdir", {{"errnoRet", 38}}), mkdir_errno)), 38);
    EXPECT_EQ(exit_of(in_child(deny("mkdir"), mkdir_errno)), EPERM);
    ::rmdir(d.c_str());
}

TEST(SeccompSpecCompiled, ArgumentConditions) {
    json j =
        deny("socket", {{"errnoRet", 13},
                        {"args", {{{"index", 0}, {"value", AF_INET}, {"op", "SCMP_CMP_EQ"}}}}});
    auto family = [](int af) {
        return [af] {
            int fd = ::socket(af, SOCK_STREAM, 0);
            return fd >= 0 ? 0 : errno;
        };
    };
    EXPECT_EQ(exit_of(in_child(j, family(AF_INET))), 13);
    EXPECT_EQ(exit_of(in_child(j, family(AF_UNIX))), 0);
    // MASKED_EQ: value is the mask, valueTwo the value
    json masked = deny("personality", {{"args",
                                        {{{"index", 0},
                                          {"value", 0xff},
                                          {"valueTwo", PER_LINUX32},
                                          {"op", "SCMP_CMP_MASKED_EQ"}}}}});
    auto per = [](unsigned long p) { return [p] { return ::personality(p) < 0 ? errno : 0; }; };
    EXPECT_EQ(exit_of(in_child(masked, per(PER_LINUX32 | 0x0400000))), EPERM);
    EXPECT_EQ(exit_of(in_child(masked, per(0xffffffff))), 0); // the query
}

TEST(SeccompSpecCompiled, ConditionsOnOneArgumentAreEachARule) {
    // runc: two conditions on one argument are two rules, either matching is enough
    json j = deny("socket", {{"args",
                              {{{"index", 0}, {"value", AF_INET}, {"op", "SCMP_CMP_EQ"}},
                               {{"index", 0}, {"value", AF_INET6}, {"op", "SCMP_CMP_EQ"}}}}});
    auto family = [](int af) {
        return [af] { return ::socket(af, SOCK_DGRAM, 0) >= 0 ? 0 : errno; };
    };
    EXPECT_EQ(exit_of(in_child(j, family(AF_INET))), EPERM);
    EXPECT_EQ(exit_of(in_child(j, family(AF_INET6))), EPERM);
    EXPECT_EQ(exit_of(in_child(j, family(AF_UNIX))), 0);
}

TEST(SeccompSpecCompiled, KillProcessUnknownNamesAndTheDefault) {
    json j = deny("getppid");
    j["syscalls"][0]["action"] = "SCMP_ACT_KILL_PROCESS";
    j["syscalls"].push_back({{"names", {"no_such_syscall_xyz"}}, {"action", "SCMP_ACT_ERRNO"}});
    j["flags"] = {"SECCOMP_FILTER_FLAG_LOG"};
    j["architectures"] = {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"};
    int st = in_child(j, [] { return ::getppid() > 0 ? 0 : 1; });
    EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS) << st;
    EXPECT_EQ(exit_of(in_child(j, [] { return ::getpid() > 0 ? 0 : 1; })), 0);
    // defaultAction ERRNO with defaultErrnoRet, an allow list for what the child needs
    json allow = {{"defaultAction", "SCMP_ACT_ERRNO"},
                  {"defaultErrnoRet", 38},
                  {"syscalls",
                   {{{"names", {"exit", "exit_group", "getpid"}}, {"action", "SCMP_ACT_ALLOW"}}}}};
    EXPECT_EQ(exit_of(in_child(allow, [] { return ::syscall(SYS_getppid) < 0 ? errno : 0; })), 38);
}

} // namespace seccomp_spec_compiled_test
