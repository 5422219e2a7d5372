// Signals to a recorded container: stop, kill and rm -f (state.hpp declares them), each
// journalling its kill event before the signal it sends; pause and unpause (its cgroup's freezer).
#include "records/events.hpp"
#include "records/state.hpp"
#include "runtime/container_cgroup.hpp"
#include "util/error.hpp"
#include "util/log.hpp"

#include <csignal>
#include <optional>
#include <signal.h>

namespace gantry::records {

namespace {

// docker's "manually stopped": a container with a restart policy that stop or kill ends is not
// restarted by it (its monitor reads the mark once the container has exited, or while it waits
// to restart it)
void mark_stopped_by_user(const ContainerState& s) {
    if (s.restart_policy.empty() || s.restart_policy == "no") return;
    try {
        StateDir().mark_stopped_by_user(s.id);
    } catch (const Error& e) {
        log::warn("container " + s.name + " may be restarted by its policy: " + e.message());
    }
}

// S's own cgroup, as recorded (none: null, or a record that is not one)
std::optional<runtime::ContainerCgroup> own_cgroup(const ContainerState& s) {
    if (!s.cgroup.is_object()) return std::nullopt;
    try {
        return runtime::ContainerCgroup::from_json(s.cgroup);
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

// after a signal: a paused container thawed, so that it gets it (docker's kill resumes it)
void thaw_signalled(const ContainerState& s) {
    auto cg = own_cgroup(s);
    if (!cg || !cg->frozen()) return;
    try {
        cg->thaw();
        EventJournal().append(container_event(s, "unpause"));
    } catch (const Error& e) {
        log::warn("container " + s.name + " stays paused: " + e.message());
    }
}

} // namespace

bool ContainerState::paused() const {
    auto cg = own_cgroup(*this);
    return cg && running() && cg->frozen();
}

void pause_container(const ContainerState& s) {
    if (!s.running())
        throw Error(Errc::conflict, "Container " + s.id + " is not running",
                    "`gantry ps -a` shows its state");
    auto cg = own_cgroup(s);
    if (!cg)
        throw Error(Errc::unsupported,
                    "container " + s.name +
                        " has no cgroup of its own to freeze: gantry makes one for a detached "
                        "container where it may (as root, or on cgroup v2 under a delegated "
                        "cgroup), and a rootless one on a cgroup v1 host gets none",
                    "run it detached as root, or rootless on a cgroup v2 host (systemd-run --user "
                    "--scope -p Delegate=yes); `gantry stop` and `gantry kill` end it");
    if (cg->frozen()) throw Error(Errc::conflict, "Container " + s.id + " is already paused");
    cg->freeze();
    EventJournal().append(container_event(s, "pause"));
}

void unpause_container(const ContainerState& s) {
    auto cg = own_cgroup(s);
    if (!s.running() || !cg || !cg->frozen())
        throw Error(Errc::conflict, "Container " + s.id + " is not paused",
                    "`gantry ps` shows (Paused) in a paused container's status");
    cg->thaw();
    EventJournal().append(container_event(s, "unpause"));
}

void stop(const ContainerState& s, std::optional<double> timeout) {
    if (!timeout) timeout = s.stop_timeout >= 0 ? s.stop_timeout : 10.0;
    mark_stopped_by_user(s);
    EventJournal journal;
    // the kill event before the signal: after it, the monitor's die could be journalled first
    // (seen under load in CI: die exit=137, then kill signal=9)
    auto signal = [&](int sig) {
        journal.append(container_event(s, "kill", {{"signal", std::to_string(sig)}}));
        ::kill(s.pid, sig);
        thaw_signalled(s);
    };
    if (s.running()) {
        signal(s.stop_signal > 0 ? s.stop_signal : SIGTERM);
        if (!await_exit(s.pid, s.pid_start, *timeout)) {
            signal(SIGKILL);
            // still there a second later: held by a read its image's FUSE server has not
            // answered (a registry too slow), which only that server's end releases
            if (!await_exit(s.pid, s.pid_start, 1) && s.kill_server())
                log::warn("container " + s.name +
                          " had not ended 1 s after SIGKILL: the process serving its image was "
                          "killed (a read it has not answered holds a container)");
            if (!await_exit(s.pid, s.pid_start, 10))
                throw Error(Errc::internal, "container " + s.name + " (pid " +
                                                std::to_string(s.pid) +
                                                ") did not exit after SIGKILL");
        }
    }
    if (auto started = s.monitor_start()) await_exit(s.monitor, started, 10);
}

void remove_container(StateDir& states, const ContainerState& s) {
    // marked first: its monitor then makes no store layer of a lazily pulled image's local
    // copies (engine/launch.cpp), and ends once the container has
    if (s.monitor_alive()) {
        auto marked = s;
        marked.status = "removing";
        states.save(marked);
    }
    stop(s, 0); // kills it, and lets its monitor finish
    // its own cgroup, which its monitor removes at its end: left behind by a monitor that was
    // killed (SIGKILL) or crashed
    if (auto cg = own_cgroup(s)) cg->destroy();
    if (states.remove(s.name)) EventJournal(states.dir()).append(container_event(s, "destroy"));
}

void kill_container(const ContainerState& s, int sig) {
    if (!s.running())
        throw Error(Errc::conflict, "cannot kill container " + s.name + ": it is not running",
                    "`gantry ps -a` shows its state; `gantry start " + s.name +
                        "` starts it again");
    mark_stopped_by_user(s);
    // journalled first: the monitor journals the die the signal causes, and docker's order is
    // kill, then die
    EventJournal().append(container_event(s, "kill", {{"signal", std::to_string(sig)}}));
    if (::kill(s.pid, sig) != 0)
        throw_errno("cannot signal container " + s.name + " (pid " + std::to_string(s.pid) + ")");
    thaw_signalled(s);
    // SIGKILL returns once the container has ended and its exit is recorded, as docker's daemon
    // waits for a killed container to stop: an inspect right after the kill shows it exited with
    // 137, never running or exited 0 (its monitor records the status after the process's end)
    if (sig == SIGKILL && await_exit(s.pid, s.pid_start, 10))
        if (auto started = s.monitor_start()) await_exit(s.monitor, started, 10);
}

} // namespace gantry::records
