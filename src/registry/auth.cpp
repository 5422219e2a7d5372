#include "registry/auth.hpp"

#include "oci/image.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"
#include "util/nettle.hpp"
#include "util/text.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <pwd.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <utility>

namespace gantry::registry {

namespace stdfs = std::filesystem;

namespace {

std::string home() {
    if (const char* h = std::getenv("HOME"); h && *h) return h;
    if (auto* pw = ::getpwuid(::geteuid())) return pw->pw_dir;
    return {};
}

std::string config_home() {
    if (const char* x = std::getenv("XDG_CONFIG_HOME"); x && *x) return x;
    std::string h = home();
    return h.empty() ? std::string() : h + "/.config";
}

std::vector<std::string> keys_for(const std::string& domain) {
    std::string k = auth_key(domain);
    if (k == "docker.io")
        return {"docker.io", "https://index.docker.io/v1/", "index.docker.io",
                "registry-1.docker.io", "https://registry-1.docker.io"};
    return {k, "https://" + k, "http://" + k, "https://" + k + "/v2/", "https://" + k + "/v1/"};
}

oci::json read_auth_doc(const stdfs::path& p, bool must_exist) {
    std::string text;
    try {
        text = fs::read_file(p, 4u << 20);
    } catch (const Error& e) {
        if (e.code() == Errc::not_found && !must_exist) return oci::json::object();
        throw;
    }
    if (text.find_first_not_of(" \t\r\n") == std::string::npos) return oci::json::object();
    auto doc = oci::parse_json(text, p.string());
    if (!doc.is_object())
        throw Error(Errc::invalid, p.string() + " is not a JSON object",
                    "fix or remove the file, then log in again");
    return doc;
}

// The server a credential helper is asked about: what `docker login` stored it under.
std::string helper_server(const std::string& domain) {
    std::string k = auth_key(domain);
    return k == "docker.io" ? "https://index.docker.io/v1/" : k;
}

// Runs `docker-credential-NAME get` with `server` on stdin and returns its stdout and exit
// status. The helper inherits our environment (it may need a keyring, gpg-agent, a cloud
// SDK's config) and stderr (its prompts and errors); nothing else of ours.
std::pair<std::string, int> run_helper(const std::string& program, const std::string& server,
                                       const std::string& what) {
    // stdin is a socket so that a helper exiting without reading it costs an EPIPE, not a
    // SIGPIPE (MSG_NOSIGNAL)
    int in[2], out[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in) != 0)
        throw_errno("socket for " + program);
    Fd in_r(in[0]), in_w(in[1]);
    if (::pipe2(out, O_CLOEXEC) != 0) throw_errno("pipe for " + program);
    Fd out_r(out[0]), out_w(out[1]);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in_r.get(), 0);
    posix_spawn_file_actions_adddup2(&fa, out_w.get(), 1);
    char* argv[] = {const_cast<char*>(program.c_str()), const_cast<char*>("get"), nullptr};
    pid_t pid = -1;
    int rc = ::posix_spawnp(&pid, program.c_str(), &fa, nullptr, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        if (rc == ENOENT)
            throw Error(Errc::auth,
                        what + " names the credential helper " + program +
                            ", which is not installed (not found in PATH)",
                        "install " + program + " or remove it from that file");
        throw Error(Errc::auth,
                    "cannot run the credential helper " + program + ": " + std::strerror(rc));
    }
    in_r.reset();
    out_w.reset();
    // a few hundred bytes: within the socket's buffer, so writing before reading cannot block
    std::string line = server + "\n";
    [[maybe_unused]] auto n = ::send(in_w.get(), line.data(), line.size(), MSG_NOSIGNAL);
    in_w.reset();
    std::string text;
    char buf[4096];
    for (ssize_t k; (k = ::read(out_r.get(), buf, sizeof buf)) != 0;) {
        if (k < 0 && errno == EINTR) continue;
        if (k < 0 || text.size() > (1u << 20)) break; // a helper has no business printing more
        text.append(buf, static_cast<size_t>(k));
    }
    out_r.reset(); // a helper still writing after we stopped reading gets EPIPE, not a hang
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return {text, WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status)};
}

