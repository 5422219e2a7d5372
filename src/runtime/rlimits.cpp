#include "runtime/rlimits.hpp"

#include <cerrno>
#include <cstring>
#include <sys/resource.h>

namespace gantry::runtime::detail {

namespace {

int rlimit_resource(const std::string& type) {
    static const std::pair<const char*, int> known[] = {{"RLIMIT_AS", RLIMIT_AS},
                                                        {"RLIMIT_CORE", RLIMIT_CORE},
                                                        {"RLIMIT_CPU", RLIMIT_CPU},
                                                        {"RLIMIT_DATA", RLIMIT_DATA},
                                                        {"RLIMIT_FSIZE", RLIMIT_FSIZE},
                                                        {"RLIMIT_LOCKS", RLIMIT_LOCKS},
                                                        {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},
                                                        {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE},
                                                        {"RLIMIT_NICE", RLIMIT_NICE},
                                                        {"RLIMIT_NOFILE", RLIMIT_NOFILE},
                                                        {"RLIMIT_NPROC", RLIMIT_NPROC},
                                                        {"RLIMIT_RSS", RLIMIT_RSS},
                                                        {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},
                                                        {"RLIMIT_RTTIME", RLIMIT_RTTIME},
                                                        {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
                                                        {"RLIMIT_STACK", RLIMIT_STACK}};
    for (auto& [name, res] : known)
        if (type == name) return res;
    return -1;
}

std::string limit_text(std::uint64_t v) {
    return v == RLIM_INFINITY ? "unlimited" : std::to_string(v);
}

} // namespace

std::optional<Error> apply_rlimits(const std::vector<oci::Rlimit>& limits, pid_t pid) {
    for (auto& l : limits) {
        std::string name = l.type.starts_with("RLIMIT_") ? l.type.substr(7) : l.type;
        for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        std::string what = "--ulimit " + name + "=" + limit_text(l.soft) + ":" + limit_text(l.hard);
        int res = rlimit_resource(l.type);
        if (res < 0)
            return Error(Errc::run_failed, "unknown rlimit type \"" + l.type + "\"",
                         "use one of RLIMIT_NOFILE, RLIMIT_MEMLOCK, RLIMIT_STACK, ...");
        struct rlimit now {};
        ::prlimit(pid, static_cast<__rlimit_resource>(res), nullptr, &now);
        struct rlimit want {
            static_cast<rlim_t>(l.soft), static_cast<rlim_t>(l.hard)
        };
        if (::prlimit(pid, static_cast<__rlimit_resource>(res), &want, nullptr) == 0) continue;
        int err = errno;
        if (err == EPERM && want.rlim_max > now.rlim_max) {
            std::string upper = name;
            for (auto& c : upper)
                c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
            return Error(
                Errc::run_failed,
                "cannot set " + what + ": the hard limit here is " + limit_text(now.rlim_max) +
                    ", and raising a hard limit takes root's CAP_SYS_RESOURCE, which "
                    "gantry does not have here",
                "raise this user's limit (/etc/security/limits.conf, systemd's Limit" + upper +
                    "=, or `ulimit -H` in the shell that starts gantry), or ask for at "
                    "most " +
                    limit_text(now.rlim_max));
        }
        return Error(Errc::run_failed, "cannot set " + what + ": " + std::strerror(err),
                     res == RLIMIT_NOFILE ? "the kernel caps open files at fs.nr_open (sysctl)"
                                          : "");
    }
    return std::nullopt;
}

} // namespace gantry::runtime::detail
