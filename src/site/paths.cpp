#include "site/paths.hpp"

#include <cstdlib>
#include <unistd.h>

namespace gantry::site {

Paths Paths::current() {
    Paths p;
    if (const char* e = std::getenv("CONTAINERS_REGISTRIES_CONF"); e && *e)
        p.registries_conf_env = e;
    if (const char* e = std::getenv("CONTAINERS_POLICY_JSON"); e && *e) p.policy_env = e;
    std::filesystem::path home;
    if (const char* h = std::getenv("HOME"); h && *h) home = h;
    if (!home.empty()) p.user_config = home / ".config/containers";
    p.system_config = "/etc/containers";
    bool root = ::geteuid() == 0;
    if (root) {
        p.alias_cache = "/var/cache/containers/short-name-aliases.conf";
        p.default_lookaside = "/var/lib/containers/sigstore";
    } else if (!home.empty()) {
        p.alias_cache = home / ".cache/containers/short-name-aliases.conf";
        p.default_lookaside = home / ".local/share/containers/sigstore";
    }
    return p;
}

} // namespace gantry::site
