#include "image_build/ports.hpp"

#include "util/error.hpp"
#include "util/text.hpp"

#include <arpa/inet.h>
#include <cctype>

namespace gantry::image_build {
namespace {

// A port number: optional '+', decimal digits, 0..65535 (Go's strconv.ParseInt, then the range).
long port_number(const std::string& s, const std::string& word) {
    auto bad = [&](const std::string& why) -> long {
        throw Error(Errc::invalid, "EXPOSE: invalid port \"" + word + "\": " + why,
                    "a port is a number from 0 to 65535, a range START-END, and optionally "
                    "/tcp, /udp or /sctp (EXPOSE 8080/tcp)");
    };
    std::size_t i = !s.empty() && s[0] == '+' ? 1 : 0;
    if (i == s.size()) return bad(s.empty() ? "no port number" : "\"" + s + "\" is not a number");
    long v = 0;
    for (; i < s.size(); ++i) {
        if (!std::isdigit(static_cast<unsigned char>(s[i])))
            return bad("\"" + s + "\" is not a number");
        v = v * 10 + (s[i] - '0');
        if (v > 65535) return bad(s + " is out of range (0-65535)");
    }
    return v;
}

std::pair<long, long> port_range(const std::string& s, const std::string& word) {
    auto dash = s.find('-');
    if (dash == std::string::npos) {
        long p = port_number(s, word);
        return {p, p};
    }
    std::string a = s.substr(0, dash), b = s.substr(dash + 1);
    long start = port_number(a, word);
    if (a == b) return {start, start};
    long end = port_number(b, word);
    if (end < start)
        throw Error(Errc::invalid,
                    "EXPOSE: invalid port \"" + word + "\": the range " + s +
                        " ends before it starts",
                    "write the range as START-END with START <= END");
    return {start, end};
}

} // namespace

std::vector<std::string> exposed_ports(const std::string& word) {
    // [IP:]HOSTPORT:PORT: the last part is the container's port
    auto parts = text::split(word, ':');
    std::string port = parts.empty() ? "" : std::string(parts.back()), host_port, ip;
    if (parts.size() >= 2) host_port = parts[parts.size() - 2];
    for (std::size_t i = 0; i + 2 < parts.size(); ++i) {
        if (i) ip += ':';
        ip += parts[i];
    }

    auto slash = port.find('/');
    std::string proto = slash == std::string::npos ? "" : port.substr(slash + 1);
    port = port.substr(0, slash);
    for (auto& ch : proto) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (port.empty())
        throw Error(Errc::invalid, "EXPOSE: invalid port \"" + word + "\": no port specified",
                    "EXPOSE PORT[/PROTOCOL], e.g. EXPOSE 8080/tcp");
    if (proto.empty()) proto = "tcp";
    if (proto != "tcp" && proto != "udp" && proto != "sctp")
        throw Error(Errc::invalid,
                    "EXPOSE: invalid port \"" + word + "\": unknown protocol " + proto,
                    "the protocol is tcp, udp or sctp");
    if (!ip.empty()) {
        std::string a = ip.size() > 2 && ip.front() == '[' && ip.back() == ']'
                            ? ip.substr(1, ip.size() - 2)
                            : ip;
        unsigned char buf[16];
        if (::inet_pton(AF_INET, a.c_str(), buf) != 1 && ::inet_pton(AF_INET6, a.c_str(), buf) != 1)
            throw Error(Errc::invalid,
                        "EXPOSE: invalid port \"" + word + "\": " + ip + " is not an IP address",
                        "EXPOSE takes the container's port only: EXPOSE 8080/tcp");
    }
    auto [start, end] = port_range(port, word);
    if (parts.size() >= 2) {
        auto [hs, he] = port_range(host_port, word);
        if (end - start != he - hs && end != start)
            throw Error(Errc::invalid,
                        "EXPOSE: invalid port \"" + word + "\": the ranges " + host_port + " and " +
                            port + " differ in size",
                        "EXPOSE takes the container's port only: EXPOSE " + port);
    }
    std::vector<std::string> out;
    for (long p = start; p <= end; ++p) out.push_back(std::to_string(p) + "/" + proto);
    return out;
}

} // namespace gantry::image_build
