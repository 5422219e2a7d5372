// What a caller reads: the state document, the list, the processes, the features, and the log.
#include "oci/runtime_spec.hpp"
#include "oci/seccomp_spec.hpp"
#include "ocirt/container.hpp"
#include "ocirt/ocirt.hpp"
#include "records/state.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/json.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace gantry::ocirt {

namespace stdfs = std::filesystem;

namespace {

bool same_file(const std::string& a, const struct stat& b) {
    struct stat s {};
    return ::stat(a.c_str(), &s) == 0 && s.st_ino == b.st_ino && s.st_dev == b.st_dev;
}

} // namespace

nlohmann::json state(const Global& g, const std::string& id) {
    return state_json(load(g, id));
}

nlohmann::json list(const Global& g) {
    nlohmann::json out = nlohmann::json::array();
    stdfs::path root = root_dir(g);
    std::error_code ec;
    std::vector<std::string> ids;
    for (auto& e : stdfs::directory_iterator(root, ec)) ids.push_back(e.path().filename());
    std::sort(ids.begin(), ids.end());
    for (auto& id : ids) {
        try {
            if (auto c = find(g, id)) out.push_back(state_json(*c));
        } catch (const Error&) { // a name that is no id, or a record being written
        }
    }
    return out;
}

bool owns_pid_namespace(const Container& c) {
    const auto ns = c.spec.namespaces; // made, not joined by path
    return std::find(ns.begin(), ns.end(), "pid") != ns.end();
}

std::vector<int> processes(const Global& g, const std::string& id) {
    return processes(load(g, id));
}

std::vector<int> processes(const Container& c) {
    std::vector<int> pids;
    const bool own_pid = owns_pid_namespace(c);
    if (!own_pid) // the host's PID namespace, or a pod's: its cgroup's, as runc's ps and kill --all
        if (auto cg = cgroups(c))
            for (const char* controller : {"pids", "memory", "freezer", "cpu", "devices"}) {
                const std::string dir = cg->dir(controller);
                if (dir.empty()) continue;
                std::string procs;
                try {
                    procs = fs::read_file(dir + "/cgroup.procs");
                } catch (const Error&) {
                    continue;
                }
                for (std::size_t at = 0; at < procs.size();) {
                    char* end = nullptr;
                    long p = std::strtol(procs.c_str() + at, &end, 10);
                    if (end == procs.c_str() + at) break;
                    if (p > 0) pids.push_back(static_cast<int>(p));
                    at = static_cast<std::size_t>(end - procs.c_str());
                }
                break;
            }
    if (!alive(c)) {
        std::sort(pids.begin(), pids.end());
        return pids;
    }
    // the container's processes: those in its PID namespace, or its mount namespace when the
    // PID namespace is another's (the host's, a pod's: its other processes are not this one's)
    const char* ns = own_pid ? "pid" : "mnt";
    struct stat mine {};
    if (::stat(("/proc/" + std::to_string(c.pid) + "/ns/" + ns).c_str(), &mine) != 0) return pids;
    struct stat host {};
    bool shares_host = ::stat((std::string("/proc/self/ns/") + ns).c_str(), &host) == 0 &&
                       host.st_ino == mine.st_ino && host.st_dev == mine.st_dev;
    if (shares_host) // no namespace of its own: only its first process is known
        pids.push_back(c.pid);
    else if (DIR* d = ::opendir("/proc")) {
        while (auto* e = ::readdir(d)) {
            char* end = nullptr;
            long p = std::strtol(e->d_name, &end, 10);
            if (p <= 0 || *end) continue;
            if (same_file("/proc/" + std::string(e->d_name) + "/ns/" + ns, mine))
                pids.push_back(static_cast<int>(p));
        }
        ::closedir(d);
    } else {
        pids.push_back(c.pid);
    }
    std::sort(pids.begin(), pids.end());
    pids.erase(std::unique(pids.begin(), pids.end()), pids.end());
    return pids;
}

