// engine/networks: a run's network, from docker's flags to a connected namespace. The plan
// (--network, -p, -P with the image's EXPOSE and --expose, --add-host) checked before anything
// starts; at each start the host ports assigned, the container's /etc/hosts and /etc/resolv.conf
// written into its directory and bound; and, once its process exists, its namespace joined to
// the outside by the user-mode stack (network::Pasta), which the run stops when the container
// has ended. host and none need no stack; host keeps the host's files, unless --add-host asks
// for lines of its own.
#pragma once

#include "network/etc_files.hpp"
#include "network/holder.hpp"
#include "network/mode.hpp"
#include "network/ports.hpp"
#include "network/user_network.hpp"

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace gantry::engine {

struct RunRequest;
struct Prepared;
} // namespace gantry::engine
namespace gantry::store {
class Store;
}
namespace gantry::engine {

// gantry run's network when --network is not given: the config file's `network` (host, bridge
// or none; Error(invalid) naming its line for another word), else host.
std::string configured_network();

struct ContainerNetwork {
    network::Mode mode = network::Mode::host;
    // bridge: the ports asked for (host port 0: any free one), and as this start publishes
    // them, each host port assigned (write_network_files)
    std::vector<network::PortMapping> ports, published;
    std::vector<network::ExtraHost> extra_hosts;
    std::string dns_forward; // the address resolv.conf names when the host's are loopback ones
    std::string target;      // container: the container whose namespace it joins (as given)
    std::string joined;      // and its id, once join_container_network found it running
    // user: each of its networks, in the order of its interfaces (eth0, eth1, ...)
    struct UserEndpoint {
        std::string given;                         // the network as named (a name or id)
        std::optional<network::UserNetwork> found; // as write_network_files found it
        std::vector<std::string> aliases;          // --network-alias's and this network's own
        std::string ip, ip6; // static addresses asked for (--ip, --ip6, IPAMConfig), else ""
    };
    std::vector<UserEndpoint> user;

    // What a record and inspect call it: "host", "none", "bridge", "container:ID", or its
    // first user network's name
    std::string name() const {
        if (mode == network::Mode::user)
            return user.front().found ? user.front().found->name : user.front().given;
        return mode == network::Mode::container ? "container:" + joined : network::mode_name(mode);
    }
};

// The user-defined networks of STORE (ROOT/networks).
network::NetworkStore user_networks(const store::Store& store);

// R's flags: Error(usage) or Error(unsupported) naming the flag for what is not served (a
// user-defined network, -p with --network none, a remapped port in the host's network).
ContainerNetwork plan_network(const RunRequest& r);

// -P: every port the image EXPOSEs (IMAGE_CONFIG, the config document) and --expose gives,
// published on a free host port, unless -p publishes it already.
void add_exposed_ports(ContainerNetwork& net, const RunRequest& r,
                       const nlohmann::json& image_config);

// At each start, once the container has its directory: host ports assigned, /etc/hosts and
// /etc/resolv.conf written there (bridge, or --add-host) and the spec's binds of them pointed
// at the copies.
void write_network_files(Prepared& p);

// --network container:NAME|ID: the spec joins the running container's network namespace and,
// as it must to have a say over it, its user namespace (with its id maps), and shares its
// hostname and its /etc/hosts and /etc/resolv.conf, as docker's container network mode does.
// At each start (the container's process is another after a restart). Error(not_found) for no
// such container, Error(conflict) for one that is not running.
void join_container_network(Prepared& p);

// --network NAME (and more), at each launch (in the process that supervises the container):
// its place on each network (an address; the networks' holder started when none runs), SPEC
// made to join the networks' user namespace (rootless: the namespace netavark configures from),
// and its /etc/hosts (its first network's address) and /etc/resolv.conf written (names:
// aardvark-dns on each network's gateway).
std::unique_ptr<network::Attachment> attach_user_network(Prepared& p, oci::RuntimeSpec& spec);
// inspect's NetworkSettings.Networks of a container on user networks before it runs: each
// network's aliases (with its 12-digit id, as docker's; compose looks for it), no address yet.
nlohmann::json endpoint_config(const Prepared& p);
// inspect's NetworkSettings.Networks once connected (MACS: netavark's, per endpoint; NET: the
// run's, whose static addresses are each endpoint's IPAMConfig).
nlohmann::json endpoint_settings(const network::Attachment& a, const std::vector<std::string>& macs,
                                 const ContainerNetwork& net);
// docker's network events ACTION (connect at a start, disconnect at the end) of container ID on
// each network A is on now, journalled (records/events.hpp).
void journal_network_events(const network::Attachment& a, const std::string& action,
                            const std::string& id);
// docker's EndpointSettings of a container on N: its ALIASES, its addresses (IP, IP6: "" before
// it runs), MAC, and IPAMConfig (STATIC_IP, STATIC_IP6: the addresses asked for; null when none).
nlohmann::json endpoint_json(const network::UserNetwork& n, const std::vector<std::string>& aliases,
                             const std::string& ip, const std::string& ip6, const std::string& mac,
                             const std::string& static_ip, const std::string& static_ip6);

} // namespace gantry::engine
