// Container lifecycle events (what docker's `events` reports; and user networks' create,
// connect, disconnect and destroy, docker's Type network) journalled beside the container
// states in the runtime directory, so that one gantry process follows what others do without a
// daemon: `gantry run` appends create, start, die and destroy; `stop` and `rm` append kill and
// stop; `create`, `start`, `restart` and `rename` theirs (engine/lifecycle.hpp). Each event is one
// line of docker's events.Message JSON in events.jsonl, written (with the events appended with
// it) by one write(2) under O_APPEND while holding a shared flock, so lines from processes
// appending at once never interleave. At 1
// MiB the file is renamed to events.jsonl.1 (the one before it is dropped) under the exclusive
// lock; a reader finishes the renamed file before it reads the new one, so no event is lost or read
// twice across a rotation.
#pragma once

#include "records/state.hpp"
#include "util/fd.hpp"

#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <sys/types.h>
#include <vector>

namespace gantry::records {

struct ContainerEvent {
    std::string action; // create, start, die, kill, stop, destroy, restart, rename
    std::string id, name, image;
    // the container's labels and the action's own (die: exitCode, kill: signal)
    std::map<std::string, std::string> attributes;
    std::int64_t time_nano = 0; // set to now by append() when 0
    // docker's Type: container, or network (ID and NAME the network's; no image)
    std::string type = "container";
};

// The time now, in nanoseconds since the epoch (CLOCK_REALTIME): an event's time.
std::int64_t realtime_nanos();
// When this process started, in the same clock, a clock tick early (/proc/self/stat counts in
// ticks): `events` follows from there, so an event of a container its caller started right after
// starting it is never missed however late its first read comes (the Dev Containers CLI starts
// `events` and `run` at once). Now, where /proc cannot say.
std::int64_t process_started_nanos();
// When process PID started (now where it does not exist or /proc cannot say): the Engine API
// follows events from when its client started, as `events` does from its own start.
std::int64_t process_started_nanos(pid_t pid);

// docker's events.Message of E: status, id, from, Type, Action, Actor {ID, Attributes (the
// labels, image, name and the action's)}, scope, time, timeNano.
nlohmann::json event_message(const ContainerEvent& e);
// The journal's line of E (no newline): event_message(e).dump() byte for byte, written without
// building the JSON tree (what a run's die and destroy events cost after its workload exited).
std::string event_line(const ContainerEvent& e);

// docker's network event ACTION (create, connect, disconnect, destroy) of the user network ID
// named NAME (a bridge): Attributes name and type, and CONTAINER (the container's id) where
// one is connected or disconnected.
ContainerEvent network_event(const std::string& action, const std::string& id,
                             const std::string& name, const std::string& container = "");

// The event ACTION of container S, its labels and EXTRA among the attributes.
ContainerEvent container_event(const ContainerState& s, const std::string& action,
                               std::map<std::string, std::string> extra = {});

class EventJournal {
  public:
    EventJournal(); // runtime_dir(), found at the first append
    explicit EventJournal(std::filesystem::path dir);
    static constexpr std::uint64_t kRotateBytes = 1 << 20;
    // Appends E. An event that cannot be written (the runtime directory unwritable, a full
    // disk) is reported as a warning naming the file, once (later ones are not tried), and the
    // container goes on: its events are a record of it, not a condition of it.
    void append(ContainerEvent e) noexcept;
    // Appends EVENTS in their order with one write(2): a reader sees all of them or none yet.
    void append_all(std::span<ContainerEvent> events) noexcept;

  private:
    void write_lines(const std::string& lines);
    std::filesystem::path dir_, file_;
    bool failed_ = false;
};

// Reads a journal from its oldest event on, and then what is appended to it.
class EventReader {
  public:
    explicit EventReader(std::filesystem::path dir);
    // The events appended since the last call (the first: every one still kept, the rotated
    // file's first), oldest first, each docker's Message. A line that is not JSON is reported as
    // a warning naming the file and skipped; a line still being written waits for its end.
    std::vector<nlohmann::json> next();
    // Blocks until the journal may have changed, or TIMEOUT_MS passed (-1: no limit): an
    // inotify watch on its directory. False on timeout.
    bool wait(int timeout_ms);

  private:
    std::vector<nlohmann::json> read_from(int fd, std::uint64_t& offset, const std::string& name);
    std::filesystem::path dir_;
    dev_t dev_ = 0;
    bool started_ = false;
    ino_t ino_ = 0;            // the file read last (0: none yet)
    std::uint64_t offset_ = 0; // where its unread lines begin
    Fd inotify_;
};

} // namespace gantry::records
