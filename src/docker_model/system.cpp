#include "docker_model/system.hpp"

#include "oci/image.hpp"
#include "util/fs.hpp"

#include <cstdlib>
#include <fstream>
#include <string>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <unistd.h>

namespace gantry::docker_model {

namespace {

std::string kernel_release() {
    struct utsname u {};
    ::uname(&u);
    return u.release;
}

// /etc/os-release's PRETTY_NAME, as docker's OperatingSystem.
std::string os_pretty_name() {
    std::ifstream in("/etc/os-release");
    std::string line;
    while (std::getline(in, line)) {
        if (!line.starts_with("PRETTY_NAME=")) continue;
        std::string v = line.substr(12);
        if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'') && v.back() == v.front())
            v = v.substr(1, v.size() - 2);
        return v;
    }
    return "Linux";
}

std::string env_or_empty(const char* name) {
    const char* v = std::getenv(name);
    return v ? v : "";
}

} // namespace

json version_json(const std::string& version) {
    const auto arch = oci::Platform::host().architecture;
    const auto kernel = kernel_release();
    json engine{{"Name", "Engine"},
                {"Version", version},
                {"Details",
                 {{"ApiVersion", ""},
                  {"Arch", arch},
                  {"KernelVersion", kernel},
                  {"Os", "linux"},
                  {"Experimental", "false"}}}};
    return {{"Client",
             {{"Platform", {{"Name", "gantry"}}},
              {"Version", version},
              {"ApiVersion", ""},
              {"DefaultAPIVersion", ""},
              {"GitCommit", ""},
              {"GoVersion", ""},
              {"Os", "linux"},
              {"Arch", arch},
              {"BuildTime", ""},
              {"Context", "default"},
              {"Experimental", false}}},
            {"Server",
             {{"Platform", {{"Name", "gantry"}}},
              {"Components", json::array({engine})},
              {"Version", version},
              {"ApiVersion", ""},
              {"MinAPIVersion", ""},
              {"GitCommit", ""},
              {"GoVersion", ""},
              {"Os", "linux"},
              {"Arch", arch},
              {"KernelVersion", kernel},
              {"Experimental", false},
              {"BuildTime", ""}}}};
}

json info_json(const EngineFacts& f) {
    struct utsname u {};
    ::uname(&u);
    struct sysinfo si {};
    ::sysinfo(&si);
    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    bool v2 = fs::stdfs::exists("/sys/fs/cgroup/cgroup.controllers");
    json security = json::array({"name=seccomp,profile=builtin"});
    if (::geteuid() != 0) security.push_back("name=rootless");
    if (v2) security.push_back("name=cgroupns");
    return {{"ID", ""},
            {"Name", host},
            {"ServerVersion", f.version},
            {"Containers", f.containers},
            {"ContainersRunning", f.running},
            {"ContainersPaused", 0},
            {"ContainersStopped", f.stopped},
            {"Images", f.images},
            {"Driver", "overlay"},
            {"DriverStatus", json::array()},
            {"DockerRootDir", f.store_root},
            {"KernelVersion", u.release},
            {"OperatingSystem", os_pretty_name()},
            {"OSType", "linux"},
            {"Architecture", u.machine},
            {"NCPU", ::sysconf(_SC_NPROCESSORS_ONLN)},
            {"MemTotal", static_cast<std::uint64_t>(si.totalram) * si.mem_unit},
            {"CgroupVersion", v2 ? "2" : "1"},
            {"CgroupDriver", "cgroupfs"},
            {"SecurityOptions", security},
            {"Runtimes", {{"gantry", {{"path", "gantry"}}}}},
            {"DefaultRuntime", "gantry"},
            {"Labels", json::array()},
            {"Warnings", json::array()},
            {"ExperimentalBuild", false},
            {"HttpProxy", env_or_empty("HTTP_PROXY")},
            {"HttpsProxy", env_or_empty("HTTPS_PROXY")},
            {"NoProxy", env_or_empty("NO_PROXY")}};
}

} // namespace gantry::docker_model
