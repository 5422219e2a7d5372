// A container's record as JSON (records/state.hpp): state.json's fields, read back with the
// defaults of records made by earlier gantry versions.
#include "records/state.hpp"
#include "util/json.hpp"

#include <csignal>

namespace gantry::records {

using nlohmann::json;

json record_json(const ContainerState& s) {
    return {{"name", s.name},
            {"id", s.id},
            {"image", s.image},
            {"manifest", s.manifest},
            {"store_root", s.store_root},
            {"container_dir", s.container_dir},
            {"command", s.command},
            {"pid", s.pid},
            {"pid_start", s.pid_start},
            {"monitor", s.monitor},
            {"server", s.server},
            {"server_start", s.server_start},
            {"detached", s.detached},
            {"stdin_fd", s.stdin_fd},
            {"open_stdin", s.open_stdin},
            {"log_driver", s.log_driver},
            {"status", s.status},
            {"exit_code", s.exit_code},
            {"created", s.created},
            {"finished", s.finished},
            {"started_at", s.started_at},
            {"labels", s.labels},
            {"user_mounts", s.user_mounts},
            {"anonymous_volumes", s.anonymous_volumes},
            {"restart_policy", s.restart_policy},
            {"restart_count", s.restart_count},
            {"restart_delay_ms", s.restart_delay_ms},
            {"stopped_by_user", s.stopped_by_user},
            {"healthcheck", s.healthcheck},
            {"stop_signal", s.stop_signal},
            {"stop_timeout", s.stop_timeout},
            {"startable", s.startable},
            {"network", s.network},
            {"ports", network::to_json(s.ports)},
            {"network_helper", s.network_helper},
            {"endpoints", s.endpoints},
            {"cgroup", s.cgroup},
            {"spec", s.spec.to_json()}};
}

ContainerState record_from_json(const json& j) {
    ContainerState s;
    s.name = j.value("name", "");
    s.id = j.value("id", "");
    s.image = j.value("image", "");
    s.manifest = j.value("manifest", "");
    s.store_root = j.value("store_root", "");
    s.container_dir = j.value("container_dir", "");
    s.command = j.value("command", std::vector<std::string>{});
    s.pid = j.value("pid", 0);
    s.pid_start = j.value("pid_start", 0ull);
    s.monitor = j.value("monitor", 0);
    s.server = j.value("server", 0);
    s.server_start = j.value("server_start", 0ull);
    s.detached = j.value("detached", false);
    s.stdin_fd = j.value("stdin_fd", 0);
    s.open_stdin = j.value("open_stdin", false);
    s.log_driver = j.value("log_driver", "");
    s.status = j.value("status", "created");
    s.exit_code = j.value("exit_code", 0);
    s.created = j.value("created", "");
    s.finished = j.value("finished", "");
    s.started_at = j.value("started_at", "");
    s.stop_signal = j.value("stop_signal", SIGTERM);
    s.stop_timeout = j.value("stop_timeout", -1);
    s.startable = j.value("startable", false);
    s.restart_policy = j.value("restart_policy", "");
    s.restart_count = j.value("restart_count", 0);
    s.restart_delay_ms = j.value("restart_delay_ms", 0ll);
    s.stopped_by_user = j.value("stopped_by_user", false);
    if (auto h = j.find("healthcheck"); h != j.end() && h->is_object()) s.healthcheck = *h;
    s.network = j.value("network", "");
    if (auto p = j.find("ports"); p != j.end()) s.ports = network::ports_from_json(*p);
    s.network_helper = j.value("network_helper", 0);
    if (auto e = j.find("endpoints"); e != j.end() && e->is_object()) s.endpoints = *e;
    if (auto l = j.find("labels"); l != j.end() && l->is_object())
        for (auto it = l->begin(); it != l->end(); ++it)
            if (it.value().is_string()) s.labels[it.key()] = it.value().get<std::string>();
    if (auto m = j.find("user_mounts"); m != j.end() && m->is_array())
        for (auto& d : *m)
            if (d.is_string()) s.user_mounts.push_back(d.get<std::string>());
    if (auto m = j.find("anonymous_volumes"); m != j.end() && m->is_array())
        for (auto& d : *m)
            if (d.is_string()) s.anonymous_volumes.push_back(d.get<std::string>());
    if (auto c = j.find("cgroup"); c != j.end() && c->is_object()) s.cgroup = *c;
    if (j.contains("spec")) s.spec = oci::RuntimeSpec::from_json(j["spec"]);
    return s;
}

// S as state.json's text. A command argument, environment value or path that is not UTF-8 (Linux
// allows any bytes) cannot be written as JSON: refused, naming it, before anything is created
// (docker and podman store it as U+FFFD and run another command than the one given).
std::string record_text(const ContainerState& s) {
    return safe_json::dump_or_refuse(record_json(s), -1, "container " + s.name,
                                     "a kept container's state", kNotUtf8Hint) +
           "\n";
}

} // namespace gantry::records
