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
    only(p, "process.",
         {"terminal", "consoleSize", "user", "args", "env", "cwd", "capabilities", "rlimits",
          "noNewPrivileges", "oomScoreAdj", "apparmorProfile", "selinuxLabel", "ioPriority",
          "scheduler", "execCPUAffinity", "commandLine"});
    never(p, "process.", "selinuxLabel", "gantry sets no SELinux label");
    never(p, "process.", "ioPriority", "gantry does not set the I/O priority");
    never(p, "process.", "scheduler", "gantry does not set the scheduling policy");
    never(p, "process.", "execCPUAffinity", "gantry does not set a CPU affinity");
    never(p, "process.", "commandLine", "it is Windows' (process.args on Linux)");
    if (p.contains("user")) {
        only(p["user"], "process.user.", {"uid", "gid", "umask", "additionalGids", "username"});
        never(p["user"], "process.user.", "username", "it is Windows' (process.user.uid here)");
    }
    if (p.contains("capabilities"))
        only(p["capabilities"], "process.capabilities.",
             {"bounding", "effective", "permitted", "inheritable", "ambient"});
}

const std::set<std::string>& propagation_options() { // built at first use, not at every start
    static const std::set<std::string> s = {"shared", "rshared",    "slave",
                                            "rslave", "unbindable", "runbindable"};
    return s;
}

void check_mounts(const json& mounts) {
    if (!mounts.is_array()) return;
    for (size_t i = 0; i < mounts.size(); ++i) {
        std::string path = "mounts[" + std::to_string(i) + "].";
        only(mounts[i], path,
             {"destination", "type", "source", "options", "uidMappings", "gidMappings"});
        const json& opts = mounts[i].contains("options") ? mounts[i]["options"] : json();
        if (opts.is_array())
            for (auto& o : opts)
                if (o.is_string() && propagation_options().contains(o.get<std::string>()))
                    refuse(path + "options \"" + o.get<std::string>() + "\"",
                           "every mount is private to the container's mount namespace",
                           "use \"rprivate\" (or no propagation option)");
        for (const char* k : {"uidMappings", "gidMappings"})
            never(mounts[i], path, k,
                  "idmapped mounts are not implemented (runc 1.1 does not apply them either)");
    }
}

void check_linux(const json& l) {
    only(l, "linux.",
         {"namespaces", "uidMappings", "gidMappings", "timeOffsets", "devices", "netDevices",
          "cgroupsPath", "rootfsPropagation", "resources", "intelRdt", "sysctl", "seccomp",
          "maskedPaths", "readonlyPaths", "mountLabel", "personality", "memoryPolicy"});
    never(l, "linux.", "timeOffsets", "gantry makes no time namespace");
    never(l, "linux.", "netDevices", "gantry moves no network device into the container");
    never(l, "linux.", "intelRdt", "gantry manages no resctrl group");
    never(l, "linux.", "mountLabel", "gantry sets no SELinux label");
    never(l, "linux.", "personality", "gantry does not set the execution domain");
    never(l, "linux.", "memoryPolicy", "gantry does not set a NUMA memory policy");
    if (l.contains("rootfsPropagation")) {
        const json& v = l["rootfsPropagation"];
        std::string p = v.is_string() ? v.get<std::string>() : std::string("?");
        if (!p.empty() && p != "private" && p != "rprivate")
            refuse("linux.rootfsPropagation \"" + p + "\"",
                   "the container's mounts are private to its mount namespace",
                   "use \"rprivate\" (or leave it out): mounts made on the host after the start "
                   "do not reach the container, nor its mounts the host");
    }
    const json& ns = l.contains("namespaces") ? l["namespaces"] : json();
    if (ns.is_array())
        for (size_t i = 0; i < ns.size(); ++i) {
            std::string path = "linux.namespaces[" + std::to_string(i) + "].";
            only(ns[i], path, {"type", "path"});
            // joined with setns by the container's process (runtime/child.cpp); the others
            // need more than setns (a user namespace's ids, a pid namespace for the children
            // only, a mount namespace's root)
            static const std::set<std::string> joinable = {"network", "ipc", "uts", "cgroup"};
            if (ns[i].contains("path") &&
                !(ns[i]["path"].is_string() && ns[i]["path"].get<std::string>().empty())) {
                std::string type = ns[i].value("type", std::string());
                if (!joinable.count(type))
                    refuse(path + "path",
                           "joining an existing " + type +
                               " namespace is not implemented (network, ipc, uts and cgroup "
                               "namespaces can be joined)",
                           "remove " + path + "path from config.json");
                if (!ns[i]["path"].is_string() ||
                    !ns[i]["path"].get<std::string>().starts_with("/"))
                    refuse(path + "path", "must be an absolute path",
                           "give the path of a namespace file, e.g. /proc/PID/ns/net");
            }
        }
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
    if (j.contains("mounts")) check_mounts(j["mounts"]);
    if (j.contains("hooks"))
        only(j["hooks"], "hooks.",
             {"prestart", "createRuntime", "createContainer", "startContainer", "poststart",
              "poststop"});
    if (j.contains("linux")) check_linux(j["linux"]);
}

} // namespace gantry::oci
