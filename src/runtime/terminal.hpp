// Terminals for -t: a pseudo-terminal pair, one from the container's own devpts instance (so
// the workload's ttyname() names a /dev/pts entry it can see), and the session a container
// process opens on its slave side.
#pragma once

#include "util/fd.hpp"

#include <string>

namespace gantry::runtime::detail {

// A pseudo-terminal pair for -t; the child makes the slave its controlling terminal.
struct Pty {
    Fd master, slave;
    static Pty open_pair();
};
void become_terminal_session(int slave_fd);
// A pseudo-terminal from the container's own devpts instance (ptmx at `ptmx_path`, resolved
// in-root when rootfd >= 0), so the workload's ttyname() names a /dev/pts entry it can see;
// its window size is the one of this process's standard input, when that is a terminal.
Pty open_container_pty(int rootfd, const std::string& ptmx_path);

} // namespace gantry::runtime::detail
