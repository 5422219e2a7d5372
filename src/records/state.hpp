// Named containers: their state under the runtime directory, so `exec`, `ps`, `stop` and `rm`
// can find them. One directory per name holding state.json (replaced atomically). A container
// whose recorded processes are gone (gantry crashed, machine rebooted) is "exited" and never
// blocks a new container of the same name from being created once removed. Who owns a name is
// decided by a lock its owner holds (create()), so no claim can mistake a live owner for debris.
#pragma once

#include "network/ports.hpp"
#include "oci/runtime_spec.hpp"
#include "util/fd.hpp"
#include "util/lock.hpp"

#include <csignal>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace gantry::records {

// The fix for a kept container's argument, environment value or path that is not UTF-8, which its
// JSON records cannot hold (docker and podman store U+FFFD and run another command than given).
inline constexpr const char* kNotUtf8Hint =
    "give it as UTF-8; a container run in the foreground without --name is not kept and takes "
    "any bytes";

// A container's record, the one type both doors read and write: `gantry run`'s (and create,
// start, the Engine API's, saved by StateDir below in the runtime directory) and `gantry oci`'s
// (saved under its --root by ocirt/container.hpp, in runc's shape: its status observed, not
// stored). Each keeps its own file format, so what earlier installs wrote is read as before.
struct ContainerState {
    std::string name, id;
    std::string image;      // what the user typed
    std::string manifest;   // digest of the image manifest
    std::string store_root; // the store holding the image and the container's layer
    std::string container_dir;
    std::vector<std::string> command;
    pid_t pid = 0;                    // host pid of the container's first process
    unsigned long long pid_start = 0; // its start time (field 22 of /proc/PID/stat)
    pid_t monitor = 0;                // the gantry process supervising it
    // the process serving its root over FUSE (a squashfs or lazily pulled image), if any
    pid_t server = 0;
    unsigned long long server_start = 0;
    bool detached = false;
    // -d -i (docker's OpenStdin): the descriptor in the monitor that holds the writing end of
    // the container's stdin (a pipe), which an attached client's stdin is written to
    // (stdin_writer()); 0 when it has none
    int stdin_fd = 0;
    bool open_stdin = false; // run/create -i (docker's Config.OpenStdin)
    // its log driver (docker's LogConfig.Type): json-file or local (its output file, read by
    // `logs`), none (nothing kept); "" in records made before: json-file when detached
    std::string log_driver;
    std::string status = "created"; // created, running, exited
    int exit_code = 0;
    std::string created, finished; // RFC 3339 UTC
    std::string started_at; // its last start, RFC 3339 UTC ("" in records made before: created)
    oci::RuntimeSpec spec;  // the process settings exec starts from
    std::map<std::string, std::string> labels; // the image's and run -l's (engine/labels.hpp)
    std::vector<std::string> user_mounts;      // the destinations of -v, --mount, --tmpfs
    // the anonymous volumes made for it (-v DST, the image's VOLUME: engine/volumes.hpp), which
    // `rm -v` and --rm remove with it
    std::vector<std::string> anonymous_volumes;
    // --restart (engine/restart_policy.hpp: "" or "no" for none), the restarts made by it since
    // the container was last started by hand, the last wait before one (ms), and whether
    // `gantry stop`/`kill` ended it (then it is not restarted). Status "restarting": exited,
    // its monitor about to start it again.
    std::string restart_policy;
    int restart_count = 0;
    long long restart_delay_ms = 0;
    bool stopped_by_user = false;
    // its health check (docker's Healthcheck object, engine/health.hpp), null when it has none
    nlohmann::json healthcheck;
    int stop_signal = SIGTERM; // run --stop-signal: what `gantry stop` sends first
    int stop_timeout = -1;     // run --stop-timeout: seconds stop waits (-1: unset, 10)
    // Its run request is kept (request.json in container_dir, engine/request_json.hpp): `gantry
    // start` starts it again. A "created" record without it is a crashed run's debris.
    bool startable = false;
    // Its network (network/mode.hpp: "host", "none", "bridge"; "" in records made before
    // networks: host, or none when the spec has a network namespace), the ports it publishes,
    // and the user-mode stack's process serving them while it runs (network/pasta.hpp; 0: none)
    std::string network;
    std::vector<network::PortMapping> ports;
    pid_t network_helper = 0;
    // on a user network: docker's NetworkSettings.Networks (its aliases; while it runs, its
    // address, gateway and MAC address too); null on other networks
    nlohmann::json endpoints;
    // gantry oci's (ocirt/container.hpp): the bundle, its root and its config.json as they were
    // at create (spec above is that config read), the container's cgroup
    // (runtime::ContainerCgroup::to_json(), null when none) and the recorded start of its lazy
    // root's monitor (monitor above). Empty for gantry run's containers, and not in their file,
    // but for the cgroup: a detached container's own (its limits', or its freezer's), null
    // when it has none.
    std::string bundle, rootfs;
    nlohmann::json config, cgroup;
    unsigned long long monitor_started = 0;
    // gantry oci's kernel cache monitor (ocirt/kernel_cache_use.hpp): it holds the key's locks
    // and publishes a writer's additions once the container has exited; 0 when none
    pid_t kernel_cache_monitor = 0;
    unsigned long long kernel_cache_monitor_started = 0;

