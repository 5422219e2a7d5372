#include "engine/squashfs.hpp"

#include "runtime/thread_confinement.hpp"
#include "sqsh/server.hpp"

namespace gantry::engine {

namespace {

// What the lazy tree's serving process may call: the squashfs server's calls, and a libcurl
// client's (sockets, poll, name resolution reading /etc/hosts, its resolver thread, the backoff's
// sleeps) and the local copies' writes.
const std::vector<std::string>& lazy_server_calls() {
    static const std::vector<std::string> names = [] {
        std::vector<std::string> v = sqsh::Server::syscalls();
        for (const char* n : {"socket",        "connect",         "getsockopt",
                              "setsockopt",    "getsockname",     "getpeername",
                              "sendto",        "recvfrom",        "sendmsg",
                              "recvmsg",       "sendmmsg",        "recvmmsg",
                              "bind",          "shutdown",        "poll",
                              "ppoll",         "select",          "pselect6",
                              "epoll_create1", "epoll_ctl",       "epoll_wait",
                              "epoll_pwait",   "pipe2",           "eventfd2",
                              "socketpair",    "fcntl",           "ioctl",
                              "close",         "openat",          "newfstatat",
                              "fstat",         "lseek",           "pwrite64",
                              "getrandom",     "clock_nanosleep", "nanosleep",
                              "clone",         "clone3",          "set_robust_list",
                              "rseq",          "rt_sigaction",    "uname",
                              "getuid",        "geteuid",         "getgid",
                              "getegid",       "prlimit64",       "sysinfo",
                              "statfs",        "fstatfs",         "access",
                              "faccessat",     "faccessat2",      "readlink",
                              "tgkill",        "getcwd",          "sched_getaffinity",
                              "membarrier"})
            v.push_back(n);
        return v;
    }();
    return names;
}

} // namespace

std::function<void()> squashfs_confinement() {
    static const std::vector<sock_filter> program =
        runtime::confinement_program(sqsh::Server::syscalls());
    return [] { runtime::confine_this_thread(program); };
}

std::function<void()> lazy_confinement() {
    static const std::vector<sock_filter> program =
        runtime::confinement_program(lazy_server_calls());
    return [] { runtime::confine_this_thread(program); };
}

SquashfsFile open_squashfs(const std::string& path, bool want_passwd) {
    SquashfsFile f;
    f.image = sqsh::open_deferred(path);
    f.facts = sqsh::read_facts(*f.image, want_passwd, squashfs_confinement());
    return f;
}

} // namespace gantry::engine
