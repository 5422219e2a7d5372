#include "network/etc_files.hpp"

#include "util/error.hpp"
#include "util/text.hpp"

#include <arpa/inet.h>
#include <fstream>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <sstream>

namespace gantry::network {

namespace {

bool is_address(const std::string& ip) {
    unsigned char buf[sizeof(in6_addr)];
    return ::inet_pton(AF_INET, ip.c_str(), buf) == 1 ||
           ::inet_pton(AF_INET6, ip.c_str(), buf) == 1;
}

bool is_loopback(std::string_view ip) {
    return ip.starts_with("127.") || ip == "::1";
}

} // namespace

ExtraHost parse_add_host(const std::string& text) {
    // docker's: NAME:IP or NAME=IP; the IP may itself hold colons (IPv6), so the first separator
    auto sep = text.find_first_of("=:");
    ExtraHost h;
    if (sep != std::string::npos) {
        h.name = text.substr(0, sep);
        h.ip = text.substr(sep + 1);
    }
    if (h.ip.size() >= 2 && h.ip.front() == '[' && h.ip.back() == ']')
        h.ip = h.ip.substr(1, h.ip.size() - 2);
    if (h.name.empty() || h.name.find_first_of(" \t\n#") != std::string::npos)
        throw Error(Errc::usage, "--add-host " + text + ": no host name before the address",
                    "use --add-host NAME:IP, e.g. --add-host db:10.0.0.5 or "
                    "--add-host host.docker.internal:host-gateway");
    if (h.ip != "host-gateway" && !is_address(h.ip))
        throw Error(Errc::usage, "--add-host " + text + ": \"" + h.ip + "\" is not an IP address",
                    "give an IPv4 or IPv6 address, or host-gateway (the host as the container "
                    "reaches it)");
    return h;
}

HostRoute host_route() {
    HostRoute r;
    std::ifstream in("/proc/net/route");
    std::string line;
    std::getline(in, line); // the header
    while (std::getline(in, line)) {
        auto f = text::words(line);
        if (f.size() < 4 || f[1] != "00000000") continue;
        unsigned long flags = std::strtoul(std::string(f[3]).c_str(), nullptr, 16);
        if (!(flags & 0x1) || !(flags & 0x2)) continue; // RTF_UP | RTF_GATEWAY
        in_addr gw{};
        gw.s_addr = static_cast<in_addr_t>(std::strtoul(std::string(f[2]).c_str(), nullptr, 16));
        char buf[INET_ADDRSTRLEN] = {};
        ::inet_ntop(AF_INET, &gw, buf, sizeof buf);
        r.interface = std::string(f[0]);
        r.gateway = buf;
        break;
    }
    if (r.interface.empty()) return r;
    ifaddrs* all = nullptr;
    if (::getifaddrs(&all) != 0) return r;
    for (auto* a = all; a; a = a->ifa_next)
        if (a->ifa_addr && a->ifa_addr->sa_family == AF_INET && r.interface == a->ifa_name) {
            char buf[INET_ADDRSTRLEN] = {};
            ::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(a->ifa_addr)->sin_addr, buf,
                        sizeof buf);
            r.address = buf;
            break;
        }
    ::freeifaddrs(all);
    return r;
}

std::string hosts_file(const std::string& hostname, const std::string& address,
                       const std::vector<ExtraHost>& extra, const std::string& gateway) {
    // docker's (libnetwork/etchosts): the defaults, the extra hosts, the container's own last
    std::string out = "127.0.0.1\tlocalhost\n"
                      "::1\tlocalhost ip6-localhost ip6-loopback\n"
                      "fe00::0\tip6-localnet\n"
                      "ff00::0\tip6-mcastprefix\n"
                      "ff02::1\tip6-allnodes\n"
                      "ff02::2\tip6-allrouters\n";
    for (auto& h : extra) {
        std::string ip = h.ip;
        if (ip == "host-gateway") {
            if (gateway.empty())
                throw Error(Errc::usage,
                            "--add-host " + h.name +
                                ":host-gateway: this host has no default "
                                "route, so the container has no gateway",
                            "give the host's address: --add-host " + h.name + ":IP");
            ip = gateway;
        }
        out += ip + "\t" + h.name + "\n";
    }
    if (!address.empty()) out += address + "\t" + hostname + "\n";
    return out;
}

std::string resolv_conf(const std::string& host_text, const std::string& forward,
                        bool* uses_forward) {
    std::string out;
    bool any = false;
    for (auto line : text::lines(host_text)) {
        auto w = text::words(line);
        if (w.size() >= 2 && w[0] == "nameserver") {
            if (is_loopback(w[1])) continue;
            any = true;
        }
        out += std::string(line) + "\n";
    }
    if (uses_forward) *uses_forward = !any;
    if (!any) out += "nameserver " + forward + "\n";
    return out;
}

} // namespace gantry::network