    bool running() const; // status running and process_running(pid, pid_start)
    // Running, and frozen by its own cgroup's freezer (docker's pause; container_signals.cpp)
    bool paused() const;
    // The start time of its monitor while that is still at work (starting the workload, or
    // recording how it ended), else 0; a pid that started after the workload is another
    // process's.
    unsigned long long monitor_start() const;
    bool monitor_alive() const { return monitor_start() != 0; }
    // Kills (SIGKILL) the process serving its root, when one is recorded and still runs; true
    // if it did. A read that process has not answered holds the container in the kernel (an
    // uninterruptible wait that SIGKILL does not end) until it is answered or the server dies.
    bool kill_server() const;
    // A new writing end of its stdin (the pipe its monitor holds, stdin_fd), through
    // /proc/MONITOR/fd: what an attached client's stdin is written to (docker's attach with
    // stdin); its reader is the container, so it runs on once the client has gone. An invalid
    // Fd when it has none (not -i, not running, or its monitor gone); Error(io) when the
    // monitor's descriptor cannot be opened (another user's).
    Fd stdin_writer() const;
};

// S as state.json holds it (state_json.cpp), and back (a field missing: its default, as in
// records of earlier versions); record_text is the file's text, Error(invalid) naming S when a
// string in it is not UTF-8 (kNotUtf8Hint).
nlohmann::json record_json(const ContainerState& s);
ContainerState record_from_json(const nlohmann::json& j);
std::string record_text(const ContainerState& s);

// The mounts of S's spec that its run asked for (-v, --mount, --tmpfs, the image's VOLUME):
// those whose destination S records as the user's.
std::vector<const oci::Mount*> user_mounts(const ContainerState& s);

// STATUS in docker's words, as `ps` shows it: "Up 5 minutes" for a running container (UP),
// "Exited (0) 2 hours ago" for an exited one, else the recorded status ("created").
std::string status_text(const ContainerState& s, bool up);

// Where container state and the GPU and doctor caches live (nothing that must survive a
// reboot): /run/gantry for root; else $XDG_RUNTIME_DIR/gantry (if absolute); else
// /run/user/<uid>/gantry when the login manager made /run/user/<uid> (what XDG_RUNTIME_DIR names in
// a login session); else /tmp/gantry-<uid>. Made (0700) when missing, and checked as private_dir
// does: gantry trusts what it finds there (a container's pid, the driver files to bind), so a
// directory another user made first, such as /tmp/gantry-<uid>, must not be used.
std::filesystem::path runtime_dir();

// The directory DIR, made 0700 if missing, once proven to be the caller's own: a directory
// (not a symbolic link) owned by OWNER; group and other permissions are then removed. Anything
// else is Error(conflict) naming the directory, its owner and the fix; a directory that cannot
// be made or opened is Error(io).
std::filesystem::path private_dir(const std::filesystem::path& dir, uid_t owner);

unsigned long long process_start_time(pid_t pid); // 0 if the process does not exist
// PID is the process that started at START (not a later one given the same pid) and has not
// exited: a zombie, exited but not yet reaped by its parent (or, orphaned, by init), is not.
bool process_running(pid_t pid, unsigned long long start);
// Blocks until process_running(PID, START) is false: asleep on a pidfd (polling every 100 ms
// where pidfd_open is refused).
void await_exit(pid_t pid, unsigned long long start);
// The same for at most SECONDS: false when it still runs then.
bool await_exit(pid_t pid, unsigned long long start, double seconds);
std::string now_rfc3339();

