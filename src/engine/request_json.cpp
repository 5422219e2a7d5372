// request.json: a RunRequest field by field, by the field's name; and what makes one persistable.
#include "engine/request_json.hpp"

#include "records/state.hpp"
#include "runspec/builder.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/json.hpp"

#include <cstdlib>
#include <set>

namespace gantry::engine {

namespace {

using json = nlohmann::json;

// Every persisted field, once: the writer and the reader walk the same list.
template <class Visit>
void request_fields(RunRequest& r, Visit&& v) {
    v("image", r.image);
    v("image_stores", r.image_stores);
    v("command", r.command);
    v("pull", r.pull);
    v("no_unpack", r.no_unpack);
    v("overlay_required", r.overlay_required);
    v("tls_verify", r.tls_verify);
    v("entrypoint", r.entrypoint);
    v("env", r.env);
    v("env_files", r.env_files);
    v("apptainer_env", r.apptainer_env);
    v("workdir", r.workdir);
    v("user", r.user);
    v("group_add", r.group_add);
    v("hostname", r.hostname);
    v("tty", r.tty);
    v("interactive", r.interactive);
    v("init", r.init);
    v("volumes", r.volumes);
    v("mounts", r.mounts);
    v("volumes_from", r.volumes_from);
    v("restart", r.restart);
    v("image_volume", r.image_volume);
    v("anonymous_volumes", r.anonymous_volumes);
    v("tmpfs", r.tmpfs);
    v("read_only", r.read_only);
    v("writable_layer", r.writable_layer);
    v("write_warn", r.write_warn);
    v("kernel_cache", r.kernel_cache);
    v("network", r.network);
    v("network_aliases", r.network_aliases);
    v("more_networks", r.more_networks);
    v("endpoint_aliases", r.endpoint_aliases);
    v("ip", r.ip);
    v("ip6", r.ip6);
    v("endpoint_ips", r.endpoint_ips);
    v("ipc", r.ipc);
    v("uts", r.uts);
    v("pid", r.pid);
    v("userns", r.userns);
    v("shm_size", r.shm_size);
    v("memory", r.memory);
    v("cpus", r.cpus);
    v("pids_limit", r.pids_limit);
    v("memory_swap", r.memory_swap);
    v("memory_reservation", r.memory_reservation);
    v("memory_swappiness", r.memory_swappiness);
    v("cpu_shares", r.cpu_shares);
    v("cpuset_cpus", r.cpuset_cpus);
    v("cpuset_mems", r.cpuset_mems);
    v("cpu_rt_period", r.cpu_rt_period);
    v("cpu_rt_runtime", r.cpu_rt_runtime);
    v("ulimits", r.ulimits);
    v("security_opt", r.security_opt);
    v("fake_root", r.fake_root);
    v("cap_add", r.cap_add);
    v("cap_drop", r.cap_drop);
    v("publish", r.publish);
    v("publish_all", r.publish_all);
    v("expose", r.expose);
    v("add_hosts", r.add_hosts);
    v("gpus", r.gpus);
    v("driver_root", r.gpu_roots.driver_root);
    v("dev_root", r.gpu_roots.dev_root);
    v("sys_root", r.gpu_roots.sys_root);
    v("more_roots", r.gpu_roots.more);
    v("gpu_vendor", r.gpu_vendor);
    v("apptainer_gpu_flags", r.apptainer_gpu_flags);
    v("runtime", r.runtime);
    v("devices", r.devices);
    v("cdi_dirs", r.cdi_dirs);
    v("no_require", r.no_require);
    v("gpu_numa", r.gpu_numa);
    v("gpu_memory", r.gpu_memory);
    v("gpu_memory_reservation", r.gpu_memory_reservation);
    v("gpu_compute", r.gpu_compute);
    v("mps", r.mps);
    v("name", r.name);
    v("labels", r.labels);
    v("label_files", r.label_files);
    v("detach", r.detach);
    v("rm", r.rm);
    v("log_driver", r.log_driver);
    v("pidfile", r.pidfile);
    v("attach", r.attach);
    v("sig_proxy", r.sig_proxy);
    v("cidfile", r.cidfile);
    v("stop_signal", r.stop_signal);
    v("stop_timeout", r.stop_timeout);
    v("health_cmd", r.health_cmd);
    v("health_interval", r.health_interval);
    v("health_timeout", r.health_timeout);
    v("health_start_period", r.health_start_period);
    v("health_retries", r.health_retries);
    v("no_healthcheck", r.no_healthcheck);
    v("health_test", r.health_test);
}

template <class T>
void put_field(json& j, const char* key, const T& value) {
    j[key] = value;
}
template <class T>
void put_field(json& j, const char* key, const std::optional<T>& value) {
    j[key] = value ? json(*value) : json(nullptr);
}
template <class T>
void get_field(const json& j, const char* key, T& out) {
    out = j.get<T>();
    (void)key;
}
template <class T>
void get_field(const json& j, const char* key, std::optional<T>& out) {
    if (j.is_null())
        out.reset();
    else
        out = j.get<T>();
    (void)key;
}

std::string absolute_path(const std::string& p, const std::filesystem::path& cwd) {
    if (p.empty() || p.starts_with('/')) return p;
    return (cwd / p).lexically_normal().string();
}

} // namespace

json request_to_json(const RunRequest& request) {
    json j = json::object();
    RunRequest r = request;
    request_fields(r, [&j](const char* key, auto& value) { put_field(j, key, value); });
    return j;
}

RunRequest request_from_json(const json& j, const std::string& file) {
    if (!j.is_object())
        throw Error(Errc::invalid, file + ": not a JSON object",
                    "remove the container and create it again");
    RunRequest r;
    std::set<std::string> known;
    request_fields(r, [&](const char* key, auto& value) {
        known.insert(key);
        auto it = j.find(key);
        if (it == j.end()) return;
        try {
            get_field(*it, key, value);
        } catch (const json::exception&) {
            throw Error(Errc::invalid, file + ": \"" + key + "\" has the wrong type",
                        "remove the container and create it again");
        }
    });
    // before 2026-11-27 Apptainer's flags were two fields (folded before a request is written)
    for (const char* legacy : {"nv", "rocm"})
        if (auto it = j.find(legacy); it != j.end() && it->is_boolean()) {
            known.insert(legacy);
            if (it->get<bool>()) r.apptainer_gpu_flags[std::string("--") + legacy] = true;
        }
    for (auto it = j.begin(); it != j.end(); ++it)
        if (!known.count(it.key()))
            throw Error(Errc::invalid,
                        file + ": unknown field \"" + it.key() + "\" (written by a newer gantry?)",
                        "start it with the gantry that created it, or create it again");
    return r;
}

RunRequest persistable(RunRequest r, const std::filesystem::path& cwd,
                       const std::map<std::string, std::string>& labels) {
    // the environment as the caller has it now: --env-file's lines, then -e (K: the host's value)
    std::vector<std::string> env;
    for (auto& f : r.env_files)
        for (auto& e : runspec::read_env_file(absolute_path(f, cwd))) env.push_back(e);
    for (auto& e : r.env) {
        if (e.find('=') != std::string::npos) {
            env.push_back(e);
        } else if (const char* v = std::getenv(e.c_str())) {
            env.push_back(e + "=" + v);
        }
    }
    r.env = std::move(env);
    r.env_files.clear();
    r.labels.clear();
    for (auto& [k, v] : labels) r.labels.push_back(k + "=" + v);
    r.label_files.clear();
    // paths: relative to the directory the request was made in
    if (auto file = r.image; file.starts_with("./") || file.starts_with("../"))
        r.image = absolute_path(file, cwd);
    for (auto& v : r.volumes)
        if (v.starts_with("./") || v.starts_with("../") || v == "." || v.starts_with(".:"))
            v = absolute_path(v.substr(0, v.find(':')), cwd) +
                (v.find(':') == std::string::npos ? "" : v.substr(v.find(':')));
    for (auto& m : r.mounts)
        for (const char* key : {"source=.", "src=."})
            if (m.find(key) != std::string::npos)
                throw Error(Errc::usage,
                            "--mount " + m +
                                ": a relative source cannot be kept for a later "
                                "`gantry start`",
                            "give the source as an absolute path");
    r.pidfile = absolute_path(r.pidfile, cwd);
    for (auto& d : r.cdi_dirs) d = absolute_path(d, cwd);
    // the image as it was found or pulled now: later starts do not pull (docker's create)
    if (r.pull != "lazy") r.pull = "never";
    r.cidfile.clear(); // written once, when the container was made
    r.detach = true;   // `gantry start` runs it as run -d does (start -a: in the foreground)
    r.container_id.clear();
    return r;
}

void write_request(const std::filesystem::path& dir, const RunRequest& r) {
    // beside the container's state, which is gone at boot anyway: not synced
    std::string text =
        safe_json::dump_or_refuse(request_to_json(r), 2, "the run request",
                                  "a kept container's request", records::kNotUtf8Hint);
    fs::write_atomic(dir / "request.json", text + "\n", 0600, fs::Sync::volatile_only);
}

RunRequest read_request(const std::filesystem::path& dir) {
    auto file = dir / "request.json";
    std::string text;
    try {
        text = fs::read_file(file, 1 << 20);
    } catch (const Error&) {
        throw Error(Errc::not_found,
                    "the container's run request was not kept (" + file.string() + ")",
                    "it cannot be started again: remove it and run a new one");
    }
    json j;
    try {
        j = json::parse(text);
    } catch (const json::exception& e) {
        throw Error(Errc::invalid, file.string() + ": not JSON (" + e.what() + ")",
                    "remove the container and create it again");
    }
    return request_from_json(j, file.string());
}

} // namespace gantry::engine
