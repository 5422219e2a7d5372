#include "network/ports.hpp"

#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/text.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <netinet/in.h>
#include <set>
#include <sys/socket.h>
#include <tuple>

namespace gantry::network {

namespace {

const char* kPublishHint = "use -p [IP:][HOST_PORT:]CONTAINER_PORT[/tcp|udp], e.g. -p 8080:80, "
                           "-p 127.0.0.1:8080:80/tcp, -p 9000-9002:9000-9002/udp";

struct Range {
    std::uint16_t first = 0, last = 0;
    std::size_t size() const { return static_cast<std::size_t>(last - first) + 1; }
};

// "80" or "8000-8002"; false for anything else (0, above 65535, a reversed range)
bool parse_range(std::string_view s, Range& out) {
    auto dash = s.find('-');
    auto a = text::to_u32(s.substr(0, dash));
    auto b = dash == std::string_view::npos ? a : text::to_u32(s.substr(dash + 1));
    if (!a || !b || *a == 0 || *a > 65535 || *b == 0 || *b > 65535 || *b < *a) return false;
    out = {static_cast<std::uint16_t>(*a), static_cast<std::uint16_t>(*b)};
    return true;
}

bool is_ip(const std::string& ip) {
    unsigned char buf[sizeof(in6_addr)];
    return ::inet_pton(AF_INET, ip.c_str(), buf) == 1 ||
           ::inet_pton(AF_INET6, ip.c_str(), buf) == 1;
}

std::string protocol_of(std::string_view proto, const std::string& what) {
    std::string p = text::lower(proto);
    if (p.empty()) return "tcp";
    if (p == "tcp" || p == "udp") return p;
    throw Error(Errc::usage, what + ": protocol \"" + std::string(proto) + "\" is not served",
                p == "sctp" ? "gantry's user-mode network stack (pasta) forwards tcp and udp only"
                            : "use tcp or udp");
}

std::string shown_ip(const std::string& ip) {
    return ip.empty() ? "0.0.0.0" : ip;
}

} // namespace

std::vector<PortMapping> parse_publish(const std::string& text) {
    const std::string what = "-p " + text;
    std::string spec = text, proto;
    if (auto slash = spec.rfind('/'); slash != std::string::npos) {
        proto = spec.substr(slash + 1);
        spec.resize(slash);
    }
    // docker's splitParts: the container port last, the host port before it, the IP the rest
    auto parts = text::split(spec, ':');
    std::string ip, host, inside(parts.back());
    if (parts.size() == 2) host = parts[0];
    if (parts.size() >= 3) {
        host = parts[parts.size() - 2];
        for (std::size_t i = 0; i + 2 < parts.size(); ++i)
            ip += (i ? ":" : "") + std::string(parts[i]);
    }
    if (ip.size() >= 2 && ip.front() == '[' && ip.back() == ']') ip = ip.substr(1, ip.size() - 2);
    if (!ip.empty() && !is_ip(ip))
        throw Error(Errc::usage, "invalid " + what + ": \"" + ip + "\" is not an IP address",
                    kPublishHint);
    Range in, out;
    if (!parse_range(inside, in))
        throw Error(Errc::usage, "invalid " + what + ": \"" + inside + "\" is not a container port",
                    kPublishHint);
    if (!host.empty() && !parse_range(host, out))
        throw Error(Errc::usage, "invalid " + what + ": \"" + host + "\" is not a host port",
                    kPublishHint);
    if (!host.empty() && out.size() != in.size())
        throw Error(Errc::usage,
                    what + ": the host range has " + std::to_string(out.size()) +
                        " ports and the container range " + std::to_string(in.size()),
                    "give ranges of the same length (-p 8000-8002:80-82), or one host port per "
                    "container port");
    const std::string p = protocol_of(proto, what);
    std::vector<PortMapping> ports;
    for (std::size_t i = 0; i < in.size(); ++i)
        ports.push_back({ip, static_cast<std::uint16_t>(host.empty() ? 0 : out.first + i),
                         static_cast<std::uint16_t>(in.first + i), p});
    return ports;
}

std::vector<PortMapping> parse_exposed(const std::string& key, const std::string& where) {
    auto slash = key.find('/');
    Range r;
    if (!parse_range(std::string_view(key).substr(0, slash), r))
        throw Error(Errc::invalid, where + ": \"" + key + "\" is not a port",
                    "an exposed port is PORT[/tcp|udp] or a range, e.g. 80/tcp");
    const std::string p = protocol_of(
        slash == std::string::npos ? std::string_view() : std::string_view(key).substr(slash + 1),
        where + " " + key);
    std::vector<PortMapping> ports;
    for (std::size_t i = 0; i < r.size(); ++i)
        ports.push_back({"", 0, static_cast<std::uint16_t>(r.first + i), p});
    return ports;
}

void assign_host_ports(std::vector<PortMapping>& ports) {
    std::set<std::tuple<std::string, std::uint16_t, std::string>> taken;
    for (auto& m : ports) {
        // a socket bound where pasta will bind: port 0 takes the kernel's free one; a port
        // given is checked free (pasta only warns about one it cannot bind; docker refuses it)
        const bool v6 = m.host_ip.find(':') != std::string::npos;
        Fd s(::socket(v6 ? AF_INET6 : AF_INET,
                      (m.protocol == "udp" ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0));
        if (!s) throw_errno("cannot open a socket to find a free port");
        const int one = 1; // past TIME_WAIT, never past a listener
        if (m.protocol == "tcp") ::setsockopt(s.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        sockaddr_storage ss{};
        socklen_t len;
        if (v6) {
            auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
            a->sin6_family = AF_INET6;
            a->sin6_port = htons(m.host_port);
            ::inet_pton(AF_INET6, m.host_ip.c_str(), &a->sin6_addr);
            len = sizeof *a;
        } else {
            auto* a = reinterpret_cast<sockaddr_in*>(&ss);
            a->sin_family = AF_INET;
            a->sin_port = htons(m.host_port);
            if (!m.host_ip.empty()) ::inet_pton(AF_INET, m.host_ip.c_str(), &a->sin_addr);
            len = sizeof *a;
        }
        const std::string where = m.protocol + " port " +
                                  (m.host_port ? std::to_string(m.host_port) + " " : "") + "on " +
                                  shown_ip(m.host_ip);
        if (::bind(s.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0 ||
            (m.protocol == "tcp" && ::listen(s.get(), 1) != 0) ||
            ::getsockname(s.get(), reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
            if (errno == EADDRINUSE)
                throw Error(Errc::run_failed,
                            "cannot publish container port " + m.container_key() + ": host " +
                                where + " is in use",
                            "ss -ltnup shows who holds it; give another host port, or none (-p " +
                                std::to_string(m.container_port) + ") for a free one");
            throw_errno("cannot bind host " + where + " for container port " + m.container_key(),
                        "give another host address or port: -p [IP:]HOST_PORT:" +
                            std::to_string(m.container_port));
        }
        m.host_port = ntohs(v6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port
                               : reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
        if (!taken.emplace(m.host_ip, m.host_port, m.protocol).second)
            throw Error(Errc::usage,
                        "host port " + std::to_string(m.host_port) + "/" + m.protocol + " on " +
                            shown_ip(m.host_ip) + " is published twice",
                        "publish each host port once (-p HOST_PORT:CONTAINER_PORT)");
    }
}

nlohmann::json to_json(const std::vector<PortMapping>& ports) {
    auto out = nlohmann::json::array();
    for (auto& m : ports)
        out.push_back({{"HostIp", m.host_ip},
                       {"HostPort", m.host_port},
                       {"ContainerPort", m.container_port},
                       {"Protocol", m.protocol}});
    return out;
}

std::vector<PortMapping> ports_from_json(const nlohmann::json& j) {
    std::vector<PortMapping> out;
    if (!j.is_array()) return out;
    for (auto& e : j) {
        if (!e.is_object()) continue;
        PortMapping m;
        auto ip = e.find("HostIp");
        auto hp = e.find("HostPort");
        auto cp = e.find("ContainerPort");
        auto pr = e.find("Protocol");
        if (ip == e.end() || !ip->is_string() || hp == e.end() || !hp->is_number_unsigned() ||
            cp == e.end() || !cp->is_number_unsigned() || pr == e.end() || !pr->is_string())
            continue;
        m.host_ip = ip->get<std::string>();
        m.host_port = static_cast<std::uint16_t>(hp->get<unsigned>());
        m.container_port = static_cast<std::uint16_t>(cp->get<unsigned>());
        m.protocol = pr->get<std::string>();
        out.push_back(std::move(m));
    }
    return out;
}

std::string ps_text(const std::vector<PortMapping>& ports) {
    std::vector<std::string> parts;
    for (std::size_t i = 0; i < ports.size();) {
        const auto& a = ports[i];
        std::size_t j = i + 1; // the run of consecutive ports docker folds into one range
        while (j < ports.size() && ports[j].host_ip == a.host_ip &&
               ports[j].protocol == a.protocol && ports[j].host_port == a.host_port + (j - i) &&
               ports[j].container_port == a.container_port + (j - i))
            ++j;
        const auto& z = ports[j - 1];
        auto span = [&](std::uint16_t x, std::uint16_t y) {
            return std::to_string(x) + (x == y ? "" : "-" + std::to_string(y));
        };
        const bool v6 = a.host_ip.find(':') != std::string::npos;
        parts.push_back((v6 ? "[" + a.host_ip + "]" : shown_ip(a.host_ip)) + ":" +
                        span(a.host_port, z.host_port) + "->" +
                        span(a.container_port, z.container_port) + "/" + a.protocol);
        i = j;
    }
    return text::join(parts, ", ");
}

nlohmann::json inspect_ports(const std::vector<PortMapping>& ports) {
    auto out = nlohmann::json::object();
    for (auto& m : ports)
        out[m.container_key()].push_back(
            {{"HostIp", shown_ip(m.host_ip)}, {"HostPort", std::to_string(m.host_port)}});
    return out;
}

nlohmann::json api_ports(const std::vector<PortMapping>& ports) {
    auto out = nlohmann::json::array();
    for (auto& m : ports)
        out.push_back({{"IP", shown_ip(m.host_ip)},
                       {"PrivatePort", m.container_port},
                       {"PublicPort", m.host_port},
                       {"Type", m.protocol}});
    return out;
}

std::vector<std::string> port_lines(const std::vector<PortMapping>& ports,
                                    const std::string& port) {
    std::vector<std::string> out;
    std::string want = port.empty() || port.find('/') != std::string::npos ? port : port + "/tcp";
    for (auto& m : ports) {
        const std::string where = shown_ip(m.host_ip) + ":" + std::to_string(m.host_port);
        if (want.empty())
            out.push_back(m.container_key() + " -> " + where);
        else if (m.container_key() == want)
            out.push_back(where);
    }
    return out;
}

} // namespace gantry::network
