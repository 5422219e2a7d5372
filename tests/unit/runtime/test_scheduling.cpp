// runtime::detail::apply_scheduling in a forked child (the settings are the calling thread's):
// SCHED_BATCH with a nice value, an I/O priority and a bind memory policy read back with
// sched_getattr, ioprio_get and get_mempolicy; a node the machine lacks refused naming the field.
#include "oci/scheduling.hpp"
#include "runtime/child_failure.hpp"
#include "runtime/scheduling.hpp"

#include <cstdint>
#include <gtest/gtest.h>
#include <string>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

namespace runtime_scheduling_test {

namespace oci = gantry::oci;
using gantry::runtime::detail::apply_scheduling;
using gantry::runtime::detail::ChildFail;

namespace {

// Runs BODY in a forked child; its exit status (BODY's return), or -1 for a signal.
template <class F>
int sched_in_child(F&& body) {
    pid_t pid = ::fork();
    if (pid == 0) ::_exit(body());
    int st = 0;
    ::waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

oci::RuntimeSpec batch_spec() {
    oci::RuntimeSpec s;
    s.scheduler = oci::parse_scheduler({{"policy", "SCHED_BATCH"}, {"nice", 5}});
    s.io_priority = oci::parse_io_priority({{"class", "IOPRIO_CLASS_BE"}, {"priority", 3}});
    s.memory_policy = oci::parse_memory_policy({{"mode", "MPOL_BIND"}, {"nodes", "0"}});
    return s;
}

} // namespace

TEST(RuntimeScheduling, AppliedToTheCallingProcess) {
    if (::access("/sys/devices/system/node/node0", F_OK) != 0)
        GTEST_SKIP() << "this kernel has no NUMA nodes (CONFIG_NUMA off): no memory policy";
    const oci::RuntimeSpec s = batch_spec();
    int rc = sched_in_child([&] {
        try {
            apply_scheduling(s);
        } catch (const ChildFail&) {
            return 10;
        }
        struct {
            std::uint32_t size, policy;
            std::uint64_t flags;
            std::int32_t nice;
            std::uint32_t priority;
            std::uint64_t runtime, deadline, period;
            std::uint32_t util_min, util_max;
        } a{};
        if (::syscall(SYS_sched_getattr, 0, &a, sizeof a, 0) != 0) return 11;
        if (a.policy != 3 || a.nice != 5) return 12;
        if (::syscall(SYS_ioprio_get, 1, 0) != (2 << 13 | 3)) return 13;
        int mode = -1;
        unsigned long mask[16] = {};
        if (::syscall(SYS_get_mempolicy, &mode, mask, 1024ul, nullptr, 0ul) != 0) return 14;
        return mode == 2 && mask[0] == 1 ? 0 : 15;
    });
    EXPECT_EQ(rc, 0) << "10: refused, 11-15: a value not read back";
}

TEST(RuntimeScheduling, ANodeTheMachineLacksIsRefusedNamingTheField) {
    oci::RuntimeSpec s;
    s.memory_policy = oci::parse_memory_policy({{"mode", "MPOL_BIND"}, {"nodes", "1023"}});
    int rc = sched_in_child([&] {
        try {
            apply_scheduling(s);
        } catch (const ChildFail& f) {
            return f.message.starts_with("cannot set linux.memoryPolicy MPOL_BIND nodes \"1023\"")
                       ? 0
                       : 2;
        }
        return 1;
    });
    EXPECT_EQ(rc, 0) << "1: applied, 2: another message";
}

} // namespace runtime_scheduling_test
