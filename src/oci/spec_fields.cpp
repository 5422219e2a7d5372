#include "oci/spec_fields.hpp"

#include "util/error.hpp"

#include <set>
#include <string>

namespace gantry::oci {

namespace {

using nlohmann::json;

bool empty_value(const json& v) {
    return v.is_null() || ((v.is_string() || v.is_array() || v.is_object()) && v.empty());
}

[[noreturn]] void refuse(const std::string& field, const std::string& why,
                         const std::string& hint) {
    throw Error(Errc::invalid, field + " is not supported by gantry: " + why, hint);
}

// The keys of OBJ (at PATH) not in KNOWN, unless empty: refused as fields the spec does not
// define (a misspelling, or a newer spec).
void only(const json& obj, const std::string& path, const std::set<std::string>& known) {
    if (!obj.is_object()) return;
    for (auto& [k, v] : obj.items())
        if (!known.contains(k) && !empty_value(v))
            refuse(path + k, "gantry does not know this field",
                   "remove it from config.json (runtime-spec 1.2 defines the fields gantry reads, "
                   "docs/oci-runtime.md lists them)");
}

// Fields of the spec gantry knows and does not implement, refused with WHY when not empty.
void never(const json& obj, const std::string& path, const std::string& key,
           const std::string& why) {
    if (obj.is_object() && obj.contains(key) && !empty_value(obj[key]))
        refuse(path + key, why, "remove " + path + key + " from config.json");
}

void check_process(const json& p) {
    // not the spec's (crun's test suite writes it; runc ignores it): its umask is the user's
    if (p.is_object() && p.contains("umask") && !empty_value(p["umask"]))
        refuse("process.umask", "the runtime-spec's umask is process.user.umask",
               "move it to process.user.umask");
    only(p, "process.",
         {"terminal", "consoleSize", "user", "args", "env", "cwd", "capabilities", "rlimits",
          "noNewPrivileges", "oomScoreAdj", "apparmorProfile", "selinuxLabel", "ioPriority",
          "scheduler", "execCPUAffinity", "commandLine"});
    never(p, "process.", "selinuxLabel", "gantry sets no SELinux label");
    never(p, "process.", "execCPUAffinity", "gantry does not set a CPU affinity");
    never(p, "process.", "commandLine", "it is Windows' (process.args on Linux)");
    if (p.contains("user")) {
        only(p["user"], "process.user.", {"uid", "gid", "umask", "additionalGids", "username"});
        never(p["user"], "process.user.", "username", "it is Windows' (process.user.uid here)");
    }
    if (p.contains("scheduler"))
        only(p["scheduler"], "process.scheduler.",
             {"policy", "nice", "priority", "flags", "runtime", "deadline", "period"});
    if (p.contains("ioPriority"))
        only(p["ioPriority"], "process.ioPriority.", {"class", "priority"});
    if (p.contains("capabilities"))
        only(p["capabilities"], "process.capabilities.",
             {"bounding", "effective", "permitted", "inheritable", "ambient"});
}

// The propagation values runc maps (specconv's mountPropagationMapping), for
// linux.rootfsPropagation; a mount's options take the same words.
const std::set<std::string>& propagation_values() { // built at first use, not at every start
    static const std::set<std::string> s = {"shared",  "rshared",  "slave",      "rslave",
                                            "private", "rprivate", "unbindable", "runbindable"};
    return s;
}

// Whether the container has a user namespace (made, or joined by path) whose maps an idmapped
// mount without its own may take: a new one only with linux.uidMappings and gidMappings (the
// maps runc 1.2 takes; a user namespace gantry maps itself, rootless, is refused first).
bool userns_with_maps(const json& config) {
    if (!config.contains("linux") || !config["linux"].is_object()) return false;
    const json& l = config["linux"];
    if (!l.contains("namespaces") || !l["namespaces"].is_array()) return false;
    for (auto& n : l["namespaces"]) {
        if (!n.is_object() || n.value("type", std::string()) != "user") continue;
        if (n.contains("path") && n["path"].is_string() && !n["path"].get<std::string>().empty())
            return true;
        return l.contains("uidMappings") && !empty_value(l["uidMappings"]) &&
               l.contains("gidMappings") && !empty_value(l["gidMappings"]);
    }
    return false;
}

// idmapped mounts (runtime/idmapped_mount.hpp): a bind, with both maps, or with runc 1.2's
// idmap/ridmap option and the container's user namespace's maps when it gives none
void check_idmapped_mount(const json& m, const std::string& path, const json& config) {
    std::string option; // "idmap" or "ridmap", if given
    if (m.contains("options") && m["options"].is_array())
        for (auto& o : m["options"]) {
            if (!o.is_string()) continue;
            const std::string v = o.get<std::string>();
            if (v.starts_with("idmap=") || v.starts_with("ridmap="))
                refuse(path + "options \"" + v + "\"",
                       "crun's idmap=uids=...;gids=... form is not runtime-spec's",
                       "give the mount uidMappings and gidMappings and the option idmap (or "
                       "ridmap), as runtime-spec 1.2 says");
            if (v != "idmap" && v != "ridmap") continue;
            if (!option.empty() && option != v)
                throw Error(Errc::invalid,
                            path + "options: both idmap and ridmap: the mount is idmapped "
                                   "either recursively or not",
                            "keep one: ridmap idmaps the mounts under the source too (rbind), "
                            "idmap only the top one");
            option = v;
        }
    bool uids = m.contains("uidMappings") && !empty_value(m["uidMappings"]);
    bool gids = m.contains("gidMappings") && !empty_value(m["gidMappings"]);
    if (!uids && !gids && option.empty()) return;
    if (uids != gids)
        throw Error(Errc::invalid,
                    path + (uids ? "gidMappings" : "uidMappings") +
                        " is missing: an idmapped mount needs both maps",
                    "give the mount uidMappings and gidMappings (runc 1.2 wants both too)");
    const std::string what =
        option.empty() ? path + "uidMappings" : path + "options \"" + option + "\"";
    bool bind = m.value("type", std::string("bind")) == "bind";
    if (m.contains("options") && m["options"].is_array())
        for (auto& o : m["options"])
            if (o == "bind" || o == "rbind") bind = true;
    if (!bind)
        refuse(what,
               "only a bind mount can be idmapped by gantry (the kernel idmaps a mount "
               "tree; a new " +
                   m.value("type", std::string()) + " would need its own superblock's support)",
               option.empty() ? "make it a bind mount, or remove its uidMappings and gidMappings"
                              : "make it a bind mount, or remove the " + option + " option");
    if (!uids && !userns_with_maps(config))
        throw Error(Errc::invalid,
                    what + ": the mount has no uidMappings and gidMappings, and the container "
                           "no user namespace whose maps it could take (runtime-spec: an error)",
                    "give the mount uidMappings and gidMappings, or the container a user "
                    "namespace: {\"type\": \"user\"} in linux.namespaces with "
                    "linux.uidMappings and gidMappings");
}

void check_mounts(const json& mounts, const json& config) {
    if (!mounts.is_array()) return;
    for (size_t i = 0; i < mounts.size(); ++i) {
        std::string path = "mounts[" + std::to_string(i) + "].";
        only(mounts[i], path,
             {"destination", "type", "source", "options", "uidMappings", "gidMappings"});
        // propagation options (shared, rslave, ...) are applied to the mount once it is made,
        // as runc applies them (runtime/mounts.cpp)
        if (mounts[i].is_object()) check_idmapped_mount(mounts[i], path, config);
    }
}

bool has_proc_mount(const json& config) {
    if (!config.contains("mounts") || !config["mounts"].is_array()) return false;
    for (auto& m : config["mounts"])
        if (m.is_object() && m.value("type", std::string()) == "proc") return true;
    return false;
}

// A container in a user namespace of its own (no path) lives in a PID namespace it did not make
// when the spec joins one (a path) or makes none (the host's): mounting proc there needs
// CAP_SYS_ADMIN in the user namespace that owns that PID namespace, which the new one never has
// (the kernel's rule for procfs). runc fails at that mount ("mount proc: operation not
// permitted", or earlier); refused here, before anything is made, saying why.
void check_pid_and_user(const json& config, const json& l) {
    const json& ns = l.contains("namespaces") ? l["namespaces"] : json();
    if (!ns.is_array()) return;
    bool new_user = false, new_pid = false, joined_pid = false, joined_user = false;
    for (auto& n : ns) {
        if (!n.is_object()) continue;
        std::string type = n.value("type", std::string());
        bool path =
            n.contains("path") && n["path"].is_string() && !n["path"].get<std::string>().empty();
        if (type == "user") (path ? joined_user : new_user) = true;
        if (type == "pid") (path ? joined_pid : new_pid) = true;
    }
    if (!new_user || joined_user || new_pid || !has_proc_mount(config)) return;
    const std::string which =
        joined_pid ? "a PID namespace joined by path" : "the host's PID namespace";
    const std::string why_not = " (runc fails too)";
    const std::string why = "the container's /proc cannot be mounted: procfs needs "
                            "CAP_SYS_ADMIN in the user namespace that owns the PID namespace it "
                            "shows, and a new user namespace has none over " +
                            which + why_not;
    refuse(joined_pid ? "linux.namespaces: a pid path with a new user namespace"
                      : "linux.namespaces: no pid namespace (the host's) with a new user namespace",
           why,
           joined_pid ? "join the user namespace that owns that PID namespace instead of making "
                        "one ({\"type\": \"user\", \"path\": \"/proc/PID/ns/user\"}, as a "
                        "pod's containers join the sandbox's), give the container a PID "
                        "namespace of its own ({\"type\": \"pid\"}), or run it without a user "
                        "namespace (as root)"
                      : "give the container a PID namespace of its own ({\"type\": \"pid\"}), or "
                        "bind the host's /proc instead of mounting proc (rootless podman's "
                        "--pid=host does)");
}

void check_linux(const json& config, const json& l) {
    only(l, "linux.",
         {"namespaces", "uidMappings", "gidMappings", "timeOffsets", "devices", "netDevices",
          "cgroupsPath", "rootfsPropagation", "resources", "intelRdt", "sysctl", "seccomp",
          "maskedPaths", "readonlyPaths", "mountLabel", "personality", "memoryPolicy"});
    never(l, "linux.", "timeOffsets", "gantry makes no time namespace");
    never(l, "linux.", "netDevices", "gantry moves no network device into the container");
    never(l, "linux.", "intelRdt", "gantry manages no resctrl group");
    never(l, "linux.", "mountLabel", "gantry sets no SELinux label");
    if (l.contains("memoryPolicy"))
        only(l["memoryPolicy"], "linux.memoryPolicy.", {"mode", "nodes", "flags"});
    if (l.contains("rootfsPropagation")) {
        const json& v = l["rootfsPropagation"];
        std::string p = v.is_string() ? v.get<std::string>() : std::string("?");
        if (!p.empty() && !propagation_values().contains(p))
            throw Error(Errc::invalid, "linux.rootfsPropagation \"" + p + "\" is not a propagation",
                        "shared, slave, private or unbindable, or their recursive r- forms "
                        "(runc's default: rslave)");
    }
    const json& ns = l.contains("namespaces") ? l["namespaces"] : json();
    if (ns.is_array())
        for (size_t i = 0; i < ns.size(); ++i) {
            std::string path = "linux.namespaces[" + std::to_string(i) + "].";
            only(ns[i], path, {"type", "path"});
            // joined with setns: network, ipc, uts and cgroup by the container's process
            // (runtime/child.cpp), pid by gantry before the fork that makes that process
            // (runtime/launcher.cpp: a PID namespace holds the children of who joined it);
            // with a user namespace, all of them by a helper that joins that first and forks
            // the container process (runtime/ns_join.hpp). Mount and time need more than setns
            // (a mount namespace's root, a time namespace's offsets before its first process)
            static const std::set<std::string> joinable = {"network", "ipc", "uts",
                                                           "cgroup",  "pid", "user"};
            if (ns[i].contains("path") &&
                !(ns[i]["path"].is_string() && ns[i]["path"].get<std::string>().empty())) {
                std::string type = ns[i].value("type", std::string());
                if (!joinable.count(type))
                    refuse(path + "path",
                           "joining an existing " + type +
                               " namespace is not implemented (user, network, ipc, uts, "
                               "cgroup and pid namespaces can be joined)",
                           "remove " + path + "path from config.json");
                if (!ns[i]["path"].is_string() ||
                    !ns[i]["path"].get<std::string>().starts_with("/"))
                    refuse(path + "path", "must be an absolute path",
                           "give the path of a namespace file, e.g. /proc/PID/ns/net");
            }
        }
    check_pid_and_user(config, l);
    if (l.contains("devices") && l["devices"].is_array())
        for (size_t i = 0; i < l["devices"].size(); ++i)
            only(l["devices"][i], "linux.devices[" + std::to_string(i) + "].",
                 {"type", "path", "major", "minor", "fileMode", "uid", "gid"});
}

} // namespace

void check_spec_fields(const json& j) {
    if (!j.is_object()) return;
    only(j, "",
         {"ociVersion", "root", "mounts", "process", "hostname", "domainname", "hooks",
          "annotations", "linux", "solaris", "windows", "vm", "zos"});
    for (const char* other : {"solaris", "windows", "vm", "zos"})
        never(j, "", other, "gantry runs Linux containers");
    if (j.contains("root")) only(j["root"], "root.", {"path", "readonly"});
    if (j.contains("process")) check_process(j["process"]);
    if (j.contains("mounts")) check_mounts(j["mounts"], j);
    if (j.contains("hooks"))
        only(j["hooks"], "hooks.",
             {"prestart", "createRuntime", "createContainer", "startContainer", "poststart",
              "poststop"});
    if (j.contains("linux")) check_linux(j, j["linux"]);
}

} // namespace gantry::oci
