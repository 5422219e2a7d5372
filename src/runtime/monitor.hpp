// runtime/monitor: the fork of a monitor process, the one way both doors make one. A monitor is
// forked by a command that returns while its container lives on (`gantry run -d`: it runs and
// supervises the container; `gantry oci create` of a lazily served root: it serves the root and
// waits for the container's first process), and it outlives that command: in a session of its
// own (the caller's terminal hangup and process-group signals do not reach it), its stdin
// /dev/null.
#pragma once

#include <optional>
#include <sys/types.h>
#include <vector>

namespace gantry::runtime {

struct MonitorStart {
    // stdout and stderr on /dev/null too (gantry run -d points them at the log's copier itself)
    bool null_output = true;
    // Every descriptor closed but these (and 0, 1, 2): nothing of the caller's (its pipes, which
    // conmon waits on, its locks); unset: all kept (gantry run -d's monitor holds the name's
    // owner lock on purpose).
    std::optional<std::vector<int>> keep_only;
};

// As fork(2): the monitor's pid in the caller (-1 with errno set), 0 in the monitor, which is
// already set up as START says (it ends with 125 when /dev/null cannot be opened).
pid_t fork_monitor(const MonitorStart& start);

} // namespace gantry::runtime
