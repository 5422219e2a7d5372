#include "runtime/kernel_settings.hpp"

#include "oci/spec_checks.hpp"
#include "runtime/child_failure.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <linux/magic.h>
#include <string>
#include <sys/vfs.h>
#include <unistd.h>

namespace gantry::runtime::detail {

void write_sysctls(int rootfd, const oci::RuntimeSpec& spec) {
    for (auto& [key, value] : spec.sysctl) {
        const std::string what = "linux.sysctl \"" + key + "\"";
        const std::string file = "proc/sys/" + oci::sysctl_path(key);
        Fd fd(fs::openat_in_root(rootfd, file, O_WRONLY | O_NOFOLLOW));
        if (!fd)
            fail_errno("cannot open /" + file + " for " + what,
                       errno == ENOENT ? "the container needs /proc mounted (a \"proc\" mount), "
                                         "and this kernel must have the sysctl"
                                       : "");
        struct statfs sfs {};
        if (::fstatfs(fd.get(), &sfs) != 0 || sfs.f_type != PROC_SUPER_MAGIC)
            fail(Errc::run_failed, "/" + file + " is not in a procfs: cannot write " + what,
                 "mount proc on /proc in the spec's mounts");
        if (::write(fd.get(), value.data(), value.size()) != static_cast<ssize_t>(value.size()))
            fail_errno("cannot write \"" + value + "\" to /" + file + " for " + what);
    }
}

std::optional<Error> set_oom_score_adj(const std::optional<int>& adj, pid_t pid) {
    if (!adj) return std::nullopt;
    std::string file = pid ? "/proc/" + std::to_string(pid) + "/oom_score_adj"
                           : std::string("/proc/self/oom_score_adj");
    std::string v = std::to_string(*adj);
    Fd fd(::open(file.c_str(), O_WRONLY | O_CLOEXEC));
    if (fd && ::write(fd.get(), v.data(), v.size()) == static_cast<ssize_t>(v.size()))
        return std::nullopt;
    int err = errno;
    return Error(Errc::run_failed,
                 "cannot set process.oomScoreAdj " + v + ": " + file + ": " + std::strerror(err),
                 err == EACCES || err == EPERM
                     ? "lowering oom_score_adj takes CAP_SYS_RESOURCE in the host's "
                       "user namespace (root with its full capabilities); raise it instead"
                     : "");
}

} // namespace gantry::runtime::detail
