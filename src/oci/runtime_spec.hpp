// The OCI runtime-spec model (config.json) that everything launching converges on: `gantry
// bundle` writes it for runc/crun, gantry's own launcher executes it, CDI edits apply to it.
// Only the fields gantry produces or consumes are modelled; to_json() emits valid runtime-spec
// 1.0.2 that runc and crun accept.
#pragma once

#include "oci/linux_resources.hpp"
#include "oci/scheduling.hpp"
#include "oci/seccomp_profile.hpp"

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace gantry::oci {

// `gantry bundle --pull lazy`: the lazily pulled image (its reference), the store holding its
// record, and "false" when the registry's TLS certificate is not verified (--tls-verify=false):
// `gantry oci` serves the bundle's root from the registry (ocirt/lazy_root.hpp). No other
// io.gantry.* annotation is accepted in a bundle.
inline constexpr const char* kLazyImageAnnotation = "io.gantry.lazy.image";
inline constexpr const char* kLazyStoreAnnotation = "io.gantry.lazy.store";
inline constexpr const char* kLazyTlsVerifyAnnotation = "io.gantry.lazy.tls-verify";

struct IdMapping {
    std::uint32_t container_id = 0;
    std::uint32_t host_id = 0;
    std::uint32_t size = 1;
};

struct Mount {
    std::string destination;
    std::string type; // "bind", "proc", "tmpfs", "devpts", "mqueue", "sysfs", ...
    std::string source;
    std::vector<std::string> options;
    // mounts[].uidMappings, gidMappings: an idmapped bind (runtime/idmapped_mount.hpp): the
    // source's ids shown through them (a file of containerID's is hostID's at the destination)
    std::vector<IdMapping> uid_mappings, gid_mappings;
};

// How a mount is idmapped, as runc 1.2 reads runtime-spec 1.2's mounts: not at all; its top
// mount only (the "idmap" option, or uidMappings/gidMappings with neither option: an rbind's
// submounts keep their ids); or every mount of it ("ridmap", AT_RECURSIVE). With no maps of its
// own an idmapped mount takes the container's user namespace's (runtime/idmapped_mount.hpp).
enum class MountIdmap { none, top, recursive };
MountIdmap mount_idmap(const Mount& m);

struct DeviceNode {
    std::string path;
    std::string host_path; // gantry: the host node to bind-mount (rootless cannot mknod); not in
                           // config.json, where runc/crun create nodes from type/major/minor
    char type = 'c';
    std::int64_t major = 0, minor = 0;
    std::uint32_t file_mode = 0666;
    std::uint32_t uid = 0, gid = 0;
};

// process.rlimits: TYPE is "RLIMIT_NOFILE", ...; RLIM_INFINITY (2^64 - 1) is unlimited.
struct Rlimit {
    std::string type;
    std::uint64_t soft = 0, hard = 0;
    bool operator==(const Rlimit&) const = default;
};

struct Hook {
    std::string path;
    std::vector<std::string> args;
    std::vector<std::string> env;
    std::optional<int> timeout;
    // config.json's hook has no "env": a hook the runtime runs (prestart, createRuntime,
    // poststart, poststop) gets the runtime's own environment, as runc's (Go's nil Cmd.Env)
    bool inherit_env = false;
};

// gantry extension (not part of config.json): steps inside the container's root that are not
// mounts: symlinks created in-root before pivot_root, then (after it, as the container's root user
// with the workload's privileges) ld.so.conf.d drop-ins written and the dynamic linker cache
// rebuilt.
struct ContainerSetup {
    std::vector<std::pair<std::string, std::string>> symlinks; // (link path, target)
    std::vector<std::pair<std::string, std::string>> ld_conf;  // (drop-in file, content)
    bool ldconfig = false; // run ldconfig inside the container after pivot_root
    std::string
        host_ldconfig; // used when the image has none (a static binary, e.g. /sbin/ldconfig)
    std::vector<std::pair<std::string, std::string>> overlays; // (host file, container path):
                                                               // bind read-only if the path exists
};

// process.capabilities: the five sets, names as "CAP_CHOWN". gantry run's capabilities (docker's
// shape) are the same list in bounding, effective and permitted (same()).
struct CapabilitySets {
    std::vector<std::string> bounding, effective, permitted, inheritable, ambient;
    static CapabilitySets same(const std::vector<std::string>& caps) {
        return {caps, caps, caps, {}, {}};
    }
    bool operator==(const CapabilitySets&) const = default;
};

struct RuntimeSpec {
    // process
    std::vector<std::string> args;
    std::vector<std::string> env;
    std::string cwd = "/";
    std::uint32_t uid = 0, gid = 0;
    std::vector<std::uint32_t> additional_gids;
    bool terminal = false;
    bool no_new_privileges = true;
    CapabilitySets capabilities;
    std::vector<Rlimit> rlimits;
    std::optional<std::uint32_t> umask;    // process.user.umask (none: 0022, as runc)
    std::optional<int> oom_score_adj;      // process.oomScoreAdj
    std::string apparmor_profile;          // process.apparmorProfile ("" for none)
    std::optional<Scheduler> scheduler;    // process.scheduler (runtime/scheduling.cpp)
    std::optional<IoPriority> io_priority; // process.ioPriority
    // root
    std::string root_path = "rootfs";
    bool root_readonly = false;
    std::string hostname;
    std::string domainname; // runtime-spec 1.1's domainname (setdomainname in the UTS namespace)
    std::vector<Mount> mounts;
    // linux
    std::vector<std::string> namespaces; // "pid", "mount", "ipc", "uts", "user", "network"
    // namespaces joined, not made: type ("network", "ipc", "uts", "cgroup", "pid") -> the path
    // of an existing one (linux.namespaces[].path: podman's bridge netns, a pod's sandbox, the
    // pod's shared PID namespace). Not in
    // `namespaces`, so no new one is made; has_namespace() says true for them.
    std::map<std::string, std::string> namespace_paths;
    std::vector<IdMapping> uid_mappings, gid_mappings;
    std::vector<DeviceNode> devices;
    // linux.resources.devices: device cgroup rules (CDI adds an allow rule per injected node, as
    // runc denies every node it was not told to allow)
    std::vector<DeviceRule> device_rules;
    std::vector<std::string> masked_paths, readonly_paths;
    // linux.rootfsPropagation ("rslave", "rshared", ...): the propagation of the container's
    // mount namespace, set on "/" before its mounts are made (runc's prepareRoot). "" is
    // gantry run's: everything private ("rprivate"); gantry oci sets runc's default, "rslave".
    std::string rootfs_propagation;
    std::map<std::string, std::string> sysctl; // linux.sysctl: key (dots or slashes) -> value
    std::optional<MemoryPolicy> memory_policy; // linux.memoryPolicy
    std::string personality; // linux.personality.domain: "LINUX", "LINUX32" ("": unset)
    bool seccomp = true;     // gantry's default profile (emitted as linux.seccomp in bundles)
    // linux.resources but its device rules (device_rules above): the cgroup limits of the run
    LinuxResources resources;
    std::map<std::string, std::vector<Hook>> hooks; // "createContainer", "prestart", ...
    std::map<std::string, std::string> annotations;
    ContainerSetup setup; // gantry's own launcher only

    nlohmann::json to_json() const;
    static RuntimeSpec from_json(const nlohmann::json& j);
    bool has_namespace(const std::string& ns) const;
};

// Docker's default capability set (moby oci/caps/defaults.go).
const std::vector<std::string>& default_capabilities();
// Every capability Linux defines (CAP_CHOWN ... CAP_CHECKPOINT_RESTORE), in number order.
const std::vector<std::string>& all_capabilities();
// The masked and read-only paths every container gets by default, one list each: runc's own
// (its spec template, `runc spec`: runc_masked_paths), then the one docker and podman add
// (/sys/devices/virtual/powercap). `gantry run`'s spec (runspec/) holds them all; `gantry oci
// spec` writes runc's template.
const std::vector<std::string>& default_masked_paths();
std::span<const std::string> runc_masked_paths(); // the first ones of default_masked_paths()
const std::vector<std::string>& default_readonly_paths();

// runc's default devices (libcontainer/specconv's AllowedDevices), the one list both doors use:
// an allow rule each that every container's device cgroup gets (runtime/cgroup_writes), and,
// where PATH is set, the node a /dev of the container's own holds (`gantry oci` makes it,
// `gantry run` binds the host's).
struct DefaultDevice {
    std::string path; // "": a rule alone (mknod of any node, /dev/pts/*, /dev/ptmx, /dev/net/tun)
    DeviceRule rule;
};
const std::vector<DefaultDevice>& default_devices();
// The nodes of default_devices() (those with a path), mode 0666 and owned by root, as runc
// makes them.
std::vector<DeviceNode> default_device_nodes();

} // namespace gantry::oci