// docker's credential helpers (docker-credential-helpers' protocol): `get` prints
// {"ServerURL", "Username", "Secret"}; "credentials not found" (exit 1) means none.
std::optional<Credentials> from_helper(const std::string& name, const std::string& domain,
                                       const std::string& what) {
    bool plain = !name.empty() && name.size() < 64 &&
                 std::all_of(name.begin(), name.end(), [](unsigned char c) {
                     return std::isalnum(c) || c == '-' || c == '_' || c == '.';
                 });
    if (!plain || name[0] == '.')
        throw Error(Errc::invalid,
                    what + ": \"" + name +
                        "\" is not a credential helper name (letters, digits, "
                        "'-', '_' and '.')",
                    "fix that entry: it names the program docker-credential-NAME");
    std::string program = "docker-credential-" + name;
    std::string server = helper_server(domain);
    auto [text, status] = run_helper(program, server, what);
    std::string trimmed(text::trim_right(text, " \t\r\n"));
    if (status != 0) {
        if (trimmed.find("credentials not found") != std::string::npos) return std::nullopt;
        throw Error(Errc::auth,
                    program + " get " + server + " failed (exit " + std::to_string(status) + ")" +
                        (trimmed.empty() ? "" : ": " + trimmed.substr(0, 200)),
                    "check the helper (" + program + " list) or log in with `gantry login " +
                        auth_key(domain) + "`");
    }
    oci::json doc;
    try {
        doc = oci::parse_json(text, program);
    } catch (const Error&) {
        doc = nullptr;
    }
    auto field = [&doc](const char* k) {
        auto it = doc.is_object() ? doc.find(k) : doc.end();
        return doc.is_object() && it != doc.end() && it->is_string() ? it->get<std::string>()
                                                                     : std::string();
    };
    std::string user = field("Username"), secret = field("Secret");
    if (!doc.is_object() || secret.empty())
        throw Error(Errc::invalid, program + " get " + server + " printed no credentials",
                    "expected {\"Username\": ..., \"Secret\": ...}; check the helper (" + program +
                        " list)");
    if (user == "<token>") // docker's marker for an identity token
        return Credentials{{}, secret, program + " (" + what + ")", true};
    return Credentials{user, secret, program + " (" + what + ")"};
}

// One auth file: docker's order, credHelpers[registry], then credsStore, then "auths".
std::optional<Credentials> from_doc(const oci::json& doc, const std::string& domain,
                                    const std::string& source) {
    auto helper = [&doc](const char* k) {
        auto it = doc.find(k);
        return it != doc.end() ? &*it : nullptr;
    };
    if (auto* hs = helper("credHelpers"); hs && hs->is_object())
        for (auto& key : keys_for(domain))
            if (auto it = hs->find(key); it != hs->end() && it->is_string())
                return from_helper(it->get<std::string>(), domain,
                                   source + " (credHelpers \"" + key + "\")");
    if (auto* st = helper("credsStore"); st && st->is_string() && !st->get<std::string>().empty())
        return from_helper(st->get<std::string>(), domain, source + " (credsStore)");
    auto auths = doc.find("auths");
    if (auths == doc.end() || !auths->is_object()) return std::nullopt;
    for (auto& key : keys_for(domain)) {
        auto it = auths->find(key);
        if (it == auths->end() || !it->is_object()) continue;
        auto a = it->find("auth");
        if (a == it->end() || !a->is_string() || a->get<std::string>().empty()) continue;
        auto plain = base64_decode(a->get<std::string>());
        if (!plain || plain->find(':') == std::string::npos)
            throw Error(Errc::invalid,
                        source + ": the \"auth\" entry of " + key +
                            " is not base64 of \"user:password\"",
                        "log in again with `gantry login " + auth_key(domain) + "`");
        auto colon = plain->find(':');
        return Credentials{plain->substr(0, colon), plain->substr(colon + 1), source};
    }
    return std::nullopt;
}

stdfs::path own_file(const std::string& file) {
    return file.empty() ? gantry_auth_file() : stdfs::path(file);
}

void write_doc(const stdfs::path& p, const oci::json& doc) {
    fs::make_dirs(p.parent_path(), 0700);
    fs::write_atomic(p, doc.dump(1, '\t') + "\n", 0600);
}

} // namespace

std::string auth_key(const std::string& domain) {
    if (domain == "docker.io" || domain == "index.docker.io" || domain == "registry-1.docker.io")
        return "docker.io";
    return domain;
}

