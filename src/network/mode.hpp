// network/mode: which network a container gets (docker's --network and HostConfig.NetworkMode)
// and what each door defaults to. host: the host's network namespace (gantry run's default:
// HPC jobs, MPI and NCCL want it, and it starts fastest); none: a namespace with loopback only;
// bridge: a namespace of its own joined to the outside by a user-mode stack (network/pasta.hpp),
// with published ports (docker's default, the Engine API's); container: another container's
// namespace joined (container:NAME|ID), its hostname and files shared, as docker's; user: a
// user-defined network (network/user_network.hpp) named by any other word, its bridge and DNS
// netavark's (network/holder.hpp).
#pragma once

#include <string>

namespace gantry::network {

enum class Mode { host, none, bridge, container, user };

// TEXT as --network or NetworkMode gives it ("default" is bridge, as docker's daemon reads it);
// WHAT names the flag or field in the error. Error(usage) naming what is not served.
Mode parse_mode(const std::string& text, const std::string& what);
std::string mode_name(Mode m); // "host", "none", "bridge", "container", "user"

} // namespace gantry::network
