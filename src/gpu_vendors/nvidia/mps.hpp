// gpu_vendors/nvidia/mps: a container's processes as clients of an NVIDIA MPS control daemon that
// an admin or the user started on the host (gantry starts none: docs/gpu-sharing.md). The daemon's
// pipe directory (CUDA_MPS_PIPE_DIRECTORY, /tmp/nvidia-mps by default) holds its `control`
// socket; its log directory (CUDA_MPS_LOG_DIRECTORY, /var/log/nvidia-mps by default) is where
// clients look for it too; the server shares memory with its clients through /dev/shm. A client
// takes CUDA_MPS_PINNED_DEVICE_MEM_LIMIT ("0=8192M,1=4096M", its own device numbering) and
// CUDA_MPS_ACTIVE_THREAD_PERCENTAGE (which can only further constrain the daemon's), per NVIDIA's
// MPS documentation (appendix "Environment Variables") and nvidia-cuda-mps-control(1).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace gantry::gpu_vendors::nvidia {

inline constexpr const char* kDefaultMpsPipeDir = "/tmp/nvidia-mps";
inline constexpr const char* kDefaultMpsLogDir = "/var/log/nvidia-mps";

// Where the daemon is: the pipe directory from --mps=DIR (FLAG_DIR), else the container's
// CUDA_MPS_PIPE_DIRECTORY (-e, the image's), else the caller's, else /tmp/nvidia-mps; the log
// directory likewise from CUDA_MPS_LOG_DIRECTORY. Relative paths are Error(usage).
struct MpsPlace {
    std::string pipe_dir, log_dir;
};
MpsPlace mps_place(const std::string& flag_dir, const std::vector<std::string>& container_env,
                   const std::vector<std::string>& caller_env);

// A control daemon at PLACE: its pipe directory holds a `control` socket. OWNER: the socket's
// owner (the daemon's user). nullopt when there is none.
// MPS v3 (driver r615, `nvidia-cuda-mps-control -d -p 3`): a server's namespaces have sockets of
// their own, PIPE/SERVER/NAMESPACE/control, and a client is routed to the namespace whose socket
// it connects to, else (PIPE/control) by its UID or cgroup (NVIDIA's "MPS v3 Namespaces" page).
// NAMESPACE: "SERVER/NAMESPACE" when the place is such a namespace's directory (its server's
// directory and the daemon's hold control sockets too); NAMESPACES: those under a daemon's own
// pipe directory, when the place is the top of a v3 tree.
struct MpsDaemon {
    MpsPlace place;
    uid_t owner = 0;
    bool log_dir_exists = false;
    std::string namespace_name;
    std::vector<std::string> namespaces;
};
std::optional<MpsDaemon> find_mps_daemon(const MpsPlace& place);

// The sentence for a v3 daemon whose namespaces the container does not choose: its clients are
// routed by UID or cgroup; --mps=PIPE/SERVER/NAMESPACE names one. "" when not such a daemon.
std::string mps_namespace_note(const MpsDaemon& daemon);

// The client environment of a container whose GPUs (in its numbering) get MEMORY's bytes (nullopt:
// no limit) and COMPUTE percent of each GPU's threads (0: not given).
std::vector<std::string> mps_client_env(const MpsPlace& place,
                                        const std::vector<std::optional<std::uint64_t>>& memory,
                                        unsigned compute);

// The sentence for a daemon of another user: an MPS server serves the clients of one uid, and a
// client of another waits until that server's clients are gone (nvidia-cuda-mps-control(1)).
// "" when CLIENT_UID is the daemon's, or the daemon is root's (it starts a server as the
// client's user).
std::string mps_uid_warning(const MpsDaemon& daemon, uid_t client_uid);

} // namespace gantry::gpu_vendors::nvidia
