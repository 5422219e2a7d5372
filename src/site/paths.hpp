// Where the containers ecosystem's site files are, for this process: the environment
// (CONTAINERS_REGISTRIES_CONF, CONTAINERS_POLICY_JSON, HOME) and the effective user (root reads
// /var/cache and /var/lib where a rootless user reads $HOME/.cache and $HOME/.local/share).
#pragma once

#include <filesystem>

namespace gantry::site {

struct Paths {
    std::filesystem::path registries_conf_env; // $CONTAINERS_REGISTRIES_CONF or ""
    std::filesystem::path policy_env;          // $CONTAINERS_POLICY_JSON or ""
    std::filesystem::path user_config;         // $HOME/.config/containers, "" without HOME
    std::filesystem::path system_config;       // /etc/containers
    std::filesystem::path alias_cache;         // short-name-aliases.conf (user's or root's)
    std::filesystem::path default_lookaside;   // sigstore dir when registries.d names none

    static Paths current();
};

} // namespace gantry::site
