#include "gpu_vendors/nvidia/mps.hpp"

#include "util/error.hpp"

#include <algorithm>
#include <filesystem>
#include <sys/stat.h>

namespace gantry::gpu_vendors::nvidia {

namespace {

namespace stdfs = std::filesystem;

bool socket_at(const stdfs::path& p) {
    struct stat st {};
    return ::stat(p.c_str(), &st) == 0 && S_ISSOCK(st.st_mode);
}

std::optional<std::string> value_of(const std::vector<std::string>& env, const std::string& key) {
    std::optional<std::string> v;
    for (const auto& e : env)
        if (e.size() > key.size() && e.starts_with(key) && e[key.size()] == '=')
            v = e.substr(key.size() + 1);
    return v;
}

std::string chosen(const std::string& given, const std::vector<std::string>& container_env,
                   const std::vector<std::string>& caller_env, const std::string& key,
                   const char* fallback) {
    std::string v = given;
    if (v.empty()) v = value_of(container_env, key).value_or("");
    if (v.empty()) v = value_of(caller_env, key).value_or("");
    if (v.empty()) v = fallback;
    while (v.size() > 1 && v.back() == '/') v.pop_back();
    if (v.front() != '/')
        throw Error(Errc::usage, key + " (or --mps) \"" + v + "\" is not an absolute path",
                    "give the directory nvidia-cuda-mps-control -d was started with, e.g. "
                    "--mps=/tmp/nvidia-mps");
    return v;
}

} // namespace

MpsPlace mps_place(const std::string& flag_dir, const std::vector<std::string>& container_env,
                   const std::vector<std::string>& caller_env) {
    return {
        chosen(flag_dir, container_env, caller_env, "CUDA_MPS_PIPE_DIRECTORY", kDefaultMpsPipeDir),
        chosen("", container_env, caller_env, "CUDA_MPS_LOG_DIRECTORY", kDefaultMpsLogDir)};
}

std::optional<MpsDaemon> find_mps_daemon(const MpsPlace& place) {
    struct stat st {};
    if (::stat((place.pipe_dir + "/control").c_str(), &st) != 0 || !S_ISSOCK(st.st_mode))
        return std::nullopt;
    MpsDaemon d;
    d.place = place;
    d.owner = st.st_uid;
    struct stat log {};
    d.log_dir_exists = ::stat(place.log_dir.c_str(), &log) == 0 && S_ISDIR(log.st_mode);
    // a v3 namespace's directory: its server's and the daemon's directories hold sockets too
    const stdfs::path dir(place.pipe_dir);
    if (dir.has_parent_path() && dir.parent_path().has_parent_path() &&
        socket_at(dir.parent_path() / "control") &&
        socket_at(dir.parent_path().parent_path() / "control"))
        d.namespace_name = dir.parent_path().filename().string() + "/" + dir.filename().string();
    // the top of a v3 tree: SERVER/NAMESPACE/control below it
    std::error_code ec;
    for (const auto& server : stdfs::directory_iterator(dir, ec)) {
        if (!server.is_directory(ec) || !socket_at(server.path() / "control")) continue;
        for (const auto& ns : stdfs::directory_iterator(server.path(), ec))
            if (ns.is_directory(ec) && socket_at(ns.path() / "control"))
                d.namespaces.push_back(server.path().filename().string() + "/" +
                                       ns.path().filename().string());
    }
    std::ranges::sort(d.namespaces);
    return d;
}

std::string mps_namespace_note(const MpsDaemon& daemon) {
    if (daemon.namespaces.empty()) return {};
    std::string list;
    for (const auto& n : daemon.namespaces) list += (list.empty() ? "" : ", ") + n;
    return "the MPS control daemon at " + daemon.place.pipe_dir + " has MPS v3 namespaces (" +
           list + "): the container's clients are routed by their UID or cgroup; --mps=" +
           daemon.place.pipe_dir + "/SERVER/NAMESPACE gives it one namespace's socket alone";
}

std::vector<std::string> mps_client_env(const MpsPlace& place,
                                        const std::vector<std::optional<std::uint64_t>>& memory,
                                        unsigned compute) {
    std::vector<std::string> env{"CUDA_MPS_PIPE_DIRECTORY=" + place.pipe_dir,
                                 "CUDA_MPS_LOG_DIRECTORY=" + place.log_dir};
    std::string limits;
    for (std::size_t i = 0; i < memory.size(); ++i)
        if (memory[i]) {
            // whole MiB, rounded down: never above what was asked (share.hpp: at least 1m)
            std::uint64_t mib = *memory[i] / (1024 * 1024);
            limits +=
                (limits.empty() ? "" : ",") + std::to_string(i) + "=" + std::to_string(mib) + "M";
        }
    if (!limits.empty()) env.push_back("CUDA_MPS_PINNED_DEVICE_MEM_LIMIT=" + limits);
    if (compute != 0) env.push_back("CUDA_MPS_ACTIVE_THREAD_PERCENTAGE=" + std::to_string(compute));
    return env;
}

std::string mps_uid_warning(const MpsDaemon& daemon, uid_t client_uid) {
    if (daemon.owner == client_uid || daemon.owner == 0) return {};
    return "the MPS control daemon at " + daemon.place.pipe_dir + " runs as uid " +
           std::to_string(daemon.owner) + ", the container's processes as uid " +
           std::to_string(client_uid) +
           ": an MPS server serves one user's clients, so they wait until that user's "
           "processes are done (nvidia-cuda-mps-control(1)); start a daemon of your own with "
           "its own CUDA_MPS_PIPE_DIRECTORY and pass it with --mps=DIR";
}

} // namespace gantry::gpu_vendors::nvidia
