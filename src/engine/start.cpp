// Who starts a container (Caller) and the one decision on its early start.
#include "engine/engine.hpp"
#include "engine/options.hpp"
#include "userns/idmap.hpp"
#include "util/identity.hpp"

#include <unistd.h>

namespace gantry::engine {

Caller Caller::current() {
    Caller c;
    c.real_root = running_as_real_root();
    c.uid = ::geteuid();
    c.gid = ::getegid();
    return c;
}

std::array<std::vector<oci::IdMapping>, 2> Caller::id_maps(const std::string& userns) {
    if (real_root) return {};
    std::array<std::vector<oci::IdMapping>, 2> maps;
    if (userns == "keep-id") { // the caller's ids as themselves: no root inside
        maps[0] = {{uid, uid, 1}};
        maps[1] = {{gid, gid, 1}};
        return maps;
    }
    if (userns == "single") {
        userns::unprivileged_maps(uid, gid, false, maps[0], maps[1]);
        return maps;
    }
    if (!subid_maps) {
        auto& m = subid_maps.emplace();
        userns::unprivileged_maps(uid, gid, true, m[0], m[1]);
    }
    return *subid_maps;
}

bool asks_for_limits(const RunRequest& r) {
    for (const std::string* v :
         {&r.memory, &r.cpus, &r.pids_limit, &r.memory_swap, &r.memory_reservation,
          &r.memory_swappiness, &r.cpu_shares, &r.cpuset_cpus, &r.cpuset_mems, &r.cpu_rt_period,
          &r.cpu_rt_runtime})
        if (!v->empty()) return true;
    // the cpuset and dmem limits the GPU step may set (engine/gpu_share.hpp)
    return (!r.gpu_numa.empty() && r.gpu_numa != "off") || !r.gpu_memory.empty() ||
           !r.gpu_memory_reservation.empty();
}

bool may_start_early(const RunRequest& r, Caller& c) {
    // uid 0 in a user namespace: the plain path (the launcher writes root's maps from outside)
    // (keep-id: the early start's process maps root, not the caller's own ids)
    if (c.real_root || c.uid == 0 || r.detach || r.init || !r.attach.empty() ||
        asks_for_limits(r) || r.userns == "keep-id")
        return false;
    // a user network's container joins the networks' user namespace (engine/networks.hpp)
    if (!r.network.empty() && network::parse_mode(r.network, "--network") == network::Mode::user)
        return false;
    auto maps = c.id_maps(r.userns);
    return userns::is_single_id(maps[0]) && userns::is_single_id(maps[1]);
}

std::unique_ptr<runtime::EarlyStart> start_early(const RunRequest& r, const runspec::RunOptions& o,
                                                 Caller& c) {
    if (!may_start_early(r, c)) return nullptr;
    return runtime::EarlyStart::begin(runspec::namespaces(o), c.uid, c.gid);
}

} // namespace gantry::engine
