#include "oci/seccomp_profile.hpp"

#include <initializer_list>

namespace gantry::oci {

const std::vector<std::string>& seccomp_denylist() {
    static const std::vector<std::string> names = {"acct",
                                                   "add_key",
                                                   "bpf",
                                                   "clock_adjtime",
                                                   "clock_settime",
                                                   "create_module",
                                                   "delete_module",
                                                   "finit_module",
                                                   "fanotify_init",
                                                   "fsconfig",
                                                   "fsmount",
                                                   "fsopen",
                                                   "fspick",
                                                   "get_kernel_syms",
                                                   "init_module",
                                                   "ioperm",
                                                   "iopl",
                                                   "kcmp",
                                                   "kexec_file_load",
                                                   "kexec_load",
                                                   "keyctl",
                                                   "lookup_dcookie",
                                                   "mount",
                                                   "mount_setattr",
                                                   "move_mount",
                                                   "name_to_handle_at",
                                                   "nfsservctl",
                                                   "open_by_handle_at",
                                                   "open_tree",
                                                   "perf_event_open",
                                                   "pivot_root",
                                                   "process_vm_readv",
                                                   "process_vm_writev",
                                                   "query_module",
                                                   "quotactl",
                                                   "quotactl_fd",
                                                   "reboot",
                                                   "request_key",
                                                   "setns",
                                                   "settimeofday",
                                                   "stime",
                                                   "swapoff",
                                                   "swapon",
                                                   "_sysctl",
                                                   "sysfs",
                                                   "syslog",
                                                   "umount",
                                                   "umount2",
                                                   "unshare",
                                                   "uselib",
                                                   "userfaultfd",
                                                   "ustat",
                                                   "vm86",
                                                   "vm86old"};
    return names;
}

namespace {

struct Unlock {
    const char* cap;
    std::initializer_list<const char*> syscalls;
};
// Of the syscalls refused by default, those docker's profile allows with a capability (constant
// data: nothing is built at gantry's start for it).
constexpr Unlock kUnlocked[] = {
    {"CAP_DAC_READ_SEARCH", {"open_by_handle_at"}},
    {"CAP_SYS_ADMIN",
     {"bpf", "fanotify_init", "fsconfig", "fsmount", "fsopen", "fspick", "lookup_dcookie", "mount",
      "mount_setattr", "move_mount", "open_tree", "perf_event_open", "quotactl", "quotactl_fd",
      "setns", "syslog", "umount", "umount2", "unshare"}},
    {"CAP_SYS_BOOT", {"reboot"}},
    {"CAP_SYS_MODULE", {"delete_module", "init_module", "finit_module"}},
    {"CAP_SYS_PACCT", {"acct"}},
    {"CAP_SYS_PTRACE", {"kcmp", "process_vm_readv", "process_vm_writev"}},
    {"CAP_SYS_RAWIO", {"iopl", "ioperm"}},
    {"CAP_SYS_TIME", {"settimeofday", "stime", "clock_settime"}},
    {"CAP_SYSLOG", {"syslog"}},
    {"CAP_BPF", {"bpf"}},
    {"CAP_PERFMON", {"perf_event_open"}}};

} // namespace

const std::vector<std::string>& fake_root_syscalls() {
    static const std::vector<std::string> calls = {
        "chown",       "fchown",      "lchown",      "fchownat",   "chown32",
        "fchown32",    "lchown32",    "setuid",      "setgid",     "setreuid",
        "setregid",    "setresuid",   "setresgid",   "setgroups",  "setfsuid",
        "setfsgid",    "setuid32",    "setgid32",    "setreuid32", "setregid32",
        "setresuid32", "setresgid32", "setgroups32", "setfsuid32", "setfsgid32"};
    return calls;
}

bool seccomp_profile_is_default(const std::vector<std::string>& caps) {
    for (auto& c : caps)
        for (auto& u : kUnlocked)
            if (c == u.cap) return false;
    return true;
}

SeccompProfile seccomp_profile(const std::vector<std::string>& caps) {
    auto has = [&](const std::string& c) {
        for (auto& x : caps)
            if (x == c) return true;
        return false;
    };
    SeccompProfile p;
    p.confine_namespaces = !has("CAP_SYS_ADMIN");
    for (auto& name : seccomp_denylist()) {
        bool allowed = false;
        for (auto& u : kUnlocked)
            for (const char* n : u.syscalls)
                if (name == n && has(u.cap)) allowed = true;
        if (!allowed) p.denied.push_back(name);
    }
    return p;
}

} // namespace gantry::oci
