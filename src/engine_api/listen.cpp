// The service's listeners (engine_api/listen.hpp): its unix socket, TCP, TLS.
#include "engine_api/listen.hpp"

#include "records/state.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <grp.h>
#include <netdb.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <vector>

namespace gantry::engine_api {

namespace {

std::string api_tls_read(const std::string& path, const char* flag) {
    try {
        return fs::read_file(path);
    } catch (const Error& e) {
        throw Error(e.code(), std::string(flag) + " " + path + ": " + e.message(),
                    "name a PEM file the service's user can read");
    }
}

std::string api_lis_octal(mode_t m) {
    char b[16];
    std::snprintf(b, sizeof b, "%04o", static_cast<unsigned>(m & 07777));
    return b;
}

std::optional<gid_t> api_lis_group_id(const std::string& name) {
    group g{};
    group* found = nullptr;
    std::vector<char> buf(16384);
    if (::getgrnam_r(name.c_str(), &g, buf.data(), buf.size(), &found) != 0 || !found) {
        char* end = nullptr;
        unsigned long n = std::strtoul(name.c_str(), &end, 10); // a number names itself
        if (name.empty() || *end) return std::nullopt;
        return static_cast<gid_t>(n);
    }
    return found->gr_gid;
}

} // namespace

// A unix socket listening at PATH, 0600, its directory made 0700 when missing. A socket a
// service answers on is Error(conflict); a stale one (nothing listening) is replaced.
Fd listen_unix(const std::filesystem::path& path) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.string().size() >= sizeof addr.sun_path)
        throw Error(
            Errc::usage, "the socket path " + path.string() + " is too long for a unix socket",
            "name a shorter path (at most " + std::to_string(sizeof addr.sun_path - 1) + " bytes)");
    std::strcpy(addr.sun_path, path.c_str());
    auto dir = path.parent_path();
    if (!std::filesystem::exists(dir)) {
        std::error_code ec;
        std::filesystem::create_directories(dir, ec);
        if (ec)
            throw Error(Errc::io,
                        "cannot make the socket's directory " + dir.string() + ": " + ec.message());
        ::chmod(dir.c_str(), 0700);
    }
    struct stat sb {};
    if (::lstat(path.c_str(), &sb) == 0) {
        if (!S_ISSOCK(sb.st_mode))
            throw Error(Errc::conflict, path.string() + " exists and is not a socket",
                        "remove it, or name another socket path");
        Fd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
        if (probe && ::connect(probe.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0)
            throw Error(Errc::conflict, "a service already answers on " + path.string(),
                        "use it (DOCKER_HOST=unix://" + path.string() +
                            "), or stop it first, or name another socket path");
        ::unlink(path.c_str());
    }
    Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) throw_errno("cannot make a unix socket");
    mode_t old = ::umask(0177); // born 0600: never a moment open to others
    int rc = ::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::umask(old);
    if (rc != 0) throw_errno("cannot bind the socket " + path.string());
    if (::listen(fd.get(), 128) != 0) throw_errno("cannot listen on " + path.string());
    return fd;
}

// --group: PATH (0600, just made) given to GROUP and made 0660. Its directory must let the group
// reach it (search permission for the group or for all), else Error(usage) saying so: a 0700
// runtime directory would make the group's access a lie.
void give_socket_group(const std::filesystem::path& path, const std::string& group) {
    auto gid = api_lis_group_id(group);
    if (!gid)
        throw Error(Errc::not_found, "--group " + group + ": no such group",
                    "name a group in /etc/group (getent group)");
    struct stat d {};
    auto dir = path.parent_path();
    if (::stat(dir.c_str(), &d) != 0) throw_errno("cannot stat " + dir.string());
    bool reach = (d.st_mode & S_IXOTH) || ((d.st_mode & S_IXGRP) && d.st_gid == *gid);
    if (!reach)
        throw Error(Errc::usage,
                    "--group " + group + ": the group cannot enter the socket's directory " +
                        dir.string() + " (mode " + api_lis_octal(d.st_mode) + ")",
                    "name a socket in a directory the group can enter, e.g. "
                    "unix:///run/gantry-api.sock");
    if (::chown(path.c_str(), static_cast<uid_t>(-1), *gid) != 0)
        throw_errno("cannot give the socket " + path.string() + " to the group " + group);
    if (::chmod(path.c_str(), 0660) != 0) throw_errno("cannot make " + path.string() + " 0660");
}