stdfs::path gantry_auth_file() {
    if (const char* f = std::getenv("GANTRY_AUTH_FILE"); f && *f) return f;
    std::string c = config_home();
    if (c.empty())
        throw Error(Errc::usage, "cannot find a home directory for gantry's auth file",
                    "set HOME, XDG_CONFIG_HOME or GANTRY_AUTH_FILE");
    return stdfs::path(c) / "gantry/auth.json";
}

std::optional<Credentials> find_credentials(const std::string& domain,
                                            const std::string& authfile) {
    if (!authfile.empty()) return from_doc(read_auth_doc(authfile, true), domain, authfile);
    std::vector<stdfs::path> files;
    files.push_back(gantry_auth_file());
    if (const char* f = std::getenv("REGISTRY_AUTH_FILE"); f && *f) files.emplace_back(f);
    if (const char* r = std::getenv("XDG_RUNTIME_DIR"); r && *r)
        files.push_back(stdfs::path(r) / "containers/auth.json");
    if (const char* d = std::getenv("DOCKER_CONFIG"); d && *d)
        files.push_back(stdfs::path(d) / "config.json");
    else if (std::string h = home(); !h.empty())
        files.push_back(stdfs::path(h) / ".docker/config.json");
    for (auto& f : files)
        if (auto c = from_doc(read_auth_doc(f, false), domain, f.string())) return c;
    return std::nullopt;
}

void store_credentials(const std::string& domain, const Credentials& c, const std::string& file) {
    auto p = own_file(file);
    auto doc = read_auth_doc(p, false);
    if (!doc.contains("auths") || !doc["auths"].is_object()) doc["auths"] = oci::json::object();
    doc["auths"][auth_key(domain)] = {{"auth", base64_encode(c.username + ":" + c.password)}};
    write_doc(p, doc);
}

bool remove_credentials(const std::string& domain, const std::string& file) {
    auto p = own_file(file);
    auto doc = read_auth_doc(p, false);
    bool found = false;
    if (doc.contains("auths") && doc["auths"].is_object())
        for (auto& key : keys_for(domain)) found = doc["auths"].erase(key) > 0 || found;
    if (found) write_doc(p, doc);
    return found;
}

std::size_t remove_all_credentials(const std::string& file) {
    auto p = own_file(file);
    auto doc = read_auth_doc(p, false);
    std::size_t n = doc.contains("auths") && doc["auths"].is_object() ? doc["auths"].size() : 0;
    if (n) {
        doc["auths"] = oci::json::object();
        write_doc(p, doc);
    }
    return n;
}

std::string Challenge::param(const std::string& name) const {
    auto it = params.find(name);
    return it == params.end() ? std::string() : it->second;
}

std::vector<Challenge> parse_challenges(const std::string& h) {
    std::vector<Challenge> out;
    std::size_t i = 0, n = h.size();
    auto skip_ws = [&] {
        while (i < n && (h[i] == ' ' || h[i] == '\t')) ++i;
    };
    auto token = [&] {
        std::size_t b = i;
        while (i < n && h[i] != ' ' && h[i] != '\t' && h[i] != '=' && h[i] != ',') ++i;
        return text::lower(std::string_view(h).substr(b, i - b));
    };
    while (i < n) {
        skip_ws();
        while (i < n && (h[i] == ',' || h[i] == ' ')) ++i;
        if (i >= n) break;
        Challenge c;
        c.scheme = token();
        if (c.scheme.empty()) return {};
        // auth-params: name=value pairs separated by commas, until the next scheme token
        for (;;) {
            skip_ws();
            std::size_t save = i;
            std::string name = token();
            skip_ws();
            if (name.empty() || i >= n || h[i] != '=') {
                i = save; // the next challenge's scheme (or the end)
                break;
            }
            ++i; // '='
            skip_ws();
            std::string value;
            if (i < n && h[i] == '"') {
                ++i;
                bool closed = false;
                while (i < n) {
                    char ch = h[i++];
                    if (ch == '\\' && i < n) {
                        value += h[i++];
                    } else if (ch == '"') {
                        closed = true;
                        break;
                    } else {
                        value += ch;
                    }
                }
                if (!closed) return {};
            } else {
                std::size_t b = i;
                while (i < n && h[i] != ',' && h[i] != ' ') ++i;
                value = h.substr(b, i - b);
            }
            c.params[name] = value;
            skip_ws();
            if (i < n && h[i] == ',') ++i;
        }
        out.push_back(std::move(c));
        if (i == n) break;
    }
    return out;
}

} // namespace gantry::registry
