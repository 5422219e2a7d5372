// What a caller reads: the state document, the list, the processes, the features, and the log.
#include "oci/runtime_spec.hpp"
#include "oci/seccomp_spec.hpp"
#include "ocirt/container.hpp"
#include "ocirt/ocirt.hpp"
#include "runtime/state.hpp"
#include "util/error.hpp"

#include <cstdio>
#include <cstdlib>
#include <dirent.h>
#include <sys/stat.h>

namespace gantry::ocirt {

namespace stdfs = std::filesystem;

namespace {

bool same_file(const std::string& a, const struct stat& b) {
    struct stat s {};
    return ::stat(a.c_str(), &s) == 0 && s.st_ino == b.st_ino && s.st_dev == b.st_dev;
}

} // namespace

nlohmann::json state(const Global& g, const std::string& id) {
    return load(g, id).state_json();
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
            if (auto c = find(g, id)) out.push_back(c->state_json());
        } catch (const Error&) { // a name that is no id, or a record being written
        }
    }
    return out;
}

std::vector<int> processes(const Global& g, const std::string& id) {
    Container c = load(g, id);
    std::vector<int> pids;
    if (!c.alive()) return pids;
    // the container's processes: those in its PID namespace (or mount namespace without one)
    const char* ns = c.spec().has_namespace("pid") ? "pid" : "mnt";
    struct stat mine {};
    if (::stat(("/proc/" + std::to_string(c.pid) + "/ns/" + ns).c_str(), &mine) != 0) return pids;
    struct stat host {};
    bool shares_host = ::stat((std::string("/proc/self/ns/") + ns).c_str(), &host) == 0 &&
                       host.st_ino == mine.st_ino && host.st_dev == mine.st_dev;
    if (shares_host) return {c.pid}; // no namespace of its own: only its first process is known
    DIR* d = ::opendir("/proc");
    if (!d) return {c.pid};
    while (auto* e = ::readdir(d)) {
        char* end = nullptr;
        long p = std::strtol(e->d_name, &end, 10);
        if (p <= 0 || *end) continue;
        if (same_file("/proc/" + std::string(e->d_name) + "/ns/" + ns, mine))
            pids.push_back(static_cast<int>(p));
    }
    ::closedir(d);
    std::sort(pids.begin(), pids.end());
    return pids;
}

nlohmann::json features() {
    using nlohmann::json;
    return json{
        {"ociVersionMin", "1.0.0"},
        {"ociVersionMax", "1.1.0"},
        {"hooks",
         {"prestart", "createRuntime", "createContainer", "startContainer", "poststart",
          "poststop"}},
        {"mountOptions",
         {"bind", "rbind", "ro", "rw", "nosuid", "nodev", "noexec", "relatime", "strictatime",
          "private", "rprivate", "slave", "rslave", "shared", "rshared"}},
        {"linux",
         {{"namespaces", {"user", "mount", "pid", "ipc", "uts", "network"}},
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
          {"selinux", {{"enabled", false}}}}},
        {"annotations", {{"org.opencontainers.runc.version", "gantry 0.1.0"}}}};
}

void log_error(const Global& g, const std::string& message) {
    if (g.log.empty()) return;
    FILE* f = std::fopen(g.log.c_str(), "ae");
    if (!f) return;
    std::string t = runtime::now_rfc3339();
    if (g.log_format == "json")
        std::fprintf(
            f, "%s\n",
            nlohmann::json{{"level", "error"}, {"msg", message}, {"time", t}}.dump().c_str());
    else
        std::fprintf(f, "time=\"%s\" level=error msg=%s\n", t.c_str(),
                     nlohmann::json(message).dump().c_str());
    std::fclose(f);
}

} // namespace gantry::ocirt
