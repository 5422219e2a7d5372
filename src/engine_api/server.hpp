// `gantry system service`: the Engine API served on a unix socket with libmicrohttpd (loaded
// with dlopen when the service starts: no other command pays for it), one thread per
// connection, until it has been idle for the time asked. The socket is the user's alone (0600
// in the 0700 runtime directory), or the one systemd passes (socket activation, LISTEN_FDS).
#pragma once

#include "engine_api/api.hpp"

#include <filesystem>
#include <optional>
#include <string>
#include <sys/types.h>

namespace gantry::engine_api {

struct ServiceOptions {
    std::string uri;         // "" : default_socket_uri()
    double idle_seconds = 5; // exit after this long with no connection (0: never)
    // --group: the socket 0660 and owned by this group (docker's `docker` group), whose
    // members may then use it; "" the user's alone (0600)
    std::string group;
    // tcp://HOST:PORT's TLS (server_tls.hpp): the service's certificate and key, the clients'
    // CA; none: plain TCP, with a warning
    std::string tls_cert, tls_key, tls_ca;
};

// unix://RUNTIME_DIR/gantry.sock: $XDG_RUNTIME_DIR/gantry/gantry.sock, root's
// /run/gantry/gantry.sock (runtime/state.hpp's runtime_dir()).
std::string default_socket_uri();

// The socket path a URI names ("unix:///run/x.sock", or an absolute path). Another scheme
// (tcp://) is Error(unsupported) saying what is served; a relative path Error(usage).
std::filesystem::path socket_path(const std::string& uri);

// systemd's socket activation (sd_listen_fds): the fd it passed (3) when LISTEN_PID is SELF
// and LISTEN_FDS is 1; nothing when the variables are absent or name another process. More
// than one socket is Error(usage).
std::optional<int> activation_fd(const char* listen_pid, const char* listen_fds, pid_t self);

// Serves CTX until idle for O.idle_seconds, or SIGINT/SIGTERM. Returns the exit status (0).
int run_service(const ServiceContext& ctx, const ServiceOptions& o);

} // namespace gantry::engine_api
