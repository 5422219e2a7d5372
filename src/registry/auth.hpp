// Registry credentials and authentication challenges.
//
// Credentials are looked up, first match wins, in:
//   1. --authfile FILE (only that file when given)
//   2. gantry's own file: $GANTRY_AUTH_FILE, else ${XDG_CONFIG_HOME:-~/.config}/gantry/auth.json
//      (written by `gantry login`, mode 0600, replaced atomically)
//   3. $REGISTRY_AUTH_FILE, ${XDG_RUNTIME_DIR}/containers/auth.json (podman, skopeo; read only)
//   4. ${DOCKER_CONFIG:-~/.docker}/config.json (docker; read only)
// All use docker's format: {"auths": {"HOST[:PORT]": {"auth": base64("user:password")}}}; in
// each file, as docker does, "credHelpers": {"HOST": "NAME"} and then "credsStore": "NAME" come
// first: the program docker-credential-NAME is asked (`get`, the server on stdin) and its
// answer is final for that file ("credentials not found" means none; username "<token>" means
// an identity token, see Credentials).
#pragma once

#include "util/nettle.hpp"

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace gantry::registry {

struct Credentials {
    std::string username;
    std::string password;
    std::string source; // the file they came from (for messages)
    // `password` is an identity token (an OAuth2 refresh token: what a credential helper
    // returns for username "<token>"), usable only with a registry's bearer token service
    bool identity_token = false;
};

// The key a registry domain has in auth files ("docker.io" for Docker Hub, else host[:port]).
std::string auth_key(const std::string& domain);

std::filesystem::path gantry_auth_file();
std::optional<Credentials> find_credentials(const std::string& domain,
                                            const std::string& authfile = {});
// Stores (replacing) the credentials in `file` (default: gantry's own), mode 0600, atomically.
void store_credentials(const std::string& domain, const Credentials& c,
                       const std::string& file = {});
// Removes them from gantry's file; false when it had none for that registry.
bool remove_credentials(const std::string& domain, const std::string& file = {});
// Removes every entry of gantry's file; returns how many there were.
std::size_t remove_all_credentials(const std::string& file = {});

using nettle::base64_decode; // util/nettle.hpp
using nettle::base64_encode;

// A WWW-Authenticate challenge: scheme ("bearer", "basic", lower case) and its parameters
// (realm, service, scope, error, ...; names lower case, quoted values unquoted).
struct Challenge {
    std::string scheme;
    std::map<std::string, std::string> params;
    std::string param(const std::string& name) const;
};
// Parses one header value (RFC 7235; several challenges in one value are split). Malformed
// input gives an empty list rather than an exception: the caller reports the 401.
std::vector<Challenge> parse_challenges(const std::string& header);

} // namespace gantry::registry
