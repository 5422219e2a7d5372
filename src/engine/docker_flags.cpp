#include "engine/docker_flags.hpp"

#include "util/error.hpp"
#include "util/text.hpp"
#include "util/units.hpp"

#include <cctype>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <string_view>
#include <sys/stat.h>
#include <unistd.h>

namespace gantry::engine {

namespace {

void check_health_duration(const std::string& value, const char* flag) {
    if (value.empty()) return;
    try {
        if (units::parse_duration(value) < 0) throw Error(Errc::usage, "negative");
    } catch (const Error&) {
        throw Error(Errc::usage, std::string(flag) + " \"" + value + "\" is not a duration",
                    "give a duration such as 30s, 1m30s or 500ms");
    }
}

} // namespace

AttachedStreams attached_streams(const RunRequest& r) {
    AttachedStreams a;
    if (r.attach.empty()) return a;
    if (r.detach)
        throw Error(Errc::usage, "conflicting options: -a/--attach and -d/--detach",
                    "a detached container's output goes to `gantry logs NAME`; drop one of them");
    a = {false, false, false};
    for (auto& s : r.attach) {
        auto name = text::lower(s);
        if (name == "stdin")
            a.in = true;
        else if (name == "stdout")
            a.out = true;
        else if (name == "stderr")
            a.err = true;
        else
            throw Error(Errc::usage, "-a/--attach \"" + s + "\": not a stream",
                        "give STDIN, STDOUT or STDERR (repeat -a for several)");
    }
    if (!a.err)
        throw Error(Errc::run_failed,
                    "-a without STDERR: gantry runs the container itself, and its own messages "
                    "share the container's stderr, so it cannot leave STDERR out",
                    "add -a STDERR and send it elsewhere yourself (2>/dev/null)");
    return a;
}

int signal_number(const std::string& text, const std::string& flag) {
    if (!text.empty() && text::all_digits(text)) {
        auto n = text::to_u32(text);
        if (n && *n > 0 && *n < static_cast<unsigned>(NSIG)) return static_cast<int>(*n);
    } else {
        std::string name = text;
        for (auto& c : name) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        if (name.starts_with("SIG")) name = name.substr(3);
        for (int n = 1; n < NSIG; ++n)
            if (const char* abbrev = ::sigabbrev_np(n); abbrev && name == abbrev) return n;
    }
    throw Error(Errc::usage, flag + " \"" + text + "\": not a signal",
                "give a name (SIGTERM, TERM, SIGINT) or a number (15)");
}

void check_docker_flags(const RunRequest& r) {
    attached_streams(r);
    if (!r.stop_signal.empty()) signal_number(r.stop_signal, "--stop-signal");
    if (r.stop_timeout < -1)
        throw Error(Errc::usage,
                    "--stop-timeout " + std::to_string(r.stop_timeout) + " is below -1",
                    "give the seconds `gantry stop` waits before SIGKILL (-1: forever)");
    check_health_duration(r.health_interval, "--health-interval");
    check_health_duration(r.health_timeout, "--health-timeout");
    check_health_duration(r.health_start_period, "--health-start-period");
    if (r.health_retries < 0)
        throw Error(Errc::usage, "--health-retries must not be negative",
                    "give the failures in a row that make a container unhealthy");
    bool asks_health = !r.health_cmd.empty() || !r.health_interval.empty() ||
                       !r.health_timeout.empty() || !r.health_start_period.empty() ||
                       r.health_retries != 0;
    if (r.no_healthcheck && asks_health)
        throw Error(Errc::usage, "--no-healthcheck conflicts with the --health-* options",
                    "drop one of them");
    // a check needs the container's record: its checker finds it there (engine/health.hpp)
    if ((!r.health_cmd.empty() || !r.health_test.empty()) && !recorded(r))
        throw Error(Errc::usage,
                    "--health-cmd: a foreground run without --name is not recorded, so nothing "
                    "could check it or show its health",
                    "give it a --name, or run it with -d");
    if (!r.cidfile.empty()) {
        struct stat st {};
        if (::lstat(r.cidfile.c_str(), &st) == 0)
            throw Error(Errc::conflict,
                        "--cidfile " + r.cidfile +
                            ": the file exists (a container ID file, as docker refuses it)",
                        "make sure the other container is not running, then delete " + r.cidfile);
    }
}

void detach_unattached_streams(const AttachedStreams& a) {
    if (a.in && a.out && a.err) return;
    int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null < 0) throw_errno("cannot open /dev/null");
    if (!a.in) ::dup2(null, STDIN_FILENO);
    if (!a.out) ::dup2(null, STDOUT_FILENO);
    ::close(null);
}

void write_cidfile(const std::string& path, const std::string& id) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        throw Error(errno == EEXIST ? Errc::conflict : Errc::io,
                    "--cidfile " + path + ": cannot create it: " + std::strerror(errno),
                    "give a new file in a directory you can write");
    bool ok = ::write(fd, id.data(), id.size()) == static_cast<ssize_t>(id.size());
    ::close(fd);
    if (!ok) throw Error(Errc::io, "--cidfile " + path + ": the write failed");
}

} // namespace gantry::engine
