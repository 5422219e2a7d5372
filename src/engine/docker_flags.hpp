// The run flags docker scripts and IDEs pass (the Dev Containers CLI's `run -a STDOUT -a STDERR
// --sig-proxy=false --mount ...`): what gantry does with each, checked before anything starts.
//   -a/--attach STDIN|STDOUT|STDERR  which of the caller's streams the container gets (all three
//       when none is named); one left out is /dev/null to the container. STDERR cannot be left
//       out (gantry's own messages share it) and -a cannot go with -d, as in docker.
//   --sig-proxy=false  the signals gantry receives are not passed on: the container goes on
//       (gantry stop NAME ends it), as docker's
//   --cidfile FILE     the container's ID written once it started; an existing FILE refused
//   --stop-signal, --stop-timeout  kept in the container's record: what `gantry stop` sends
//       first and how long it waits before SIGKILL
//   --health-*         parsed; gantry runs no health checks, so --health-cmd is refused and
//       --no-healthcheck is what it does anyway
#pragma once

#include "engine/run_request.hpp"

#include <string>

namespace gantry::engine {

struct AttachedStreams {
    bool in = true, out = true, err = true;
};

// -a/--attach as docker reads it (case-insensitive names). Error(usage) for another name or -a
// with -d; Error(run_failed) for a set without STDERR, saying why.
AttachedStreams attached_streams(const RunRequest& r);
// A signal by name (TERM, SIGTERM, sigterm) or number (15); Error(usage) naming FLAG otherwise.
int signal_number(const std::string& text, const std::string& flag);
// Every check of the flags above (attached_streams included): Error(usage) for a bad value,
// Error(conflict) for an existing --cidfile, Error(run_failed) for what gantry cannot do.
void check_docker_flags(const RunRequest& r);
// Points the container's streams that -a leaves out at /dev/null (in this process, before the
// container is started from it).
void detach_unattached_streams(const AttachedStreams& a);
// Writes --cidfile (the ID, no newline, as docker) without replacing a file made meanwhile.
void write_cidfile(const std::string& path, const std::string& id);

} // namespace gantry::engine
