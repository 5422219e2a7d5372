// runc's `spec`: the default config.json runc 1.1 writes (and its --rootless variant).
#include "oci/runtime_spec.hpp"
#include "ocirt/ocirt.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

#include <filesystem>
#include <unistd.h>

namespace gantry::ocirt {

namespace {

// runc 1.1.5's `runc spec`, field for field; linux.maskedPaths and readonlyPaths are added from
// the one default list every gantry container gets (oci::runc_masked_paths: runc's part of it).
constexpr const char* kDefaultSpec = R"json(
{
 "ociVersion": "1.0.2-dev",
 "process": {
  "terminal": true,
  "user": {
   "uid": 0,
   "gid": 0
  },
  "args": [
   "sh"
  ],
  "env": [
   "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
   "TERM=xterm"
  ],
  "cwd": "/",
  "capabilities": {
   "bounding": [
    "CAP_AUDIT_WRITE",
    "CAP_KILL",
    "CAP_NET_BIND_SERVICE"
   ],
   "effective": [
    "CAP_AUDIT_WRITE",
    "CAP_KILL",
    "CAP_NET_BIND_SERVICE"
   ],
   "permitted": [
    "CAP_AUDIT_WRITE",
    "CAP_KILL",
    "CAP_NET_BIND_SERVICE"
   ],
   "ambient": [
    "CAP_AUDIT_WRITE",
    "CAP_KILL",
    "CAP_NET_BIND_SERVICE"
   ]
  },
  "rlimits": [
   {
    "type": "RLIMIT_NOFILE",
    "hard": 1024,
    "soft": 1024
   }
  ],
  "noNewPrivileges": true
 },
 "root": {
  "path": "rootfs",
  "readonly": true
 },
 "hostname": "runc",
 "mounts": [
  {
   "destination": "/proc",
   "type": "proc",
   "source": "proc"
  },
  {
   "destination": "/dev",
   "type": "tmpfs",
   "source": "tmpfs",
   "options": [
    "nosuid",
    "strictatime",
    "mode=755",
    "size=65536k"
   ]
  },
  {
   "destination": "/dev/pts",
   "type": "devpts",
   "source": "devpts",
   "options": [
    "nosuid",
    "noexec",
    "newinstance",
    "ptmxmode=0666",
    "mode=0620",
    "gid=5"
   ]
  },
  {
   "destination": "/dev/shm",
   "type": "tmpfs",
   "source": "shm",
   "options": [
    "nosuid",
    "noexec",
    "nodev",
    "mode=1777",
    "size=65536k"
   ]
  },
  {
   "destination": "/dev/mqueue",
   "type": "mqueue",
   "source": "mqueue",
   "options": [
    "nosuid",
    "noexec",
    "nodev"
   ]
  },
  {
   "destination": "/sys",
   "type": "sysfs",
   "source": "sysfs",
   "options": [
    "nosuid",
    "noexec",
    "nodev",
    "ro"
   ]
  },
  {
   "destination": "/sys/fs/cgroup",
   "type": "cgroup",
   "source": "cgroup",
   "options": [
    "nosuid",
    "noexec",
    "nodev",
    "relatime",
    "ro"
   ]
  }
 ],
 "linux": {
  "resources": {
   "devices": [
    {
     "allow": false,
     "access": "rwm"
    }
   ]
  },
  "namespaces": [
   {
    "type": "pid"
   },
   {
    "type": "network"
   },
   {
    "type": "ipc"
   },
   {
    "type": "uts"
   },
   {
    "type": "mount"
   }
  ]
 }
}
)json";

} // namespace

void write_default_spec(const std::string& bundle, bool rootless) {
    namespace stdfs = std::filesystem;
    const stdfs::path file = stdfs::path(bundle.empty() ? "." : bundle) / "config.json";
    std::error_code ec;
    if (stdfs::exists(file, ec))
        throw Error(Errc::conflict, "File " + file.string() + " exists. Remove it first",
                    "gantry-oci spec writes a new config.json only");
    nlohmann::json j = nlohmann::json::parse(kDefaultSpec);
    j["linux"]["maskedPaths"] =
        std::vector<std::string>(oci::runc_masked_paths().begin(), oci::runc_masked_paths().end());
    j["linux"]["readonlyPaths"] = oci::default_readonly_paths();
    if (rootless) { // runc's ToRootless
        auto& l = j["linux"];
        l.erase("resources");
        nlohmann::json ns = nlohmann::json::array();
        for (auto& n : l["namespaces"])
            if (n["type"] != "network") ns.push_back(n);
        ns.push_back({{"type", "user"}});
        l["namespaces"] = ns;
        l["uidMappings"] = {{{"containerID", 0}, {"hostID", ::geteuid()}, {"size", 1}}};
        l["gidMappings"] = {{{"containerID", 0}, {"hostID", ::getegid()}, {"size", 1}}};
        for (auto& m : j["mounts"]) {
            if (m["destination"] == "/sys")
                m = {{"destination", "/sys"},
                     {"type", "none"},
                     {"source", "/sys"},
                     {"options", {"rbind", "nosuid", "noexec", "nodev", "ro"}}};
            if (m["type"] == "devpts") {
                auto opts = nlohmann::json::array();
                for (auto& o : m["options"])
                    if (o != "gid=5") opts.push_back(o);
                m["options"] = opts;
            }
        }
    }
    fs::write_atomic(file, j.dump(2) + "\n", 0644, fs::Sync::volatile_only);
}

} // namespace gantry::ocirt
