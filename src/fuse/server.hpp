// fuse/server: an image served over FUSE by gantry (no squashfuse, no fusermount, nothing
// exec'ed): gantry's own low-level FUSE operations over a fuse::Tree (a squashfs image read with
// libsquashfs, sqsh/image_tree.hpp, or a lazily pulled eStargz image, lazy/tree.hpp), on
// libfuse3's loop, in a confined process forked from gantry. A damaged table answers EIO.
//
// The container's process mounts FUSE itself, inside its own user and mount namespaces (FUSE is
// the one filesystem an unprivileged user namespace may mount that can serve a squashfs), and
// passes the /dev/fuse descriptor to the gantry process that supervises it; serve() answers it
// from a process forked from that one. The mount exists only in the container's mount namespace: it
// goes with the container, and a gantry killed with -9 leaves nothing mounted on the host (the
// container then reads ENOTCONN). Owners: an id the container's user namespace does not map
// (a file of uid 1000 under a single-id rootless map) is shown as 0, as the store's rootless
// layers show every file, so that the container's root may read and copy it up.
#pragma once

#include "fuse/tree.hpp"
#include "oci/runtime_spec.hpp"
#include "util/fd.hpp"

#include <functional>
#include <memory>
#include <string>
#include <vector>

struct fuse_session;

namespace gantry::fuse {

// Ids the container's user namespace maps (container side), from its spec's mappings; empty
// maps: every id is mapped (no user namespace).
struct IdView {
    std::vector<oci::IdMapping> uids, gids;
    std::uint32_t uid(std::uint32_t id) const;
    std::uint32_t gid(std::uint32_t id) const;
};

class Server {
  public:
    Server(std::shared_ptr<Tree> tree, IdView ids);
    // Stops serving: the server process (which ends by itself when the container's mount
    // namespace goes) is killed and reaped.
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    // Serves the FUSE connection DEV (a /dev/fuse descriptor mounted by the container) in a
    // process of its own, forked here; returns at once. The process first calls CONFINE (which
    // confines it: sandbox/thread_confinement.hpp) and serves nothing if it throws. The process
    // ends with the connection, with gantry (PR_SET_PDEATHSIG), or with this object.
    void serve(Fd dev, std::function<void()> confine);

    // The system calls the serving process makes (libfuse3's loop, libsquashfs, malloc and
    // its own exit): what its confinement allows.
    static const std::vector<std::string>& syscalls();

    // The mount(2) data for a FUSE mount of descriptor FD served by serve(), owned by OWNER and
    // GROUP as the mounting user namespace names them (root, unless root is not mapped there:
    // `--userns keep-id` maps the caller's ids only, and an unmapped user_id is EINVAL).
    static std::string mount_options(int fd, std::uint32_t owner = 0, std::uint32_t group = 0);
    // The owner mount_options wants for a namespace of MAPS: 0 when it maps 0, else the first
    // mapped id.
    static std::uint32_t mount_owner(const std::vector<oci::IdMapping>& maps);

    // The serving process, once serve() started it (else -1).
    pid_t pid() const;

    struct State; // the server's context, reached from a request (server.cpp)

  private:
    std::shared_ptr<State> st_;
};

} // namespace gantry::fuse
