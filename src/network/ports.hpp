// network/ports: a container's published ports, as docker's -p writes them and as docker shows
// them. One PortMapping per port (a range is expanded); host port 0 until assign_host_ports picks
// a free one; what the record keeps, what `ps` PORTS, `gantry port` and inspect's
// NetworkSettings.Ports print, and what the user-mode stack (network/pasta.hpp) is told to
// forward.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace gantry::network {

struct PortMapping {
    std::string host_ip;              // "" : every address of the host
    std::uint16_t host_port = 0;      // 0: any free port (assign_host_ports)
    std::uint16_t container_port = 0; // 1-65535
    std::string protocol = "tcp";     // tcp or udp

    bool operator==(const PortMapping&) const = default;
    std::string container_key() const { return std::to_string(container_port) + "/" + protocol; }
};

// docker's -p [IP:][HOST_PORT:]CONTAINER_PORT[/PROTOCOL]: ports or equal-length ranges
// (8000-8002:80-82), an empty host port (IP::80, or 80 alone) for a free one, an IPv6 address in
// brackets ([::1]:8080:80), tcp or udp. Error(usage) naming TEXT for anything else (sctp, a port
// out of range, a host range with one container port).
std::vector<PortMapping> parse_publish(const std::string& text);

// docker's EXPOSE / ExposedPorts key ("80", "80/tcp", "53/udp", "8000-8002/tcp") as mappings to
// free host ports (-P). Error(invalid) naming WHERE for a malformed key.
std::vector<PortMapping> parse_exposed(const std::string& key, const std::string& where);

// Each mapping whose host port is 0 gets one that is free on its address now (the kernel's
// choice for a bound socket of its protocol); a port given is checked free there:
// Error(run_failed) naming it when another socket holds it (docker's "port is already
// allocated"). Two mappings of one host address, port and protocol are Error(usage).
void assign_host_ports(std::vector<PortMapping>& ports);

// The JSON the record keeps ([{"HostIp", "HostPort", "ContainerPort", "Protocol"}]), and back
// (entries that do not parse are skipped: a record is gantry's own file).
nlohmann::json to_json(const std::vector<PortMapping>& ports);
std::vector<PortMapping> ports_from_json(const nlohmann::json& j);

// docker's shapes. `ps` PORTS: "0.0.0.0:8080->80/tcp, 0.0.0.0:9000-9001->9000-9001/udp"
// (consecutive ports folded into ranges, as docker's DisplayablePorts). inspect's
// NetworkSettings.Ports and HostConfig.PortBindings: {"80/tcp": [{"HostIp": "0.0.0.0",
// "HostPort": "8080"}]}. `gantry port`: "80/tcp -> 0.0.0.0:8080" lines, or for one PORT[/PROTO]
// the "0.0.0.0:8080" lines (empty when it is not published).
std::string ps_text(const std::vector<PortMapping>& ports);
nlohmann::json inspect_ports(const std::vector<PortMapping>& ports);
std::vector<std::string> port_lines(const std::vector<PortMapping>& ports, const std::string& port);
// GET /containers/json's Ports (docker's types.Port): [{"IP", "PrivatePort", "PublicPort",
// "Type"}], which docker's CLI formats for its `ps`.
nlohmann::json api_ports(const std::vector<PortMapping>& ports);

} // namespace gantry::network
