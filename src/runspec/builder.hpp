// Builds the OCI runtime spec for `gantry run` / `gantry bundle` from an image config and docker
// style run options: entrypoint/cmd override rules, env precedence, user, workdir, the default
// mounts (proc, dev, pts, shm, mqueue, sys, hosts/resolv.conf/hostname), binds and tmpfs.
#pragma once

#include "oci/runtime_spec.hpp"

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gantry::runspec {

struct BindMount {
    std::string source; // host path (absolute)
    std::string destination;
    bool readonly = false;
    // --mount bind-propagation=: shared, slave, private, rshared, rslave or rprivate ("": the
    // container's default, rprivate, as docker's)
    std::string propagation;
};

struct RunOptions {
    std::vector<std::string> command;      // COMMAND [ARG...] after the image
    std::optional<std::string> entrypoint; // --entrypoint ("" clears it)
    std::vector<std::string> env;          // -e K=V or -e K (taken from host_env)
    std::vector<std::string> env_files;    // --env-file
    // environment(): computed once by a caller that reads it before the spec is built (the
    // GPU request), then used by build as it is (nullopt: build computes it).
    std::optional<std::vector<std::string>> environment;
    std::string workdir;                  // -w
    std::string user;                     // -u UID[:GID]
    std::vector<std::uint32_t> group_add; // --group-add: supplementary gids
    // --group-add NAME: looked up in the image's /etc/group (engine/image_groups.hpp) into
    // group_add before the spec is built; build() refuses one left here
    std::vector<std::string> group_add_names;
    std::string hostname;           // --hostname
    std::vector<BindMount> binds;   // -v / --mount type=bind
    std::vector<std::string> tmpfs; // --tmpfs DST[:opts]
    bool read_only = false;         // --read-only
    bool ipc_host = false;          // --ipc host: the host's IPC namespace and /dev/shm
    bool uts_host = false; // --uts host: the host's UTS namespace (its hostname, not settable)
    bool pid_host = false; // --pid host: the host's PID namespace and /proc
    std::optional<std::uint64_t> shm_size;      // --shm-size in bytes (default 64 MiB, as docker)
    std::vector<oci::Rlimit> rlimits;           // --ulimit
    std::vector<std::string> cap_add, cap_drop; // --cap-add / --cap-drop: SYS_PTRACE, ALL, ...
    std::vector<oci::DeviceNode> devices;       // --device HOST[:CONTAINER] (host_devices)
    bool network_none = false;                  // --network none
    // --network bridge (or container:): a namespace not the host's (engine connects it, or
    // joins another's)
    bool network_private = false;
    bool tty = false;             // -t
    bool seccomp = true;          // --security-opt seccomp=unconfined turns it off
    bool privileged_user = false; // running as real root (full id mapping)
    std::uint32_t host_uid = 0, host_gid = 0;
    // Id maps for the user namespace (empty: single-ID map of host_uid/host_gid, or identity
    // for privileged_user).
    std::vector<oci::IdMapping> uid_maps, gid_maps;
};

// Parses "-v SRC:DST[:ro|rw]" (SRC must be absolute or ./relative; made absolute).
BindMount parse_volume(const std::string& text);
// A bind's host path SRC made absolute (absolute, or ./relative; it must exist); WHAT names the
// flag in the error (a named volume, an empty or missing path).
std::string absolute_source(const std::string& src, const std::string& what);
// Error(usage) unless DST is an absolute path inside the container; WHAT names the flag.
void check_destination(const std::string& dst, const std::string& what);
// docker's --device HOST[:CONTAINER[:PERMS]] for a host device: HOST a character or block device
// (a link to one is followed), or a directory whose devices are all taken, at the same places
// under CONTAINER (e.g. /dev/infiniband). The nodes are bound (a user namespace cannot mknod).
// PERMS must allow writing: without a device cgroup (rootless) a read-only device cannot be
// enforced. Error(usage) for a path that is no device, Error(not_found) for a missing one.
std::vector<oci::DeviceNode> host_devices(const std::string& text);
// A numeric user or group ID of -u (WHAT: "user ID", "group ID"): 0 to 4294967294. Throws
// Error(usage) for anything else: 4294967296 must not wrap around to 0 (root), and 4294967295
// is (uid_t)-1, which the kernel reads as "no ID".
std::uint32_t numeric_id(std::string_view text, const char* what);
// Parses docker's "--ulimit NAME=SOFT[:HARD]" (NAME: nofile, memlock, stack, core, nproc, ...;
// -1 or "unlimited" for no limit; HARD defaults to SOFT, and SOFT may not exceed it).
oci::Rlimit parse_ulimit(const std::string& text);
// The process's capabilities, as docker computes them: the default set less --cap-drop, plus
// --cap-add; "ALL" in --cap-add is every capability but those dropped, in --cap-drop only what
// --cap-add names. Names with or without CAP_, in any case. Error(usage) for an unknown one.
std::vector<std::string> capabilities(const std::vector<std::string>& add,
                                      const std::vector<std::string>& drop);
// Every --ulimit of a command line; of several for one NAME the last wins, as in docker.
std::vector<oci::Rlimit> parse_ulimits(const std::vector<std::string>& texts);
// Reads KEY=VALUE lines from an --env-file (comments and blank lines skipped; "KEY" alone
// takes the host's value, as docker does).
std::vector<std::string> read_env_file(const std::string& path);

// The namespaces of a container run with OPT (build puts them in the spec): known before the
// image is read, so the launch can start creating them early (runtime::EarlyStart).
std::vector<std::string> namespaces(const RunOptions& opt);

// The container's environment before the user's identity is known: the image's Env, PATH's
// default, then --env-file, then -e (later wins; "-e K" takes K from the host, skipped when
// unset). build adds HOME, HOSTNAME and TERM when missing.
std::vector<std::string> environment(const nlohmann::json& image_config, const RunOptions& opt);

// image_config: the image config document (its "config" object holds Env, Cmd, ...).
// passwd: the container's /etc/passwd text ("" if absent), for user names and HOME.
oci::RuntimeSpec build(const nlohmann::json& image_config, const RunOptions& opt,
                       const std::string& passwd = {}, const std::string& group = {});

} // namespace gantry::runspec
