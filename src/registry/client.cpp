#include "registry/client.hpp"

#include "oci/image.hpp"
#include "registry/transfer_bounds.hpp"
#include "site/resolve.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/json.hpp"
#include "util/log.hpp"
#include "util/text.hpp"

#include <algorithm>
#include <cstdlib>
#include <thread>

namespace gantry::registry {

namespace stdfs = std::filesystem;
using clk = std::chrono::steady_clock;

namespace {

std::string xdg_config_home() {
    if (const char* x = std::getenv("XDG_CONFIG_HOME"); x && *x) return x;
    if (const char* h = std::getenv("HOME"); h && *h) return std::string(h) + "/.config";
    return {};
}

std::vector<stdfs::path> registries_files() {
    std::vector<stdfs::path> out;
    if (std::string c = xdg_config_home(); !c.empty())
        out.push_back(stdfs::path(c) / "gantry/registries.json");
    out.emplace_back("/etc/gantry/registries.json");
    return out;
}

std::vector<stdfs::path> cert_dirs(const std::string& host, const std::string& explicit_dir) {
    if (!explicit_dir.empty()) return {explicit_dir};
    std::vector<stdfs::path> out;
    if (std::string c = xdg_config_home(); !c.empty())
        out.push_back(stdfs::path(c) / "gantry/certs.d" / host);
    out.push_back(stdfs::path("/etc/containers/certs.d") / host);
    out.push_back(stdfs::path("/etc/docker/certs.d") / host);
    return out;
}

bool retryable_status(long s) {
    return s == 429 || s == 500 || s == 502 || s == 503 || s == 504 || s == 408;
}

} // namespace

bool is_insecure_listed(const std::string& domain) {
    if (site::insecure(site::RegistriesConf::system(), domain)) return true;
    for (auto& f : registries_files()) {
        std::string text;
        try {
            text = fs::read_file(f, 1u << 20);
        } catch (const Error& e) {
            if (e.code() == Errc::not_found) continue;
            throw;
        }
        auto doc = oci::parse_json(text, f.string());
        auto it = doc.find("insecure-registries");
        if (it == doc.end()) continue;
        if (!it->is_array())
            throw Error(Errc::invalid, f.string() + ": \"insecure-registries\" must be a list",
                        "write it as {\"insecure-registries\": [\"HOST:PORT\"]}");
        static std::once_flag warned; // once per process
        if (!it->empty())
            std::call_once(warned, [&] {
                log::warn(f.string() + " is deprecated: write each of its insecure-registries in "
                                       "registries.conf instead, as [[registry]] location = "
                                       "\"HOST:PORT\" insecure = true (docs/registry.md)");
            });
        for (auto& e : *it)
            if (e.is_string() && e.get<std::string>() == domain) return true;
    }
    return false;
}

std::string registry_error_text(const std::string& body) {
    try {
        auto doc = safe_json::parse(body, "registry error");
        if (!doc.is_object() || !doc.contains("errors") || !doc["errors"].is_array()) return {};
        std::string out;
        for (auto& e : doc["errors"]) {
            if (!e.is_object()) continue;
            std::string code = e.value("code", "");
            std::string msg = e.value("message", "");
            std::string one = code.empty() ? msg : msg.empty() ? code : code + ": " + msg;
            if (!one.empty()) out += (out.empty() ? "" : "; ") + one;
        }
        if (out.size() > 300) out = out.substr(0, 300) + "…";
        return out;
    } catch (...) {
        return {};
    }
}

Client::Client(std::string domain, ClientOptions opt)
    : domain_(std::move(domain)), opt_(std::move(opt)) {
    host_ = domain_ == "docker.io" ? "registry-1.docker.io" : domain_;
    // the bounds the transport leaves to transfer_bounds.hpp: a bad value refused before any
    // request (Session::perform reads them again, from the same cache)
    if (opt_.transport.min_rate <= 0 || opt_.transport.stall_timeout <= 0) (void)transfer_bounds();
    insecure_ = opt_.tls_verify ? !*opt_.tls_verify : opt_.insecure || is_insecure_listed(domain_);
    opt_.transport.tls_verify = !insecure_;
    if (!insecure_) {
        std::string extra;
        for (auto& dir : cert_dirs(domain_, opt_.cert_dir)) {
            std::error_code ec;
            if (!stdfs::is_directory(dir, ec)) continue;
            std::vector<stdfs::path> files;
            for (auto& e : stdfs::directory_iterator(dir, ec)) files.push_back(e.path());
            std::sort(files.begin(), files.end());
            for (auto& p : files) {
                auto name = p.filename().string();
                if (name.ends_with(".crt")) extra += fs::read_file(p, 1u << 20) + "\n";
                if (name.ends_with(".cert")) opt_.transport.client_cert = p.string();
                if (name.ends_with(".key")) opt_.transport.client_key = p.string();
            }
            log::debug("registry " + domain_ + ": certificates from " + dir.string());
            break; // the first directory that exists wins, as in containers/image
        }
        if (!extra.empty()) {
            std::string bundle;
            for (const char* sys :
                 {"/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt"}) {
                try {
                    bundle = fs::read_file(sys, 16u << 20);
                    break;
                } catch (const Error&) {
                }
            }
            opt_.transport.ca_pem = bundle + "\n" + extra;
        }
    }
}

void Client::close_idle() {
    std::lock_guard l(mu_);
    idle_.clear();
}

std::unique_ptr<Session> Client::acquire() {
    {
        std::lock_guard l(mu_);
        if (!idle_.empty()) {
            auto s = std::move(idle_.back());
            idle_.pop_back();
            return s;
        }
    }
    return std::make_unique<Session>();
}

void Client::release(std::unique_ptr<Session> s) {
    std::lock_guard l(mu_);
    idle_.push_back(std::move(s));
}

const std::optional<Credentials>& Client::creds() {
    std::lock_guard l(mu_);
    if (!creds_loaded_) {
        creds_ = opt_.creds ? opt_.creds : find_credentials(domain_, opt_.authfile);
        creds_loaded_ = true;
        if (creds_)
            log::debug("registry " + domain_ + ": " +
                       (creds_->identity_token ? "an identity token"
                                               : "credentials of " + creds_->username) +
                       " from " + creds_->source);
    }
    return creds_;
}

void Client::decide_scheme() {
    {
        std::lock_guard l(mu_);
        if (!scheme_.empty()) return;
    }
    std::string scheme = "https";
    if (insecure_) {
        // podman's rule: an insecure registry may speak plain http; try https first.
        Session s;
        HttpRequest ping;
        ping.url = "https://" + host_ + "/v2/";
        try {
            s.perform(ping, opt_.transport);
        } catch (const TransportError& e) {
            HttpRequest p2;
            p2.url = "http://" + host_ + "/v2/";
            try {
                s.perform(p2, opt_.transport);
                scheme = "http";
                log::debug("registry " + domain_ + ": https failed (" + e.message() +
                           "), using http");
            } catch (const TransportError&) {
                throw e;
            }
        }
    }
    std::lock_guard l(mu_);
    scheme_ = scheme;
}

std::string Client::base() {
    decide_scheme();
    std::lock_guard l(mu_);
    return scheme_ + "://" + host_;
}

std::string Client::auth_header(const std::vector<std::string>& scopes) {
    std::string key = text::join(scopes, " ");
    {
        std::lock_guard l(mu_);
        auto it = tokens_.find(key);
        if (it != tokens_.end() && it->second.expires > clk::now())
            return "Authorization: Bearer " + it->second.value;
        if (!basic_) return {};
    }
    auto& c = creds();
    if (!c || c->identity_token) return {};
    return "Authorization: Basic " + base64_encode(c->username + ":" + c->password);
}

void Client::sleep_before_retry(unsigned attempt, const Response* r) const {
    double delay = opt_.retry_delay * static_cast<double>(1u << std::min(attempt, 5u));
    if (r && r->status == 429) {
        std::string ra = r->header("retry-after");
        char* end = nullptr;
        long secs = ra.empty() ? -1 : std::strtol(ra.c_str(), &end, 10);
        if (secs >= 0 && end && *end == '\0') delay = static_cast<double>(std::min(secs, 60L));
    }
    delay = std::min(delay, 30.0);
    log::debug("registry " + domain_ + ": retrying in " + std::to_string(delay) + "s");
    std::this_thread::sleep_for(std::chrono::duration<double>(delay));
}

Response Client::call(HttpRequest req, const std::string& target,
                      const std::vector<std::string>& scopes, Retry retry) {
    bool absolute = target.starts_with("http://") || target.starts_with("https://");
    req.url = absolute ? target : base() + target;
    auto plain_headers = req.headers;
    bool auth_tried = false;
    unsigned attempt = 0;
    for (;;) {
        req.headers = plain_headers;
        std::string auth = auth_header(scopes);
        if (!auth.empty()) req.headers.push_back(auth);
        auto s = acquire();
        Response r;
        try {
            r = s->perform(req, opt_.transport);
        } catch (const TransportError& e) {
            if (retry != Retry::all || attempt >= opt_.retries || e.aborted() || e.tls() ||
                (e.timed_out() && !opt_.retry_timeouts))
                throw;
            log::debug(e.message());
            sleep_before_retry(attempt++, nullptr);
            continue;
        }
        release(std::move(s));
        if (r.status == 401 && !auth_tried) {
            auth_tried = true;
            if (authenticate(r, scopes, !auth.empty())) continue;
        }
        if (retryable_status(r.status) && retry != Retry::none && attempt < opt_.retries) {
            log::debug(req.method + " " + req.url + ": HTTP " + std::to_string(r.status));
            sleep_before_retry(attempt++, &r);
            continue;
        }
        return r;
    }
}

bool Client::authenticate(const Response& r, const std::vector<std::string>& scopes,
                          bool had_auth) {
    auto challenges = parse_challenges(r.header("www-authenticate"));
    const Challenge* bearer = nullptr;
    const Challenge* basic = nullptr;
    for (auto& c : challenges) {
        if (c.scheme == "bearer") bearer = &c;
        if (c.scheme == "basic") basic = &c;
    }
    if (bearer) {
        if (had_auth && bearer->param("error") == "insufficient_scope") return false;
        fetch_token(*bearer, scopes);
        return true;
    }
    if (basic && creds() && creds()->identity_token)
        throw Error(Errc::auth,
                    "registry " + domain_ +
                        " asks for a password (basic auth), and the login for it is an identity "
                        "token (from " +
                        creds()->source + ")",
                    "an identity token works only with a token service; log in with a password: "
                    "gantry login " +
                        auth_key(domain_));
    if (basic && creds() && !had_auth) { // else: no login, or the credentials were refused
        std::lock_guard l(mu_);
        basic_ = true;
        return true;
    }
    return false;
}

void Client::fetch_token(const Challenge& c, const std::vector<std::string>& scopes) {
    std::string realm = c.param("realm");
    if (!realm.starts_with("https://") && !realm.starts_with("http://"))
        throw Error(Errc::auth,
                    "registry " + domain_ + " sent a bearer challenge without a usable realm (\"" +
                        realm + "\")",
                    "the registry's token service is misconfigured");
    std::string url = realm + (realm.find('?') == std::string::npos ? "?" : "&");
    std::vector<std::string> q;
    if (!c.param("service").empty()) q.push_back("service=" + url_escape(c.param("service")));
    std::vector<std::string> all = scopes;
    if (std::string cs = c.param("scope");
        !cs.empty() && std::find(all.begin(), all.end(), cs) == all.end())
        all.push_back(cs);
    auto& cr = creds();
    HttpRequest req;
    if (cr && cr->identity_token) {
        // OAuth2 refresh-token grant (the distribution token spec's POST /token), as docker
        // does with an identity token: one space-separated scope, the secret in the body
        q.push_back("scope=" + url_escape(text::join(all, " ")));
        q.push_back("grant_type=refresh_token");
        q.push_back("client_id=gantry");
        q.push_back("refresh_token=" + url_escape(cr->password));
        req.method = "POST";
        req.url = realm;
        req.headers.push_back("Content-Type: application/x-www-form-urlencoded");
        req.body = text::join(q, "&");
        req.follow_redirects = false; // a redirect would carry the body to another host
    } else {
        for (auto& s : all) q.push_back("scope=" + url_escape(s));
        if (cr) q.push_back("account=" + url_escape(cr->username));
        req.url = url + text::join(q, "&");
        if (cr)
            req.headers.push_back("Authorization: Basic " +
                                  base64_encode(cr->username + ":" + cr->password));
    }
    Response r;
    unsigned attempt = 0;
    for (;;) {
        auto s = acquire();
        try {
            r = s->perform(req, opt_.transport);
        } catch (const TransportError& e) {
            if (attempt >= opt_.retries || e.tls())
                throw Error(Errc::network, "token service of " + domain_ + ": " + e.message(),
                            e.hint());
            sleep_before_retry(attempt++, nullptr);
            continue;
        }
        release(std::move(s));
        if (retryable_status(r.status) && attempt < opt_.retries) {
            sleep_before_retry(attempt++, &r);
            continue;
        }
        break;
    }
    if (r.status == 401 || r.status == 403) {
        if (cr && cr->identity_token)
            throw Error(Errc::auth,
                        "registry " + domain_ + " refused the identity token from " + cr->source,
                        "it may have expired or been revoked: log in again with the tool that "
                        "stored it, or use gantry login " +
                            auth_key(domain_));
        if (cr)
            throw Error(Errc::auth,
                        "registry " + domain_ + " refused the credentials of \"" + cr->username +
                            "\" (from " + cr->source + ")",
                        "check the user name and password and log in again: gantry login " +
                            auth_key(domain_));
        throw Error(Errc::auth,
                    "registry " + domain_ +
                        " requires a login (its token service refused anonymous access)",
                    "log in first: gantry login " + auth_key(domain_));
    }
    if (r.status != 200)
        throw Error(Errc::network,
                    "token service of " + domain_ + " answered HTTP " + std::to_string(r.status) +
                        " (" + realm + ")",
                    "retry later; if it persists the registry's authentication is broken");
    std::string token;
    long expires_in = 60;
    try {
        auto doc = safe_json::parse_or_discarded(r.body);
        if (doc.contains("token") && doc["token"].is_string()) token = doc["token"];
        if (token.empty() && doc.contains("access_token") && doc["access_token"].is_string())
            token = doc["access_token"];
        if (doc.contains("expires_in") && doc["expires_in"].is_number_integer())
            expires_in = std::max<long>(doc["expires_in"].get<long>(), 10);
    } catch (const oci::json::exception&) {
    }
    if (token.empty())
        throw Error(Errc::auth, "token service of " + domain_ + " returned no token",
                    "the registry's token service is misconfigured");
    log::debug("registry " + domain_ + ": token for \"" + text::join(scopes, " ") + "\", valid " +
               std::to_string(expires_in) + "s");
    std::lock_guard l(mu_);
    tokens_[text::join(scopes, " ")] =
        Token{token, clk::now() + std::chrono::seconds(expires_in - 5)};
}

void Client::login_check() {
    HttpRequest req;
    auto r = call(req, "/v2/", {}, Retry::all);
    if (r.status == 200) return;
    if (r.status == 401) {
        auto ch = parse_challenges(r.header("www-authenticate"));
        for (auto& c : ch)
            if (c.scheme == "bearer") {
                fetch_token(c, {}); // throws Error(auth) when the credentials are refused
                return;
            }
        if (creds())
            throw Error(Errc::auth,
                        "registry " + domain_ + " refused the credentials of \"" +
                            creds()->username + "\"",
                        "check the user name and password");
        throw Error(Errc::auth, "registry " + domain_ + " requires credentials", "give --username");
    }
    fail(r, "API endpoint /v2/", "");
}

void Client::fail(const Response& r, const std::string& what, const std::string& repo) const {
    std::string detail = registry_error_text(r.body);
    std::string where = "registry " + domain_;
    std::string suffix = detail.empty() ? "" : " (" + detail + ")";
    std::string login = "gantry login " + auth_key(domain_);
    switch (r.status) {
    case 401:
        if (creds_)
            throw Error(Errc::auth,
                        where + " refused the credentials of \"" + creds_->username + "\" for " +
                            what + suffix,
                        "check that the account may access " + repo +
                            ", or log in again: " + login);
        throw Error(Errc::auth, where + " requires authentication for " + what + suffix,
                    "log in first: " + login + " (or the repository name is wrong)");
    case 403:
        throw Error(
            Errc::auth, where + " denied access to " + what + suffix,
            "the account lacks permission for " + repo +
                " (private repository, or no push rights): log in with an account that has it");
    case 404:
        throw Error(Errc::not_found, what + " not found in " + where + suffix,
                    "check the repository name and tag; a private repository also answers 404 "
                    "until you log in (" +
                        login + ")");
    case 429:
        throw Error(Errc::network,
                    where + " is rate-limiting requests (HTTP 429) for " + what + suffix,
                    "wait a little and retry, or log in: authenticated pulls have higher limits");
    default:
        break;
    }
    if (r.status >= 500)
        throw Error(Errc::network,
                    where + " failed with HTTP " + std::to_string(r.status) + " for " + what +
                        " after " + std::to_string(opt_.retries + 1) + " attempts" + suffix,
                    "the registry has a problem; retry later (--retry N sets the attempts)");
    throw Error(Errc::invalid,
                where + " answered HTTP " + std::to_string(r.status) + " for " + what + suffix,
                "the registry refused the request; check the reference");
}

} // namespace gantry::registry
