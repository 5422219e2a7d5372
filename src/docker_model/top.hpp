// docker's `top` and `port` for gantry's containers. top: the host's ps run with the user's
// options (default -ef), its rows kept for the processes in the container's PID namespace, as
// docker's daemon does it (the PID column found by its header). port: the ports a bridge
// container publishes while it runs (network/ports.hpp); one in the host's network or none
// publishes none.
#pragma once

#include "records/state.hpp"

#include <set>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

namespace gantry::docker_model {

// The processes in the PID namespace of the process PID (the container's first), PID included:
// those whose /proc/N/ns/pid is the same namespace. Empty when PID is gone.
std::set<pid_t> namespace_members(pid_t pid);

// PS_OUTPUT's header line and the rows whose PID column is in PIDS. Error(usage) when the
// header has no PID column (options such as `-o comm` alone), naming the fix.
std::string top_table(std::string_view ps_output, const std::set<pid_t>& pids);

// `gantry top S [PS_ARGS]`: Error(conflict) when S is not running; ps's own failure (a bad
// option) is Error(usage) with its message; no ps in PATH is Error(not_found).
std::string container_top(const records::ContainerState& s, std::vector<std::string> ps_args);

// `gantry port S [PORT[/PROTO]]`: the mappings to print ("80/tcp -> 0.0.0.0:8080" lines, or
// for PORT its "0.0.0.0:8080"); a PORT not published is Error(not_found) in docker's words.
std::string container_ports(const records::ContainerState& s, const std::string& port);

} // namespace gantry::docker_model