std::optional<TcpEndpoint> tcp_endpoint(const std::string& uri) {
    if (uri.rfind("tcp://", 0) != 0) return std::nullopt;
    std::string rest = uri.substr(6);
    if (!rest.empty() && rest.back() == '/') rest.pop_back();
    TcpEndpoint e;
    std::size_t colon;
    if (!rest.empty() && rest[0] == '[') { // [V6]:PORT
        auto close = rest.find(']');
        if (close == std::string::npos)
            throw Error(Errc::usage, uri + ": an IPv6 address without its ]",
                        "write tcp://[::1]:2376");
        e.host = rest.substr(1, close - 1);
        colon = close + 1;
        if (colon >= rest.size() || rest[colon] != ':') colon = std::string::npos;
    } else {
        colon = rest.rfind(':');
        if (colon != std::string::npos) e.host = rest.substr(0, colon);
    }
    if (colon == std::string::npos || colon + 1 >= rest.size())
        throw Error(Errc::usage, uri + " names no port",
                    "write tcp://HOST:PORT, e.g. tcp://127.0.0.1:2376");
    e.port = rest.substr(colon + 1);
    if (e.port.find_first_not_of("0123456789") != std::string::npos || e.port.size() > 5)
        throw Error(Errc::usage, uri + ": \"" + e.port + "\" is not a port (or has a path)",
                    "write tcp://HOST:PORT");
    if (e.host.empty()) e.host = "0.0.0.0";
    return e;
}

Fd listen_tcp(const TcpEndpoint& e) {
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    addrinfo* res = nullptr;
    if (int rc = ::getaddrinfo(e.host.c_str(), e.port.c_str(), &hints, &res); rc != 0)
        throw Error(Errc::usage, "tcp://" + e.host + ":" + e.port + ": " + ::gai_strerror(rc),
                    "name an address of this host");
    std::string why;
    for (addrinfo* a = res; a; a = a->ai_next) {
        Fd fd(::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol));
        if (!fd) continue;
        int one = 1;
        ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (::bind(fd.get(), a->ai_addr, a->ai_addrlen) == 0 && ::listen(fd.get(), 128) == 0) {
            ::freeaddrinfo(res);
            return fd;
        }
        why = std::strerror(errno);
    }
    ::freeaddrinfo(res);
    throw Error(Errc::io, "cannot listen on tcp://" + e.host + ":" + e.port + ": " + why,
                "name a free port, or stop what listens there");
}

std::optional<TlsPems> read_tls(const std::string& cert, const std::string& key,
                                const std::string& ca) {
    if (cert.empty() && key.empty() && ca.empty()) return std::nullopt;
    const char* missing = cert.empty()  ? "--tlscert"
                          : key.empty() ? "--tlskey"
                          : ca.empty()  ? "--tlscacert"
                                        : nullptr;
    if (missing)
        throw Error(Errc::usage,
                    std::string("TLS needs the service's certificate, its key and the clients' "
                                "CA: ") +
                        missing + " is missing",
                    "give --tlscert, --tlskey and --tlscacert (docker's --tlsverify)");
    return TlsPems{api_tls_read(cert, "--tlscert"), api_tls_read(key, "--tlskey"),
                   api_tls_read(ca, "--tlscacert")};
}

std::string default_socket_uri() {
    return "unix://" + (records::runtime_dir() / "gantry.sock").string();
}

std::filesystem::path socket_path(const std::string& uri) {
    std::string p = uri;
    if (p.rfind("unix://", 0) == 0)
        p = p.substr(7);
    else if (p.find("://") != std::string::npos)
        throw Error(Errc::unsupported,
                    "gantry system service serves unix:///PATH or tcp://HOST:PORT, not " + uri,
                    "give unix:///PATH, tcp://HOST:PORT, or no URI for " + default_socket_uri());
    if (p.empty() || p.front() != '/')
        throw Error(Errc::usage, "the socket " + uri + " is not an absolute path",
                    "give unix:///ABSOLUTE/PATH");
    return p;
}

std::optional<int> activation_fd(const char* listen_pid, const char* listen_fds, pid_t self) {
    if (!listen_pid || !listen_fds) return std::nullopt;
    char* end = nullptr;
    long pid = std::strtol(listen_pid, &end, 10);
    if (*listen_pid == '\0' || *end != '\0' || pid != self) return std::nullopt;
    long n = std::strtol(listen_fds, &end, 10);
    if (*listen_fds == '\0' || *end != '\0' || n <= 0) return std::nullopt;
    if (n != 1)
        throw Error(Errc::usage,
                    "systemd passed " + std::string(listen_fds) +
                        " sockets (LISTEN_FDS); gantry system service serves one",
                    "give gantry.socket one ListenStream=");
    return 3; // SD_LISTEN_FDS_START
}

} // namespace gantry::engine_api
