// `gantry system service`: the Engine API served on a unix socket with libmicrohttpd (loaded
// with dlopen when the service starts: no other command pays for it), one thread per
// connection, until it has been idle for the time asked. The socket is the user's alone (0600
// in the 0700 runtime directory), or the one systemd passes (socket activation, LISTEN_FDS).
#pragma once

#include "engine_api/api.hpp"
#include "engine_api/listen.hpp" // where it listens: socket_path, activation_fd

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

// Serves CTX until idle for O.idle_seconds, or SIGINT/SIGTERM. Returns the exit status (0).
int run_service(const ServiceContext& ctx, const ServiceOptions& o);

} // namespace gantry::engine_api
