#include "registry/auth.hpp"

#include "oci/image.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

#include <cctype>
#include <cstdlib>
#include <nettle/base64.h>
#include <pwd.h>
#include <unistd.h>

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

std::optional<Credentials> from_doc(const oci::json& doc, const std::string& domain,
                                    const std::string& source) {
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

std::string base64_encode(const std::string& s) {
    std::string out(BASE64_ENCODE_RAW_LENGTH(s.size()), '\0');
    nettle_base64_encode_raw(out.data(), s.size(), reinterpret_cast<const uint8_t*>(s.data()));
    return out;
}

std::optional<std::string> base64_decode(const std::string& s) {
    base64_decode_ctx ctx;
    nettle_base64_decode_init(&ctx);
    std::string out(BASE64_DECODE_LENGTH(s.size()), '\0');
    std::size_t n = out.size();
    if (!nettle_base64_decode_update(&ctx, &n, reinterpret_cast<uint8_t*>(out.data()), s.size(),
                                     s.data()) ||
        !nettle_base64_decode_final(&ctx))
        return std::nullopt;
    out.resize(n);
    return out;
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
        std::string t = h.substr(b, i - b);
        for (auto& c : t) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        return t;
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
