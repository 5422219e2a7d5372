// network/etc_files: the /etc/hosts and /etc/resolv.conf a container in a network namespace of
// its own gets, as docker's daemon writes them: hosts with the loopback names, the container's
// own address and hostname, and each --add-host (ExtraHosts) line; resolv.conf the host's, less
// the nameservers on a loopback address (unreachable from the namespace), with the user-mode
// stack's forwarding address in their place when none is left. Also what the host's routing
// table says the namespace's outside looks like (the address and gateway pasta copies).
#pragma once

#include <string>
#include <vector>

namespace gantry::network {

// --add-host NAME:IP (docker also takes NAME=IP); IP may be "host-gateway". Error(usage) naming
// TEXT for a missing name or an address that is none.
struct ExtraHost {
    std::string name, ip;
};
ExtraHost parse_add_host(const std::string& text);

// The host's IPv4 route to the outside: the interface of the first default route, its address
// and gateway ("" when the host has no default route).
struct HostRoute {
    std::string interface, address, gateway;
};
HostRoute host_route();

// /etc/hosts: localhost lines, "ADDRESS HOSTNAME", then each extra host (host-gateway replaced
// by GATEWAY; Error(usage) when there is none).
std::string hosts_file(const std::string& hostname, const std::string& address,
                       const std::vector<ExtraHost>& extra, const std::string& gateway);

// /etc/resolv.conf from the host's text HOST_TEXT: its nameserver lines on loopback addresses
// dropped (docker's), every other line kept; when no nameserver is left, FORWARD (an address
// the user-mode stack forwards to the host's first resolver) is the one. Sets *USES_FORWARD.
std::string resolv_conf(const std::string& host_text, const std::string& forward,
                        bool* uses_forward);

} // namespace gantry::network