nlohmann::json features() {
    using nlohmann::json;
    return json{
        {"ociVersionMin", "1.0.0"},
        // the newest spec whose fields gantry recognizes: it applies 1.3.0's memoryPolicy and
        // refuses by name what it does not apply (netDevices, intelRdt, execCPUAffinity, ...)
        {"ociVersionMax", "1.3.0"},
        {"hooks",
         {"prestart", "createRuntime", "createContainer", "startContainer", "poststart",
          "poststop"}},
        // what mounts[].options honour (runtime/mounts.cpp; exec, suid, dev and norelatime are
        // the defaults they name); others are filesystem data
        {"mountOptions", {"bind",     "rbind",      "ro",      "rw",         "nosuid",
                          "nodev",    "noexec",     "exec",    "suid",       "dev",
                          "relatime", "norelatime", "noatime", "nodiratime", "strictatime",
                          "sync",     "dirsync",    "private", "rprivate",   "slave",
                          "rslave",   "shared",     "rshared", "unbindable", "runbindable"}},
        {"linux",
         // made: all seven; joined by path: network, ipc, uts, cgroup and pid (user and mount
         // paths are refused at create)
         {{"namespaces", {"user", "mount", "pid", "ipc", "uts", "network", "cgroup"}},
          {"capabilities", oci::all_capabilities()},
          {"cgroup", {{"v1", true}, {"v2", true}, {"systemd", false}, {"systemdUser", false}}},
          {"seccomp",
           {{"enabled", true},
            {"actions", oci::seccomp_action_names()},
            {"operators", oci::seccomp_operator_names()},
            {"archs", oci::seccomp_arch_names()},
            {"knownFlags", oci::seccomp_flag_names()},
            {"supportedFlags", oci::seccomp_flag_names()}}},
          {"apparmor", {{"enabled", false}}},
          {"selinux", {{"enabled", false}}},
          // linux.memoryPolicy (runtime-spec 1.3.0's features: the modes and flags taken)
          {"memoryPolicy",
           {{"modes", oci::memory_policy_modes()}, {"flags", oci::memory_policy_flags()}}},
          // mounts[].uidMappings/gidMappings and the idmap and ridmap options on binds
          // (runtime/idmapped_mount.hpp; runc 1.2 says so here too, not in mountOptions)
          {"mountExtensions", {{"idmap", {{"enabled", true}}}}},
          // refused at create (oci/spec_fields.cpp)
          {"intelRdt", {{"enabled", false}}},
          {"netDevices", {{"enabled", false}}}}},
        {"annotations", {{"org.opencontainers.runc.version", "gantry 0.1.0"}}},
        // annotations of config.json that change what the container gets (runtime-spec 1.2's
        // features.md: an engine passes them from its users only when allowed): CDI devices
        // (GPUs, their hooks and mounts), the caller's groups kept, gantry's lazy root and
        // fake-root seccomp profile
        {"potentiallyUnsafeConfigAnnotations",
         {"cdi.k8s.io/", "run.oci.keep_original_groups", "io.gantry."}}};
}

void open_log(const Global& g) {
    if (g.log.empty()) return;
    int fd = ::open(g.log.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        throw Error(Errc::invalid,
                    "cannot open the log file " + g.log + ": " + std::strerror(errno),
                    "--log names a file gantry-oci can create or append to, in a directory "
                    "that exists");
    ::close(fd);
}

void log_error(const Global& g, const std::string& message) {
    if (g.log.empty()) return;
    FILE* f = std::fopen(g.log.c_str(), "ae");
    if (!f) return;
    std::string t = records::now_rfc3339();
    if (g.log_format == "json")
        std::fprintf(
            f, "%s\n",
            safe_json::dump_lossy({{"level", "error"}, {"msg", message}, {"time", t}}).c_str());
    else
        std::fprintf(f, "time=\"%s\" level=error msg=%s\n", t.c_str(),
                     safe_json::dump_lossy(message).c_str());
    std::fclose(f);
}

} // namespace gantry::ocirt