// Stops S as `gantry stop` does (docker's stop): SIGTERM, then SIGKILL after TIMEOUT seconds
// (0: at once). Returns once its monitor has recorded the end too (or, for a --rm container,
// removed it), so that what follows (`ps`, `rm`, a new container of the same name, a reset of
// its store) never races with it: each wait is on the process's exit (a pidfd), bounded. Still
// there 1 s after SIGKILL, its image's serving process is killed (kill_server(): a read that
// process has not answered holds the container). Error(internal) when it outlives SIGKILL.
// TIMEOUT unset: the container's --stop-timeout, else 10 s; the first signal is its
// --stop-signal (SIGTERM by default).
void stop(const ContainerState& s, std::optional<double> timeout = std::nullopt);

// Sends SIG to S's first process as `gantry kill` does (docker's kill: SIGKILL by default),
// its kill event journalled first; returns at once. A paused container is thawed after the
// signal, as docker's kill resumes it, so that the signal is delivered (stop and rm -f too).
// Error(conflict) when S is not running.
void kill_container(const ContainerState& s, int sig);

// docker's pause: S's processes frozen by its own cgroup (runtime::ContainerCgroup::freeze: v2's
// cgroup.freeze, until cgroup.events says frozen 1; v1's freezer.state FROZEN), then its pause
// event journalled. Error(conflict), in docker's words, when S is not running or is paused
// already; Error(unsupported) naming why when S has no cgroup of its own.
void pause_container(const ContainerState& s);
// docker's unpause: S thawed, its unpause event journalled; Error(conflict) when S is not paused.
void unpause_container(const ContainerState& s);

class StateDir;
// Removes S as `gantry rm -f` does: marked as being removed (its monitor then keeps nothing),
// killed, its state removed and its destroy event journalled (unless its --rm monitor removed
// it first). Its directory and store hold are the caller's to remove.
void remove_container(StateDir& states, const ContainerState& s);

class StateDir {
  public:
    StateDir(); // runtime_dir()
    explicit StateDir(std::filesystem::path dir);
    // Claims a name: Error(conflict), in docker's words, if a container has it (live, or
    // exited and not removed); a crashed one's debris is cleared. Returns the name's owner
    // lock: the name is in use for as long as it is held, by the caller and by the processes
    // it forks (they share it), whatever the state records; keep it while the container lives.
    [[nodiscard]] FileLock create(const ContainerState& s);
    void save(const ContainerState& s);
    // Saves S under the name its id has now (a `gantry rename` may have changed it while S ran;
    // S.name is updated): false, and nothing saved, when its record is gone (removed).
    // A stop's mark on the record (ContainerState::stopped_by_user) is kept.
    bool save_current(ContainerState& s);
    // Marks the container ID's record stopped_by_user, under the claim lock (nothing else of it
    // changed): false when it is gone.
    bool mark_stopped_by_user(const std::string& id);
    // Takes over the name of S, a startable container's record that no process owns (created,
    // or exited): its owner lock, as create() returns it. Error(conflict) while it is owned
    // (running, or being started by another gantry).
    [[nodiscard]] FileLock take(const ContainerState& s);
    // docker's rename: the container NAME_OR_ID is named NEW_NAME from now on, running or not.
    // Error(usage) for an invalid name or the same name, Error(conflict) in docker's words when
    // NEW_NAME is taken. Returns the record as renamed.
    ContainerState rename(const std::string& name_or_id, const std::string& new_name);
    std::optional<ContainerState> find(const std::string& name_or_id) const;
    ContainerState get(const std::string& name_or_id) const; // Error(not_found) with a hint
    // find(), but a container that its monitor is still starting (created, the monitor alive)
    // is waited for, up to SECONDS, until it runs or ended: its workload may print, and a
    // script that waited for that (the Dev Containers CLI's "Container started") exec into it,
    // before the monitor recorded it as running. What docker's exec, top and kill then see.
    std::optional<ContainerState> find_started(const std::string& name_or_id,
                                               double seconds = 10) const;
    ContainerState get_started(const std::string& name_or_id) const; // the same, or not_found
    std::vector<ContainerState> list() const;
    // Every container's state as list() has it, without copying it: the state cache's shared,
    // immutable snapshots (records/state_cache.hpp), for a process that lists again and again.
    std::vector<std::shared_ptr<const ContainerState>> snapshots() const;
    // Removes NAME's state: true when this call removed it, false when it was gone already.
    bool remove(const std::string& name);
    const std::filesystem::path& dir() const { return dir_; }

  private:
    std::filesystem::path dir_;
};

// Docker's name rule: [a-zA-Z0-9][a-zA-Z0-9_.-]*
bool valid_container_name(const std::string& name);

} // namespace gantry::records
