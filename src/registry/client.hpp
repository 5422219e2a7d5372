// A client of one registry (OCI distribution API v2): endpoint and TLS settings, authentication
// (anonymous, basic, bearer tokens from the WWW-Authenticate challenge, cached per scope until
// they expire), retries with backoff, and errors that explain 401/403/404/429/5xx.
//
// Insecure registries (TLS not verified, plain http allowed) are those given --tls-verify=false
// or whose registries.conf table says insecure = true (site/registries_conf.hpp; a mirror's own
// insecure comes in ClientOptions::insecure). gantry's older registries.json
// (${XDG_CONFIG_HOME:-~/.config}/gantry/ or /etc/gantry/, {"insecure-registries": [...]}) is
// still read, with a warning saying what to write in registries.conf instead. Like podman,
// plain http is used only for an insecure registry whose https endpoint does not answer, never
// implicitly for localhost. Extra CA certificates: *.crt in certs.d/HOST[:PORT]/ under
// --cert-dir, ~/.config/gantry/certs.d, /etc/containers/certs.d or /etc/docker/certs.d, added to
// the system's bundle; client.cert/client.key there enable mutual TLS.
#pragma once

#include "registry/auth.hpp"
#include "registry/http.hpp"

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace gantry::registry {

struct ClientOptions {
    std::optional<bool> tls_verify;   // --tls-verify; unset: verify unless listed insecure
    bool insecure = false;            // registries.conf says so for this endpoint (a mirror)
    std::string cert_dir;             // --cert-dir: certs.d-style directory for this registry
    std::string authfile;             // --authfile
    std::optional<Credentials> creds; // --creds
    unsigned retries = 3;             // extra attempts after a failure that may pass
    double retry_delay = 1.0;         // seconds before the first retry, doubled each time
    // whether a transfer abandoned by a Transport bound (too slow, too long, no connection in
    // time) is tried again: not on the lazy path, where a container's read waits on it
    bool retry_timeouts = true;
    Transport transport;
};

enum class Retry { all, status_only, none };

// Whether registries.conf's table for DOMAIN (or the deprecated registries.json) lists it insecure.
bool is_insecure_listed(const std::string& domain);

class Client {
  public:
    Client(std::string domain, ClientOptions opt);
    const std::string& domain() const { return domain_; }
    const ClientOptions& options() const { return opt_; }

    // Sends req to `target`: a path below the API root ("/v2/REPO/manifests/TAG") or an absolute
    // URL (upload locations). Authenticates for `scopes` ("repository:a/b:pull,push"). Returns
    // any HTTP response; throws on transport failures after the retries.
    Response call(HttpRequest req, const std::string& target,
                  const std::vector<std::string>& scopes, Retry retry = Retry::all);

    // Verifies credentials: GET /v2/ and, for bearer registries, a token for no scope.
    void login_check();

    // Throws the Error that explains a failed response (what: "manifest busybox:latest").
    [[noreturn]] void fail(const Response& r, const std::string& what,
                           const std::string& repo) const;

    std::string base(); // "https://host:port"
    // Closes the connections kept for reuse (before a fork whose child closes descriptors and
    // makes its own: lazy/tree.hpp).
    void close_idle();
    void sleep_before_retry(unsigned attempt, const Response* r) const;

  private:
    struct Token {
        std::string value;
        std::chrono::steady_clock::time_point expires;
    };
    std::unique_ptr<Session> acquire();
    void release(std::unique_ptr<Session> s);
    std::string auth_header(const std::vector<std::string>& scopes);
    bool authenticate(const Response& r, const std::vector<std::string>& scopes, bool had_auth);
    void fetch_token(const Challenge& c, const std::vector<std::string>& scopes);
    const std::optional<Credentials>& creds();
    void decide_scheme();

    std::string domain_;
    std::string host_; // network host[:port] (Docker Hub's API lives at registry-1.docker.io)
    ClientOptions opt_;
    bool insecure_ = false;
    std::mutex mu_;
    std::string scheme_;
    std::vector<std::unique_ptr<Session>> idle_;
    std::map<std::string, Token> tokens_; // by joined scopes
    bool basic_ = false;
    bool creds_loaded_ = false;
    std::optional<Credentials> creds_;
};

// The registry's error document ({"errors":[{"code","message"}]}) as "CODE: message", or "".
std::string registry_error_text(const std::string& body);

} // namespace gantry::registry
