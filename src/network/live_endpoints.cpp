// network connect and disconnect of a running container (network/holder.hpp): one network's
// endpoint set up or torn down by netavark alone, beside those its supervisor made, and its
// attachment's file kept saying what it is on.
#include "network/attachment_files.hpp"
#include "network/holder.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

#include <fcntl.h>
#include <set>
#include <unistd.h>

namespace gantry::network {

namespace fsys = std::filesystem;
using namespace detail;

namespace {

struct Held {
    RunningHolder holder;
    nlohmann::json body; // the container's attachment
    std::vector<Found> others;
};

Held held_attachment(const fsys::path& dir, const std::string& id) {
    auto running = running_holder(dir);
    Fd dirfd(::open((dir / "attachments").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    Held h;
    bool found = false;
    if (running && dirfd)
        for (auto& f : read_attachments(dirfd.get())) {
            if (f.id == id && f.live) {
                h.body = f.body;
                found = true;
            } else if (f.live) {
                h.others.push_back(std::move(f));
            }
        }
    if (!found || !h.body.contains("options") || !h.body.contains("endpoints"))
        throw Error(Errc::conflict,
                    "container " + id.substr(0, 12) +
                        " has no place on user networks while it runs",
                    "a running container joins user networks only when it was started on one "
                    "(--network NAME); stop it, connect it, and start it again");
    h.holder = *running;
    return h;
}

Fd open_netns(pid_t pid) {
    Fd ns(::open(("/proc/" + std::to_string(pid) + "/ns/net").c_str(), O_RDONLY | O_CLOEXEC));
    if (!ns) throw_errno("cannot open the container's network namespace");
    return ns;
}

void save(const fsys::path& dir, const std::string& id, const nlohmann::json& body) {
    fs::write_atomic(dir / "attachments" / (id + ".json"), body.dump(), 0600,
                     fs::Sync::volatile_only);
}

} // namespace

Endpoint connect_running(const fsys::path& dir, const std::string& id, const std::string& name,
                         pid_t pid, Endpoint e, const UserNetwork& n, std::string& mac) {
    FileLock lock(dir / "lock", FileLock::Mode::exclusive);
    auto h = held_attachment(dir, id);
    auto& nets = h.body["options"]["networks"];
    if (nets.contains(n.name))
        throw Error(Errc::conflict,
                    "endpoint with name " + name + " already exists in network " + n.name,
                    "it is connected already (gantry inspect " + name + ")");
    std::set<std::string> used;
    for (auto& [k, v] : nets.items()) used.insert(v.value("interface_name", ""));
    for (int i = 0; e.interface.empty() || used.count(e.interface); ++i)
        e.interface = "eth" + std::to_string(i);
    give_addresses(e, n, h.others);
    const auto one = netavark_options(id, name, {e}, {n});
    Fd ns = open_netns(pid);
    const std::string answer = run_netavark(h.holder.inner, (dir / "netavark").string(), "setup",
                                            "/proc/self/fd/" + std::to_string(ns.get()), one,
                                            {ns.get()}, {n.bridge}, {n.gateway});
    mac = netavark_mac(answer, n.name, e.interface);
    nets[n.name] = one["networks"][n.name];
    h.body["options"]["network_info"][n.name] = one["network_info"][n.name];
    h.body["endpoints"].push_back(endpoint_record(e));
    save(dir, id, h.body);
    return e;
}

bool disconnect_running(const fsys::path& dir, const std::string& id, pid_t pid,
                        const std::string& network) {
    FileLock lock(dir / "lock", FileLock::Mode::exclusive);
    auto h = held_attachment(dir, id);
    auto& options = h.body["options"];
    if (!options["networks"].contains(network)) return false;
    nlohmann::json one = options;
    one["networks"] = {{network, options["networks"][network]}};
    one["network_info"] = {{network, options["network_info"][network]}};
    Fd ns = open_netns(pid);
    run_netavark(h.holder.inner, (dir / "netavark").string(), "teardown",
                 "/proc/self/fd/" + std::to_string(ns.get()), one, {ns.get()});
    options["networks"].erase(network);
    options["network_info"].erase(network);
    auto& eps = h.body["endpoints"];
    for (auto it = eps.begin(); it != eps.end();)
        it = it->value("network", "") == network ? eps.erase(it) : it + 1;
    save(dir, id, h.body);
    return true;
}

} // namespace gantry::network
