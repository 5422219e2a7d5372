// network/pasta: the user-mode network stack of a bridge container, pasta (Debian's passt
// package; podman 5's rootless default). pasta joins the container's user and network
// namespaces, makes a tap interface (eth0) there with the host's address, routes and MTU
// (--config-net), carries the container's outbound traffic as the host's own sockets, and binds
// each published port on the host, forwarding it without a proxy process per port
// (docs/networks.md says why pasta rather than slirp4netns).
//
// Lifetime: pasta runs in the foreground as a child of the process that supervises the
// container (gantry run, or the -d monitor), in a session of its own (a terminal's ^C is not
// its), and dies with it (PR_SET_PDEATHSIG, SIGKILL): a crash of gantry leaves no pasta behind.
// The supervisor stops it once the container has exited (stop(), or the destructor).
// As root, pasta runs as root (--runas 0:0: as nobody it could not join the container's user
// namespace, which root owns), with the two capabilities it keeps (CAP_NET_BIND_SERVICE,
// CAP_SYS_ADMIN) and its own seccomp filter.
#pragma once

#include "network/ports.hpp"

#include <string>
#include <sys/types.h>
#include <vector>

namespace gantry::network {

struct StackOptions {
    std::vector<PortMapping> ports; // published, host ports assigned
    std::string dns_forward;        // an address pasta maps to the host's resolver ("": none)
    std::string work_dir;           // a directory of the container's own, for pasta's ready fifo
    std::string interface = "eth0"; // its tap device's name in the namespace
};

// The arguments pasta is run with for the namespaces of PID (without the program's path).
std::vector<std::string> pasta_arguments(pid_t pid, const StackOptions& options,
                                         const std::string& ready_fifo);

// pasta's path on $PATH; Error(unsupported) naming the package when it is missing.
std::string pasta_program();

class Pasta {
  public:
    // Starts pasta for the namespaces of the container process PID (its id maps written) and
    // returns once pasta configured the namespace and bound every published port (it writes
    // its pid into a fifo then). Error(run_failed) with pasta's own message when it fails (a
    // port in use, no route), Error(unsupported) when pasta is not installed.
    Pasta(pid_t pid, const StackOptions& options);
    ~Pasta(); // stop()
    Pasta(const Pasta&) = delete;
    Pasta& operator=(const Pasta&) = delete;

    // Kills (SIGKILL: pasta keeps no state) and reaps it; idempotent.
    void stop() noexcept;
    pid_t pid() const { return pid_; }

  private:
    pid_t pid_ = -1;
};

} // namespace gantry::network
