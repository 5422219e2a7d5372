#include "docker_model/containers.hpp"

#include "docker_model/gpu_memory.hpp"
#include "docker_model/words.hpp"
#include "engine/request_json.hpp"
#include "network/ports.hpp"
#include "records/health.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/printable.hpp"
#include "util/text.hpp"
#include "util/units.hpp"

#include <algorithm>
#include <charconv>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>

namespace gantry::docker_model {

namespace {

// run --stop-signal as docker's inspect names it: "SIGTERM"
std::string stop_signal_name(int sig) {
    const char* abbrev = sig > 0 ? ::sigabbrev_np(sig) : nullptr;
    return abbrev ? std::string("SIG") + abbrev : "SIGTERM";
}

// docker's Ellipsis: at most N code points, the last one "…" when cut.
std::string ellipsis_text(const std::string& s, std::size_t n) {
    std::size_t count = 0, i = 0, cut = 0;
    for (; i < s.size(); ++i) {
        if ((static_cast<unsigned char>(s[i]) & 0xc0) == 0x80) continue;
        if (count == n - 1) cut = i;
        ++count;
    }
    if (count <= n) return s;
    return s.substr(0, cut) + "\xe2\x80\xa6";
}

std::string quoted_command(const std::string& s) {
    return text::quote(s); // docker's strconv.Quote: "sh -c \"x\"", a newline as \n
}

bool has_network_namespace(const oci::RuntimeSpec& spec) {
    return std::find(spec.namespaces.begin(), spec.namespaces.end(), "network") !=
           spec.namespaces.end();
}

using records::user_mounts;

// docker's " (healthy)" after a running container's STATUS when it has a health check
std::string health_suffix_of(const records::ContainerState& s, bool running) {
    if (!running || s.healthcheck.is_null() || s.container_dir.empty()) return "";
    return records::health_suffix(s.container_dir);
}

json label_method(const json& recv, const std::vector<json>& args) {
    if (args.size() != 1 || !args[0].is_string())
        throw Error(Errc::usage, "Label takes one label name: {{.Label \"com.example.key\"}}");
    auto labels = recv.find("$labels");
    if (labels == recv.end()) return "";
    auto it = labels->find(args[0].get<std::string>());
    return it == labels->end() ? json("") : *it;
}

} // namespace

std::string state_word(const records::ContainerState& s, bool running) {
    if (running) return s.paused() ? "paused" : "running";
    return s.status == "running" ? "exited" : s.status; // its process is gone
}

json ps_row(const records::ContainerState& s, bool running, bool no_trunc) {
    std::string command;
    for (auto& a : s.command) command += (command.empty() ? "" : " ") + a;
    std::string labels;
    for (auto& [k, v] : s.labels) labels += (labels.empty() ? "" : ",") + k + "=" + v;
    std::string mounts;
    for (auto* m : user_mounts(s)) mounts += (mounts.empty() ? "" : ",") + m->source;
    return {{"ID", s.id},
            {"Image", s.image},
            {"Command", quoted_command(no_trunc ? command : ellipsis_text(command, 20))},
            {"CreatedAt", go_time(s.created)},
            {"RunningFor", units::human_ago(s.created, s.created)},
            {"Ports", running ? network::ps_text(s.ports) : ""}, // docker's: while it runs
            {"State", state_word(s, running)},
            {"Status", records::status_text(s, running) + health_suffix_of(s, running)},
            {"Size", "0B"},
            {"Names", s.name},
            {"Labels", labels},
            {"Mounts", mounts},
            {"Networks", network_mode(s)},
            {"LocalVolumes", "0"},
            {"$labels", s.labels}};
}

const gotemplate::Listing& ps_listing() {
    static const gotemplate::Listing listing = [] {
        gotemplate::Listing l;
        l.data.what = "a container (ps)";
        l.data.methods["Label"] = label_method;
        l.headers = {{"ID", "CONTAINER ID"},
                     {"Image", "IMAGE"},
                     {"Command", "COMMAND"},
                     {"CreatedAt", "CREATED AT"},
                     {"RunningFor", "CREATED"},
                     {"Ports", "PORTS"},
                     {"State", "STATE"},
                     {"Status", "STATUS"},
                     {"Size", "SIZE"},
                     {"Names", "NAMES"},
                     {"Labels", "LABELS"},
                     {"Label", "LABEL"},
                     {"Mounts", "MOUNTS"},
                     {"Networks", "NETWORKS"},
                     {"LocalVolumes", "LOCAL VOLUMES"}};
        l.default_table = "{{.ID}}\\t{{.Image}}\\t{{.Command}}\\t{{.RunningFor}}\\t{{.Status}}\\t"
                          "{{.Ports}}\\t{{.Names}}";
        return l;
    }();
    return listing;
}

std::string network_mode(const records::ContainerState& s) {
    if (!s.network.empty()) return s.network;
    return has_network_namespace(s.spec) ? "none" : "host"; // a record made before networks
}

// The volume whose directory (STORE/volumes/NAME/_data, store/volumes.hpp) SOURCE is, else "".
std::string volume_name_of(const records::ContainerState& s, const std::string& source) {
    if (s.store_root.empty()) return "";
    const std::string prefix = (std::filesystem::path(s.store_root) / "volumes").string() + "/";
    const std::string suffix = "/_data";
    if (!source.starts_with(prefix) || !source.ends_with(suffix)) return "";
    auto name = source.substr(prefix.size(), source.size() - prefix.size() - suffix.size());
    return name.find('/') == std::string::npos ? name : "";
}

// HostConfig.RestartPolicy as docker shows it: {"Name": "on-failure", "MaximumRetryCount": 3}
// ("no" for none, as docker's default).
json restart_policy_json(const std::string& policy) {
    auto colon = policy.find(':');
    std::string name = policy.substr(0, colon);
    int count = 0;
    if (colon != std::string::npos) count = std::atoi(policy.c_str() + colon + 1);
    return {{"Name", name.empty() ? "no" : name}, {"MaximumRetryCount", count}};
}

json inspect_mounts(const records::ContainerState& s) {
    json mounts = json::array();
    for (auto* m : user_mounts(s)) {
        bool ro = std::find(m->options.begin(), m->options.end(), "ro") != m->options.end();
        std::string type = m->type == "tmpfs" ? "tmpfs" : "bind";
        std::string volume = type == "bind" ? volume_name_of(s, m->source) : "";
        json mount = {{"Type", volume.empty() ? type : "volume"},
                      {"Source", type == "tmpfs" ? "" : m->source},
                      {"Destination", m->destination},
                      {"Mode", ro ? "ro" : ""},
                      {"RW", !ro},
                      {"Propagation", type == "bind" && volume.empty() ? "rprivate" : ""}};
        if (!volume.empty()) {
            mount["Name"] = volume;
            mount["Driver"] = "local";
        }
        mounts.push_back(std::move(mount));
    }
    return mounts;
}

namespace {

// HostConfig's fields of what the run asked for that the record does not keep: read from the
// container's request.json (engine/request_json.hpp), kept for a container `create` or the
// Engine API made (a foreground run's has none: docker's defaults then)
void add_run_settings(const records::ContainerState& s, json& host) {
    json volumes_from = nullptr, tmpfs = json::object();
    bool auto_remove = false, init = false;
    std::string ipc;
    std::error_code ec;
    if (!s.container_dir.empty() &&
        std::filesystem::exists(std::filesystem::path(s.container_dir) / "request.json", ec))
        try {
            auto r = engine::read_request(s.container_dir);
            if (!r.volumes_from.empty()) volumes_from = r.volumes_from;
            auto_remove = r.rm;
            init = r.init;
            for (const auto& t : r.tmpfs) {
                auto colon = t.find(':');
                tmpfs[t.substr(0, colon)] = colon == std::string::npos ? "" : t.substr(colon + 1);
            }
            if (r.ipc == "host") ipc = "host";
        } catch (const Error&) { // a damaged request: `gantry start` says so; inspect shows
        }
    host["VolumesFrom"] = volumes_from;
    host["AutoRemove"] = auto_remove;
    host["Init"] = init;
    host["Tmpfs"] = tmpfs;
    host["IpcMode"] = ipc.empty() ? "private" : ipc;
    host["PidMode"] = s.spec.has_namespace("pid") ? "" : "host";
    host["VolumeDriver"] = "";
}

} // namespace

json inspect_container(const records::ContainerState& s, bool running) {
    const auto& spec = s.spec;
    json args = json::array();
    for (std::size_t i = 1; i < s.command.size(); ++i) args.push_back(s.command[i]);
    const std::string net = network_mode(s);
    json mounts = inspect_mounts(s), binds = json::array();
    for (auto* m : user_mounts(s)) {
        bool ro = std::find(m->options.begin(), m->options.end(), "ro") != m->options.end();
        if (m->type != "tmpfs")
            binds.push_back(m->source + ":" + m->destination + (ro ? ":ro" : ""));
    }
    json labels = json::object();
    for (auto& [k, v] : s.labels) labels[k] = v;
    std::string state = state_word(s, running);
    // the limits as docker shows them: 0 for unset; --cpus as NanoCpus (gantry run sets a quota
    // and period only for --cpus); MemorySwap docker's memory+swap (twice Memory by default)
    const auto& res = spec.resources;
    const bool memory_limited = res.memory.limit.value_or(0) > 0;
    const std::int64_t swap = memory_limited ? res.memory.swap.value_or(0) : 0;
    std::int64_t nano_cpus = 0;
    if (res.cpu.quota.value_or(0) > 0 && res.cpu.period.value_or(0) > 0)
        nano_cpus = static_cast<std::int64_t>(static_cast<double>(*res.cpu.quota) * 1e9 /
                                              static_cast<double>(*res.cpu.period));
    json out = {{"Id", s.id},
                {"Created", s.created},
                {"Path", s.command.empty() ? "" : s.command[0]},
                {"Args", args},
                {"State",
                 {{"Status", state},
                  {"Running", running},
                  {"Paused", running && s.paused()},
                  {"Restarting", !running && s.status == "restarting"},
                  {"OOMKilled", false},
                  {"Dead", false},
                  {"Pid", running ? s.pid : 0},
                  {"ExitCode", running ? 0 : s.exit_code},
                  {"Error", ""},
                  {"StartedAt", s.status == "created"  ? "0001-01-01T00:00:00Z"
                                : s.started_at.empty() ? s.created
                                                       : s.started_at},
                  {"FinishedAt", s.finished.empty() ? "0001-01-01T00:00:00Z" : s.finished}}},
                {"Image", s.manifest},
                {"Name", "/" + s.name},
                {"RestartCount", s.restart_count},
                {"Driver", "gantry"},
                {"Platform", "linux"},
                {"Config",
                 {{"Hostname", spec.hostname},
                  {"User", std::to_string(spec.uid) + ":" + std::to_string(spec.gid)},
                  {"Env", spec.env},
                  {"Cmd", s.command},
                  {"Entrypoint", nullptr},
                  {"Image", s.image},
                  {"WorkingDir", spec.cwd},
                  {"Labels", labels},
                  {"Tty", spec.terminal},
                  {"OpenStdin", s.open_stdin},
                  {"AttachStdin", false},
                  {"AttachStdout", !s.detached},
                  {"AttachStderr", !s.detached},
                  {"StopSignal", stop_signal_name(s.stop_signal)}}},
                {"Mounts", mounts},
                {"HostConfig",
                 {{"NetworkMode", net},
                  {"PortBindings", network::inspect_ports(s.ports)},
                  {"UTSMode", spec.has_namespace("uts") ? "" : "host"},
                  {"Binds", binds},
                  {"Memory", std::max<std::int64_t>(res.memory.limit.value_or(0), 0)},
                  {"MemorySwap", swap},
                  {"MemoryReservation", res.memory.reservation.value_or(0)},
                  {"MemorySwappiness",
                   res.memory.swappiness ? json(*res.memory.swappiness) : json(nullptr)},
                  {"NanoCpus", nano_cpus},
                  {"CpuShares", res.cpu.shares.value_or(0)},
                  {"CpusetCpus", res.cpu.cpus},
                  {"CpusetMems", res.cpu.mems},
                  {"CpuRealtimePeriod", res.cpu.realtime_period.value_or(0)},
                  {"CpuRealtimeRuntime", res.cpu.realtime_runtime.value_or(0)},
                  {"PidsLimit",
                   res.pids_limit && *res.pids_limit > 0 ? json(*res.pids_limit) : json(nullptr)},
                  {"ReadonlyRootfs", spec.root_readonly},
                  {"Privileged", false},
                  {"RestartPolicy", restart_policy_json(s.restart_policy)},
                  {"Runtime", "gantry"}}},
                {"NetworkSettings",
                 {{"Networks", s.endpoints.is_object() && s.endpoints.contains(net)
                                   ? s.endpoints
                                   : json{{net, json::object()}}},
                  {"Ports", running ? network::inspect_ports(s.ports) : json::object()},
                  {"IPAddress", ""}}}};
    if (s.stop_timeout >= 0) out["Config"]["StopTimeout"] = s.stop_timeout; // docker: when set
    if (!s.healthcheck.is_null()) { // docker: State.Health once the container has run
        out["Config"]["Healthcheck"] = s.healthcheck;
        if (auto h = s.container_dir.empty() ? std::nullopt : records::read_health(s.container_dir))
            out["State"]["Health"] = h->to_json();
    }
    add_run_settings(s, out["HostConfig"]);
    // --kernel-cache (engine/kernel_caches.hpp): the key, its directory and this container's role
    if (auto key = spec.annotations.find("io.gantry.kernel-cache.key");
        key != spec.annotations.end()) {
        auto field = [&](const char* name) {
            auto it = spec.annotations.find(name);
            return it == spec.annotations.end() ? std::string() : it->second;
        };
        out["GantryKernelCache"] = {{"Key", key->second},
                                    {"Dir", field("io.gantry.kernel-cache.dir")},
                                    {"Role", field("io.gantry.kernel-cache.role")},
                                    {"MountPath", "/var/cache/gantry/kernels"}};
    }
    if (auto g = gpu_memory(s, running); !g.empty()) out["GantryGpuMemory"] = g;
    // a detached container's output is kept in one file (`logs` reads it, as docker's
    // json-file; docker-py reads a container's output only with json-file or journald); a
    // foreground one's is not kept (docker's none)
    std::string driver = !s.detached ? "none" : s.log_driver.empty() ? "json-file" : s.log_driver;
    out["HostConfig"]["LogConfig"] = {{"Type", driver}, {"Config", json::object()}};
    return out;
}

const gotemplate::Listing& inspect_listing(const std::string& what) {
    static std::mutex mu;
    static std::map<std::string, std::unique_ptr<gotemplate::Listing>> listings;
    std::lock_guard lock(mu);
    auto& l = listings[what];
    if (!l) {
        l = std::make_unique<gotemplate::Listing>();
        l->data.what = what;
        l->data.maps = {".Config.Labels"}; // a Go map: a missing label is <no value>
    }
    return *l;
}

} // namespace gantry::docker_model
