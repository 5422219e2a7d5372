#include "oci/spec_checks.hpp"

#include "util/error.hpp"

#include <algorithm>
#include <set>

namespace gantry::oci {

namespace {

void check_capability_names(const CapabilitySets& caps) {
    const auto& known = all_capabilities();
    const std::pair<const char*, const std::vector<std::string>*> sets[] = {
        {"bounding", &caps.bounding},
        {"effective", &caps.effective},
        {"permitted", &caps.permitted},
        {"inheritable", &caps.inheritable},
        {"ambient", &caps.ambient}};
    for (auto& [name, list] : sets)
        for (auto& c : *list)
            if (std::find(known.begin(), known.end(), c) == known.end())
                throw Error(Errc::invalid,
                            std::string("process.capabilities.") + name +
                                ": unknown capability \"" + c + "\"",
                            "capabilities are named as in capabilities(7), in upper case with "
                            "CAP_ (CAP_NET_ADMIN); `gantry oci features` lists them");
    // the kernel raises an ambient capability only when it is permitted and inheritable; runc
    // 1.1 leaves out one that is not without a word
    auto in = [](const std::vector<std::string>& v, const std::string& c) {
        return std::find(v.begin(), v.end(), c) != v.end();
    };
    for (auto& c : caps.ambient)
        if (!in(caps.permitted, c) || !in(caps.inheritable, c))
            throw Error(Errc::invalid,
                        "process.capabilities.ambient: " + c +
                            " is not in both the permitted and the inheritable set",
                        "the kernel raises an ambient capability only when it is permitted and "
                        "inheritable: add it to both, or drop it from ambient");
}

bool is_ipc_sysctl(const std::string& k) {
    static const std::set<std::string> ipc = {
        "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
        "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced"};
    return ipc.contains(k) || k.starts_with("fs.mqueue.");
}

// Each component of the key is a name: not empty, not "." or "..", no NUL.
void check_sysctl_key(const std::string& key) {
    std::string path = sysctl_path(key);
    bool ok = !path.empty() && path.find('\0') == std::string::npos;
    size_t start = 0;
    while (ok && start <= path.size()) {
        size_t slash = path.find('/', start);
        std::string c = path.substr(start, slash == std::string::npos ? slash : slash - start);
        ok = !c.empty() && c != "." && c != "..";
        if (slash == std::string::npos) break;
        start = slash + 1;
    }
    if (!ok)
        throw Error(Errc::invalid, "linux.sysctl: \"" + key + "\" is not a sysctl name",
                    "name it as sysctl(8) does: net.ipv4.ip_forward");
}

void check_sysctl(const RuntimeSpec& s, const std::string& key) {
    check_sysctl_key(key);
    const std::string k = sysctl_dotted(key);
    auto refuse = [&](const std::string& why, const std::string& hint) {
        throw Error(Errc::invalid, "linux.sysctl \"" + key + "\" " + why, hint);
    };
    if (is_ipc_sysctl(k)) {
        if (!s.has_namespace("ipc"))
            refuse("is not allowed in the host's IPC namespace",
                   "add {\"type\": \"ipc\"} to linux.namespaces, or drop the sysctl");
        return;
    }
    if (k.starts_with("net.")) {
        if (!s.has_namespace("network"))
            refuse("is not allowed in the host's network namespace",
                   "add {\"type\": \"network\"} to linux.namespaces, or drop the sysctl");
        return;
    }
    if (s.has_namespace("uts")) {
        if (k == "kernel.domainname") return;
        if (k == "kernel.hostname")
            refuse("conflicts with the OCI \"hostname\" field", "set the hostname field instead");
    }
    refuse("is not in a separate kernel namespace",
           "only the IPC (kernel.msg*, kernel.sem, kernel.shm*, fs.mqueue.*), network (net.*) and "
           "UTS (kernel.domainname) sysctls a container's own namespaces hold can be set");
}

} // namespace

namespace {

// "net/ipv4/ip_forward" <-> "net.ipv4.ip_forward" (a dot inside a part becomes a slash)
std::string dots_and_slashes_swapped(std::string key) {
    for (auto& c : key)
        if (c == '.')
            c = '/';
        else if (c == '/')
            c = '.';
    return key;
}

} // namespace

std::string sysctl_dotted(const std::string& key) {
    size_t first = key.find_first_of("./");
    if (first == std::string::npos || key[first] == '.') return key;
    return dots_and_slashes_swapped(key);
}

std::string sysctl_path(const std::string& key) {
    return dots_and_slashes_swapped(sysctl_dotted(key));
}

void check_runtime_spec(const RuntimeSpec& s) {
    check_capability_names(s.capabilities);
    if (s.cwd.empty() || s.cwd[0] != '/')
        throw Error(Errc::invalid, "process.cwd \"" + s.cwd + "\" is not an absolute path",
                    "name the working directory from the container's /, e.g. /work");
    if (!s.hostname.empty() && !s.has_namespace("uts"))
        throw Error(Errc::invalid, "hostname \"" + s.hostname + "\" needs a UTS namespace",
                    "add {\"type\": \"uts\"} to linux.namespaces, or drop hostname");
    if (!s.domainname.empty() && !s.has_namespace("uts"))
        throw Error(Errc::invalid, "domainname \"" + s.domainname + "\" needs a UTS namespace",
                    "add {\"type\": \"uts\"} to linux.namespaces, or drop domainname");
    for (auto& [key, value] : s.sysctl) check_sysctl(s, key);
}

} // namespace gantry::oci
