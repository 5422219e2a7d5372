// The processes and the directory a record points at: the runtime directory records live in
// (checked private), and a recorded process's identity (its pid and start time, so that a later
// process given the same pid is never taken for it), waited on through a pidfd.
#include "records/state.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"
#include "util/text.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <optional>
#include <poll.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace gantry::records {

std::filesystem::path private_dir(const std::filesystem::path& dir, uid_t owner) {
    const std::string hint = "set XDG_RUNTIME_DIR to a directory of yours (mode 0700), or "
                             "remove " +
                             dir.string() + " if nobody else uses it";
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
        throw Error(Errc::io,
                    "cannot create the runtime directory " + dir.string() + ": " +
                        std::strerror(errno),
                    "set XDG_RUNTIME_DIR to a directory of yours (mode 0700)");
    Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd && (errno == ELOOP || errno == ENOTDIR))
        throw Error(Errc::conflict,
                    "the runtime directory " + dir.string() +
                        " is a symbolic link or a file, not a directory of yours",
                    hint);
    if (!fd)
        throw Error(Errc::io,
                    "cannot open the runtime directory " + dir.string() + ": " +
                        std::strerror(errno),
                    hint);
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) throw_errno("cannot stat " + dir.string());
    if (st.st_uid != owner)
        throw Error(Errc::conflict,
                    "the runtime directory " + dir.string() + " belongs to uid " +
                        std::to_string(st.st_uid) + ", not to you (uid " + std::to_string(owner) +
                        "): gantry keeps container state and GPU caches there, and will not "
                        "trust a directory somebody else can change",
                    hint);
    if ((st.st_mode & 077) != 0 && ::fchmod(fd.get(), 0700) != 0)
        throw_errno("cannot make the runtime directory " + dir.string() + " private");
    return dir;
}

std::filesystem::path runtime_dir() {
    const uid_t uid = ::geteuid();
    if (uid == 0) return private_dir("/run/gantry", 0);
    if (const char* x = std::getenv("XDG_RUNTIME_DIR"); x && *x == '/') { // relative: ignored
        std::error_code ec; // the user's own setting: made if missing, as before
        std::filesystem::create_directories(x, ec);
        return private_dir(std::filesystem::path(x) / "gantry", uid);
    }
    const std::string login = "/run/user/" + std::to_string(uid);
    struct stat st {};
    if (::lstat(login.c_str(), &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == uid)
        return private_dir(login + "/gantry", uid);
    return private_dir("/tmp/gantry-" + std::to_string(uid), uid);
}

namespace {

struct ProcStat {
    char state = 0;               // field 3: R, S, D, Z (exited, not yet reaped), ...
    unsigned long long start = 0; // field 22
};

std::optional<ProcStat> proc_stat(pid_t pid) {
    if (pid <= 0) return std::nullopt;
    std::string stat;
    try {
        stat = fs::read_file("/proc/" + std::to_string(pid) + "/stat", 4096);
    } catch (const Error&) {
        return std::nullopt;
    }
    auto rp = stat.rfind(')'); // comm may contain spaces and parentheses
    if (rp == std::string::npos || rp + 2 >= stat.size()) return std::nullopt;
    ProcStat ps;
    ps.state = stat[rp + 2];
    size_t pos = rp + 2;
    for (int field = 3; field < 22; ++field) {
        pos = stat.find(' ', pos);
        if (pos == std::string::npos) return std::nullopt;
        ++pos;
    }
    ps.start = std::strtoull(stat.c_str() + pos, nullptr, 10);
    return ps;
}

} // namespace

unsigned long long process_start_time(pid_t pid) {
    auto ps = proc_stat(pid);
    return ps ? ps->start : 0;
}

bool process_running(pid_t pid, unsigned long long start) {
    auto ps = proc_stat(pid);
    return start != 0 && ps && ps->start == start && ps->state != 'Z' && ps->state != 'X';
}

void await_exit(pid_t pid, unsigned long long start) {
    Fd pidfd(pid > 0 ? static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)) : -1);
    // opened first, checked second: a pidfd of a later process with the same pid is not used
    while (process_running(pid, start)) {
        pollfd p{pidfd.get(), POLLIN, 0};
        if (!pidfd || ::poll(&p, 1, -1) < 0) ::usleep(100 * 1000);
    }
}

bool await_exit(pid_t pid, unsigned long long start, double seconds) {
    using clock = std::chrono::steady_clock;
    auto end = clock::now() +
               std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(seconds));
    Fd pidfd(pid > 0 ? static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)) : -1);
    while (process_running(pid, start)) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - clock::now());
        if (left.count() <= 0) return false;
        // a pidfd wakes us when it exits; where there is none, look again every 10 ms
        pollfd p{pidfd.get(), POLLIN, 0};
        int ms = pidfd ? static_cast<int>(std::min<long long>(left.count(), 1000)) : 10;
        if (!pidfd || ::poll(&p, 1, ms) < 0) ::usleep(10 * 1000);
    }
    return true;
}

std::string now_rfc3339() {
    return text::rfc3339(std::chrono::system_clock::to_time_t(std::chrono::system_clock::now()));
}

Fd ContainerState::stdin_writer() const {
    if (stdin_fd <= 0 || !running()) return Fd();
    auto started = monitor_start();
    if (!started) return Fd();
    auto path = "/proc/" + std::to_string(monitor) + "/fd/" + std::to_string(stdin_fd);
    Fd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC | O_NOCTTY));
    if (!fd && errno == ENOENT) return Fd(); // the monitor ended meanwhile
    if (!fd)
        throw Error(Errc::io,
                    "cannot open the stdin of container " + name + " (" + path +
                        "): " + std::strerror(errno),
                    "attach as the user that runs it");
    // opened first, checked second: a pid the monitor's end freed and another process took
    // would name another descriptor, and that is never written to
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0 || !S_ISFIFO(st.st_mode) || !process_running(monitor, started))
        return Fd();
    return fd;
}

} // namespace gantry::records
