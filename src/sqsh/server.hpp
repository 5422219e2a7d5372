// sqsh/server: an image served over FUSE from inside gantry (no squashfuse process, no
// fusermount): gantry's own low-level FUSE operations over sqsh::Image (libsquashfs), on
// libfuse3's loop, one thread. A damaged table answers EIO; it never reaches the server's memory.
//
// The container's process mounts FUSE itself, inside its own user and mount namespaces (FUSE is
// the one filesystem an unprivileged user namespace may mount that can serve a squashfs), and
// passes the /dev/fuse descriptor to the gantry process that supervises it; serve() answers it
// on a thread of that process. The mount exists only in the container's mount namespace: it goes
// with the container, and a gantry killed with -9 leaves nothing mounted on the host (the
// container then reads ENOTCONN). Owners: an id the container's user namespace does not map
// (a file of uid 1000 under a single-id rootless map) is shown as 0, as the store's rootless
// layers show every file, so that the container's root may read and copy it up.
#pragma once

#include "oci/runtime_spec.hpp"
#include "sqsh/image.hpp"
#include "util/fd.hpp"

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

struct fuse_session;

namespace gantry::sqsh {

// Ids the container's user namespace maps (container side), from its spec's mappings; empty
// maps: every id is mapped (no user namespace).
struct IdView {
    std::vector<oci::IdMapping> uids, gids;
    std::uint32_t uid(std::uint32_t id) const;
    std::uint32_t gid(std::uint32_t id) const;
};

class Server {
  public:
    Server(std::shared_ptr<Image> image, IdView ids);
    // Stops serving: the loop is told to exit; its threads end with the connection (the
    // container's mount namespace gone) or with the process.
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    // Serves the FUSE connection DEV (a /dev/fuse descriptor mounted by the container) on a
    // thread of its own; returns at once. The thread first calls CONFINE (which confines it:
    // runtime/thread_confinement.hpp) and serves nothing if it throws.
    void serve(Fd dev, std::function<void()> confine);

    // The system calls the serving thread makes (libfuse3's loop, libsquashfs, malloc and
    // the thread's own exit): what its confinement allows.
    static const std::vector<std::string>& syscalls();

    // The mount(2) data for a FUSE mount of descriptor FD served by serve().
    static std::string mount_options(int fd);

    struct State; // the server's context, reached from a request (server.cpp)

  private:
    std::shared_ptr<State> st_;
};

} // namespace gantry::sqsh
