// apptainer/instance: Apptainer's instances as gantry's detached containers. `instance start`
// is a detached run (apptainer/action.hpp, Action::instance_start) named NAME and labelled
// kInstanceLabel=NAME; `instance list` shows the running ones as Apptainer's list does,
// `instance stop` stops them (the container is removed at exit, as Apptainer forgets a stopped
// instance), and `instance://NAME` names one for exec, run and shell.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace gantry::apptainer {

inline constexpr const char* kInstanceLabel = "org.apptainer.instance";

// NAME of an "instance://NAME" image, else "".
std::string instance_of(std::string_view image);

// The running instances whose name matches PATTERN (a shell glob; "" or "*": all), as
// `apptainer instance list` prints them (INSTANCE NAME, PID, IP, IMAGE; JSON: {"instances":
// [...]}).
std::string instance_list(const std::string& pattern, bool json);

// Stops the running instances PATTERN matches (or every one with ALL) as `apptainer instance
// stop` does (internal/app/apptainer/instance_linux.go, StopInstance): SIGNAL (its -s; SIGINT
// by default, SIGKILL with FORCE) to the instance's init, which passes it to the startscript's
// process group and ends once none of its processes is left; SIGKILL after TIMEOUT seconds (its
// -t). The names stopped. Error(not_found) when none matches.
std::vector<std::string> instance_stop(const std::string& pattern, bool all, double timeout,
                                       bool force, int signal);

// The argv that runs COMMAND in instance NAME as `apptainer exec instance://NAME` does: its
// environment scripts sourced first (sif::env_entrypoint). ACTION "run" and "shell" run
// Apptainer's run and shell actions there instead.
std::vector<std::string> instance_command(const std::string& action,
                                          const std::vector<std::string>& command);

} // namespace gantry::apptainer
