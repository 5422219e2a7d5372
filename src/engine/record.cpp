// container_record (engine/record.hpp): what the engine records of a prepared container.
#include "engine/record.hpp"

#include "engine/docker_flags.hpp"
#include "engine/networks.hpp"
#include "engine/restart_policy.hpp"

namespace gantry::engine {

records::ContainerState container_record(const Prepared& p) {
    records::ContainerState cs;
    cs.name = p.request.name.empty() ? p.id : p.request.name;
    cs.id = p.id;
    cs.image = p.request.image;
    cs.labels = p.labels;
    cs.manifest = p.view.image.manifest_digest.str();
    cs.store_root = p.store->root().string();
    cs.container_dir = p.scratch->dir().string();
    cs.command = p.spec.args;
    cs.detached = p.request.detach;
    cs.open_stdin = p.request.interactive;
    if (p.request.detach)
        cs.log_driver = p.request.log_driver.empty() ? "json-file" : p.request.log_driver;
    cs.created = records::now_rfc3339();
    cs.spec = p.spec;
    if (!p.request.stop_signal.empty())
        cs.stop_signal = signal_number(p.request.stop_signal, "--stop-signal");
    cs.stop_timeout = p.request.stop_timeout;
    cs.anonymous_volumes = p.request.anonymous_volumes;
    cs.restart_policy = RestartPolicy::parse(p.request.restart).str();
    cs.healthcheck = p.healthcheck;
    cs.network = p.network.name();
    cs.ports = p.network.published;
    if (p.network.mode == network::Mode::user) cs.endpoints = endpoint_config(p);
    for (auto& b : p.options.binds) cs.user_mounts.push_back(b.destination);
    for (auto& t : p.options.tmpfs) cs.user_mounts.push_back(t.substr(0, t.find(':')));
    return cs;
}

} // namespace gantry::engine
