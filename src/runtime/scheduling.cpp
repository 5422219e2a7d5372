#include "runtime/scheduling.hpp"

#include "runtime/child_failure.hpp"
#include "util/fd.hpp"

#include <cerrno>
#include <cstdint>
#include <fcntl.h>
#include <string>
#include <sys/personality.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace gantry::runtime::detail {

namespace {

// sched_setattr(2)'s struct (SCHED_ATTR_SIZE_VER1: the utilisation clamps zero)
struct GantrySchedAttr {
    std::uint32_t size;
    std::uint32_t sched_policy;
    std::uint64_t sched_flags;
    std::int32_t sched_nice;
    std::uint32_t sched_priority;
    std::uint64_t sched_runtime, sched_deadline, sched_period;
    std::uint32_t sched_util_min, sched_util_max;
};
static_assert(sizeof(GantrySchedAttr) == 56);

std::string online_numa_nodes() {
    Fd fd(::open("/sys/devices/system/node/online", O_RDONLY | O_CLOEXEC));
    char buf[256] = {};
    ssize_t n = fd ? ::read(fd.get(), buf, sizeof buf - 1) : -1;
    std::string s = n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
}

void apply_scheduler(const oci::Scheduler& s) {
    GantrySchedAttr a{};
    a.size = sizeof a;
    a.sched_policy = s.policy_number;
    a.sched_flags = s.flag_bits;
    a.sched_nice = s.nice;
    a.sched_priority = static_cast<std::uint32_t>(s.priority);
    a.sched_runtime = s.runtime;
    a.sched_deadline = s.deadline;
    a.sched_period = s.period;
    if (::syscall(SYS_sched_setattr, 0, &a, 0) == 0) return;
    const int err = errno;
    std::string hint;
    if (err == EPERM)
        hint = "real-time policies, a negative nice and SCHED_DEADLINE take CAP_SYS_NICE in the "
               "host's user namespace (root with its full capabilities), which a rootless "
               "container lacks (choose SCHED_OTHER, SCHED_BATCH or SCHED_IDLE with nice >= 0); "
               "as root, a real-time policy also needs real-time runtime in the container's "
               "cgroup where the kernel groups it (cgroup v1's cpu.rt_runtime_us, 0 in a new "
               "cgroup): set linux.resources.cpu.realtimeRuntime";
    else if (err == EINVAL && s.policy == "SCHED_DEADLINE")
        hint = "SCHED_DEADLINE needs 1024 <= runtime <= deadline <= period (period 0: the "
               "deadline), and flags the kernel knows";
    else if (err == EBUSY)
        hint = "the CPUs' deadline bandwidth is taken: lower runtime or raise period";
    errno = err;
    fail_errno("cannot set process.scheduler " + s.policy, hint);
}

void apply_io_priority(const oci::IoPriority& p) {
    constexpr int kIoprioWhoProcess = 1;
    if (::syscall(SYS_ioprio_set, kIoprioWhoProcess, 0, p.value()) == 0) return;
    const int err = errno;
    fail_errno("cannot set process.ioPriority " + p.io_class + " " + std::to_string(p.priority),
               err == EPERM ? "IOPRIO_CLASS_RT takes CAP_SYS_ADMIN (or CAP_SYS_NICE) in the host's "
                              "user namespace, which a rootless container lacks; use "
                              "IOPRIO_CLASS_BE or IOPRIO_CLASS_IDLE"
                            : "");
}

void apply_memory_policy(const oci::MemoryPolicy& m) {
    const unsigned long* mask = m.node_mask.empty() ? nullptr : m.node_mask.data();
    // the kernel reads MAXNODE - 1 bits (set_mempolicy(2)'s historical off-by-one)
    const unsigned long maxnode =
        m.node_mask.empty() ? 0 : m.node_mask.size() * sizeof(unsigned long) * 8 + 1;
    if (::syscall(SYS_set_mempolicy, m.mode_number | m.flag_bits, mask, maxnode) == 0) return;
    const int err = errno;
    std::string hint;
    if (err == EINVAL) {
        std::string online = online_numa_nodes();
        hint = "name nodes this machine has and this container may use" +
               (online.empty() ? std::string() : " (online: " + online + ")") +
               ", with a mode and flags the kernel supports (MPOL_F_NUMA_BALANCING only with "
               "MPOL_BIND)";
    } else if (err == ENOSYS) {
        hint = "this kernel has no NUMA support (CONFIG_NUMA): leave linux.memoryPolicy out";
    }
    errno = err;
    fail_errno("cannot set linux.memoryPolicy " + m.mode +
                   (m.nodes.empty() ? std::string() : " nodes \"" + m.nodes + "\""),
               hint);
}

} // namespace

void apply_scheduling(const oci::RuntimeSpec& s) {
    if (!s.personality.empty() &&
        ::personality(s.personality == "LINUX32" ? PER_LINUX32 : PER_LINUX) < 0)
        fail_errno("cannot set linux.personality " + s.personality);
    if (s.memory_policy) apply_memory_policy(*s.memory_policy);
    if (s.io_priority) apply_io_priority(*s.io_priority);
    if (s.scheduler) apply_scheduler(*s.scheduler);
}

} // namespace gantry::runtime::detail
