// Where `gantry system service` listens: its unix socket (0600, or 0660 and a group's; the
// default path, or the one systemd passes), or tcp://HOST:PORT with TLS (docker's daemon's
// --tlsverify model: the service's certificate and key, and a CA whose certificates the
// clients must present). The TLS itself is ended by engine_api/tls_front.hpp.
#pragma once

#include "util/fd.hpp"

#include <filesystem>
#include <optional>
#include <string>
#include <sys/types.h>

namespace gantry::engine_api {

// unix://RUNTIME_DIR/gantry.sock: $XDG_RUNTIME_DIR/gantry/gantry.sock, root's
// /run/gantry/gantry.sock (records/state.hpp's runtime_dir()).
std::string default_socket_uri();

// The socket path a URI names ("unix:///run/x.sock", or an absolute path). Another scheme
// (tcp://) is Error(unsupported) saying what is served; a relative path Error(usage).
std::filesystem::path socket_path(const std::string& uri);

// systemd's socket activation (sd_listen_fds): the fd it passed (3) when LISTEN_PID is SELF
// and LISTEN_FDS is 1; nothing when the variables are absent or name another process. More
// than one socket is Error(usage).
std::optional<int> activation_fd(const char* listen_pid, const char* listen_fds, pid_t self);

// A unix socket listening at PATH, 0600, its directory made 0700 when missing. A socket a
// service answers on is Error(conflict); a stale one (nothing listening) is replaced.
Fd listen_unix(const std::filesystem::path& path);

// --group: PATH given to GROUP (a name or a number) and made 0660; Error(usage) when the
// socket's directory keeps the group out, Error(not_found) for no such group.
void give_socket_group(const std::filesystem::path& path, const std::string& group);

struct TcpEndpoint {
    std::string host; // an IPv4 or IPv6 address, or a name getaddrinfo resolves
    std::string port;
};

// HOST:PORT of tcp://HOST:PORT ([V6]:PORT too); nothing for another scheme. Error(usage) for a
// tcp:// URI without a port or with a path.
std::optional<TcpEndpoint> tcp_endpoint(const std::string& uri);

// A socket listening on E (SO_REUSEADDR). Error(io) naming it when it cannot.
Fd listen_tcp(const TcpEndpoint& e);

// The service's TLS: PEM texts read from the files --tlscert, --tlskey, --tlscacert name.
struct TlsPems {
    std::string cert, key, ca;
};
// All three paths, or none (nothing: plain TCP); Error(usage) naming what is missing for a
// part, Error(not_found/io) for a file that cannot be read.
std::optional<TlsPems> read_tls(const std::string& cert, const std::string& key,
                                const std::string& ca);

} // namespace gantry::engine_api
