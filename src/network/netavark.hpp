// network/netavark: the bridge backend of user networks, netavark (podman 4's, Debian's netavark
// package) with its DNS server aardvark-dns. gantry gives each container's address itself and
// hands netavark, on its stdin, the container's networks as podman does
// (docs/netavark.1.md: container_id, container_name, networks, network_info); netavark makes
// the bridge, the veth pair, the firewall rules, and the aardvark-dns entries (the container's
// name and aliases) on `setup NETNS`, and removes them on `teardown NETNS`. It runs inside the
// user networks' namespace (network/holder.hpp), where aardvark-dns, which it starts, lives.
#pragma once

#include "network/user_network.hpp"

#include <nlohmann/json.hpp>
#include <string>
#include <sys/types.h>
#include <vector>

namespace gantry::network {

// One container's place on one user network.
struct Endpoint {
    std::string network;              // the network's name
    std::string ip;                   // its address on it
    std::vector<std::string> aliases; // names it answers to besides its own
    std::string interface = "eth0";
    std::string ip6; // its IPv6 address, on a network with IPv6
};

// netavark's NetworkOptions for a container: ID (docker's 64 hex digits: netavark keeps the
// first 12 where a name is short) named NAME on the networks of ENDPOINTS (each with its
// network in NETWORKS, by name; Error(internal) for one missing).
nlohmann::json netavark_options(const std::string& id, const std::string& name,
                                const std::vector<Endpoint>& endpoints,
                                const std::vector<UserNetwork>& networks);

// The MAC address netavark's answer to a setup (RESPONSE, its stdout) gives INTERFACE on
// NETWORK ("" when it names none); Error(run_failed) when RESPONSE is not netavark's JSON.
std::string netavark_mac(const std::string& response, const std::string& network,
                         const std::string& interface);

// netavark's and aardvark-dns' paths (Debian installs them in /usr/lib/podman; also
// /usr/libexec/podman and $PATH); Error(unsupported) naming the package when missing.
std::string netavark_program();
std::string aardvark_program();

// Runs `netavark --config CONFIG_DIR --rootless B --aardvark-binary A COMMAND NETNS` with
// OPTIONS on its stdin inside the namespaces of HOLDER (its user namespace when rootless, its
// network, mount and PID namespaces; 0: the caller's own, already there), with
// the descriptors KEEP open in it (NETNS may name one as /proc/self/fd/N). Returns its stdout;
// Error(run_failed) with netavark's own message when it fails. Once a setup succeeded, the MAC
// address of each bridge in PIN is set to what it is (a bridge's own address then no longer
// follows its ports': a container leaving would change the gateway's under the others), and
// the call returns once aardvark-dns listens on each address in DNS (port 53), at most 3 s.
// (CONFIG_DIR: the holder's directory's netavark/, where aardvark-dns keeps its files; the
// iptables lock is there too, XTABLES_LOCKFILE: a rootless user cannot make /run/xtables.lock)
std::string run_netavark(pid_t holder, const std::string& config_dir, const std::string& command,
                         const std::string& netns, const nlohmann::json& options,
                         const std::vector<int>& keep = {},
                         const std::vector<std::string>& pin = {},
                         const std::vector<std::string>& dns = {});

} // namespace gantry::network
