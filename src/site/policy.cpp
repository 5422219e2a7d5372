#include "site/policy.hpp"

#include "oci/digest.hpp"
#include "site/paths.hpp"
#include "site/resolve.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/json.hpp"
#include "util/nettle.hpp"

#include <filesystem>
#include <set>

namespace gantry::site {

namespace stdfs = std::filesystem;
using json = nlohmann::json;

namespace {

constexpr std::size_t kMaxPolicyBytes = 4u << 20;

const std::set<std::string>& transports() { // built at first use, not at every start
    static const std::set<std::string> s = {"docker", "atomic",         "containers-storage",
                                            "dir",    "docker-archive", "docker-daemon",
                                            "oci",    "oci-archive",    "ostree",
                                            "sif",    "tarball"};
    return s;
}

[[noreturn]] void bad(const std::string& file, const std::string& what) {
    throw Error(Errc::invalid, file + ": " + what,
                "fix the policy (containers-policy.json(5) describes it)");
}

// An object's members must all be in ALLOWED; names the first that is not.
void only(const json& obj, std::initializer_list<const char*> allowed, const std::string& file,
          const std::string& where) {
    for (auto& [k, v] : obj.items()) {
        bool ok = false;
        for (const char* a : allowed) ok = ok || k == a;
        if (!ok) bad(file, "unknown field \"" + k + "\" in " + where);
    }
}

std::string str_field(const json& obj, const char* key, const std::string& file,
                      const std::string& where) {
    auto it = obj.find(key);
    if (it == obj.end() || !it->is_string() || it->get<std::string>().empty())
        bad(file, where + " needs \"" + key + "\" as a non-empty string");
    return it->get<std::string>();
}

std::string base64_decode_or_refuse(const std::string& s, const std::string& file) {
    auto out = nettle::base64_decode(s);
    if (!out) bad(file, "keyData is not valid base64");
    return *out;
}

bool name_only(std::string_view s) {
    auto slash = s.rfind('/');
    return s.find('@') == std::string_view::npos &&
           s.find(':', slash == std::string_view::npos ? 0 : slash) == std::string_view::npos;
}

// dockerReference, dockerRepository, remap prefixes and scopes: fully qualified names; a short
// or non-canonical one would never match anything, so it is refused rather than left inert
void check_named(const std::string& s, int want_name_only, const std::string& file,
                 const std::string& what) {
    if (s.empty() || is_short_name(s))
        bad(file, what + " \"" + s + "\" is not fully qualified (write HOST/REPOSITORY)");
    oci::Reference r;
    try {
        r = oci::Reference::parse(s);
    } catch (const Error& e) {
        bad(file, what + " \"" + s + "\": " + e.message());
    }
    bool is_name = name_only(s);
    if (want_name_only == 1 && !is_name)
        bad(file, what + " \"" + s + "\" must be a repository name");
    if (want_name_only == 0 && is_name) bad(file, what + " \"" + s + "\" needs a tag or a digest");
    if (!is_name && r.str() != s)
        bad(file, what + " \"" + s + "\" uses a non-canonical format (write \"" + r.str() + "\")");
    if (r.domain == oci::kDefaultDomain && s.find('/', s.find('/') + 1) == std::string::npos)
        bad(file,
            what + " \"" + s + "\" never matches: official images are docker.io/library/NAME");
}

void check_prefix(const std::string& s, const std::string& file, const std::string& what) {
    if (s.find_first_of("*@") != std::string::npos || s.empty())
        bad(file, what + " \"" + s + "\" must be host[:port][/namespace...]");
    if (s.find('/') == std::string::npos) { // a host
        bool ok = false;
        try {
            ok = oci::Reference::parse(s + "/x/y").domain == s && !is_short_name(s + "/x");
        } catch (const Error&) {
        }
        if (!ok)
            bad(file, what + " \"" + s +
                          "\" is not a registry host[:port], and a repository must be fully "
                          "qualified (HOST/REPOSITORY)");
        return;
    }
    check_named(s, 1, file, what);
}

SignedIdentity identity_of(const json& j, const std::string& file) {
    SignedIdentity id;
    if (!j.is_object()) bad(file, "signedIdentity must be an object");
    std::string type = str_field(j, "type", file, "signedIdentity");
    using K = SignedIdentity::Kind;
    if (type == "matchExact" || type == "matchRepoDigestOrExact" || type == "matchRepository") {
        only(j, {"type"}, file, "signedIdentity " + type);
        id.kind = type == "matchExact"        ? K::match_exact
                  : type == "matchRepository" ? K::match_repository
                                              : K::match_repo_digest_or_exact;
    } else if (type == "exactReference") {
        only(j, {"type", "dockerReference"}, file, "signedIdentity exactReference");
        id.kind = K::exact_reference;
        id.value = str_field(j, "dockerReference", file, "signedIdentity exactReference");
        check_named(id.value, 0, file, "dockerReference");
    } else if (type == "exactRepository") {
        only(j, {"type", "dockerRepository"}, file, "signedIdentity exactRepository");
        id.kind = K::exact_repository;
        id.value = str_field(j, "dockerRepository", file, "signedIdentity exactRepository");
        check_named(id.value, 1, file, "dockerRepository");
    } else if (type == "remapIdentity") {
        only(j, {"type", "prefix", "signedPrefix"}, file, "signedIdentity remapIdentity");
        id.kind = K::remap_identity;
        id.prefix = str_field(j, "prefix", file, "signedIdentity remapIdentity");
        id.signed_prefix = str_field(j, "signedPrefix", file, "signedIdentity remapIdentity");
        check_prefix(id.prefix, file, "remapIdentity prefix");
        check_prefix(id.signed_prefix, file, "remapIdentity signedPrefix");
    } else {
        bad(file, "unknown signedIdentity type \"" + type + "\"");
    }
    return id;
}

Requirement requirement_of(const json& j, const std::string& file) {
    if (!j.is_object()) bad(file, "a policy requirement must be an object");
    std::string type = str_field(j, "type", file, "a policy requirement");
    Requirement r;
    using T = Requirement::Type;
    if (type == "insecureAcceptAnything" || type == "reject") {
        only(j, {"type"}, file, "requirement " + type);
        r.type = type == "reject" ? T::reject : T::insecure_accept_anything;
    } else if (type == "signedBy") {
        only(j, {"type", "keyType", "keyPath", "keyPaths", "keyData", "signedIdentity"}, file,
             "requirement signedBy");
        r.type = T::signed_by;
        std::string kt = str_field(j, "keyType", file, "requirement signedBy");
        if (kt != "GPGKeys")
            bad(file, "signedBy keyType \"" + kt + "\" is not supported (only \"GPGKeys\")");
        int sources =
            int(j.contains("keyPath")) + int(j.contains("keyPaths")) + int(j.contains("keyData"));
        if (sources != 1) bad(file, "signedBy needs exactly one of keyPath, keyPaths and keyData");
        if (j.contains("keyPath")) {
            r.key_paths.push_back(str_field(j, "keyPath", file, "signedBy"));
        } else if (j.contains("keyPaths")) {
            auto& a = j["keyPaths"];
            if (!a.is_array() || a.empty()) bad(file, "signedBy keyPaths must be a list of files");
            for (auto& p : a) {
                if (!p.is_string() || p.get<std::string>().empty())
                    bad(file, "signedBy keyPaths must be a list of files");
                r.key_paths.push_back(p.get<std::string>());
            }
        } else {
            r.key_data = base64_decode_or_refuse(str_field(j, "keyData", file, "signedBy"), file);
        }
        if (j.contains("signedIdentity")) r.identity = identity_of(j["signedIdentity"], file);
    } else if (type == "sigstoreSigned") {
        // checked for form here; refused when an image meets it (signature.hpp)
        only(j,
             {"type", "keyPath", "keyData", "keyPaths", "keyDatas", "fulcio", "rekorPublicKeyPath",
              "rekorPublicKeyData", "rekorPublicKeyPaths", "rekorPublicKeyDatas", "pki",
              "signedIdentity"},
             file, "requirement sigstoreSigned");
        r.type = T::sigstore_signed;
        int sources = 0;
        for (const char* k : {"keyPath", "keyPaths", "keyData", "keyDatas", "fulcio", "pki"})
            sources += int(j.contains(k));
        if (sources != 1)
            bad(file, "sigstoreSigned needs exactly one of keyPath, keyPaths, keyData, keyDatas, "
                      "fulcio and pki");
        // Fulcio certificates, PKI roots and Rekor bundles are not verified by this gantry: kept
        // by name and refused when an image meets the requirement, never accepted
        for (const char* k : {"fulcio", "pki", "rekorPublicKeyPath", "rekorPublicKeyData",
                              "rekorPublicKeyPaths", "rekorPublicKeyDatas"})
            if (j.contains(k) && r.unsupported.empty()) r.unsupported = k;
        auto list = [&](const char* key) {
            auto& a = j[key];
            if (!a.is_array() || a.empty())
                bad(file, std::string("sigstoreSigned ") + key + " must be a non-empty list");
            std::vector<std::string> out;
            for (auto& p : a) {
                if (!p.is_string() || p.get<std::string>().empty())
                    bad(file, std::string("sigstoreSigned ") + key + " must list strings");
                out.push_back(p.get<std::string>());
            }
            return out;
        };
        if (j.contains("keyPath"))
            r.key_paths.push_back(str_field(j, "keyPath", file, "sigstoreSigned"));
        if (j.contains("keyPaths")) r.key_paths = list("keyPaths");
        if (j.contains("keyData"))
            r.key_texts.push_back(
                base64_decode_or_refuse(str_field(j, "keyData", file, "sigstoreSigned"), file));
        if (j.contains("keyDatas"))
            for (auto& d : list("keyDatas"))
                r.key_texts.push_back(base64_decode_or_refuse(d, file));
        if (j.contains("signedIdentity")) r.identity = identity_of(j["signedIdentity"], file);
    } else {
        bad(file, "unknown policy requirement type \"" + type + "\"");
    }
    return r;
}

Requirements list_of(const json& j, const std::string& file, const std::string& where) {
    if (!j.is_array()) bad(file, where + " must be a list of requirements");
    if (j.empty())
        bad(file, where + " is an empty list (write [{\"type\": \"reject\"}] to refuse)");
    Requirements out;
    for (auto& r : j) out.push_back(requirement_of(r, file));
    return out;
}

void check_docker_scope(const std::string& scope, const std::string& file) {
    if (scope.empty()) return;
    if (scope.starts_with("*.")) {
        if (scope.find_first_of("/:@*", 2) != std::string::npos || scope.size() < 3)
            bad(file, "invalid scope \"" + scope + "\": a wildcard scope is \"*.DOMAIN\"");
        return;
    }
    if (scope.find('/') == std::string::npos) { // host[:port]
        check_prefix(scope, file, "scope");
        return;
    }
    check_named(scope, -1, file, "scope");
}

// containers/image's path scopes (dir, oci, sif transports): an absolute, clean path that is
// not "/" (the transport's "" is the catch-all)
void check_path_scope(const std::string& scope, const std::string& file) {
    if (scope.empty()) return;
    bool clean = scope.starts_with('/') && scope != "/" && !scope.ends_with('/') &&
                 scope.find("//") == std::string::npos && scope.find("/./") == std::string::npos &&
                 scope.find("/../") == std::string::npos && !scope.ends_with("/.") &&
                 !scope.ends_with("/..");
    if (!clean)
        bad(file, "invalid sif scope \"" + scope +
                      "\": write an absolute, clean path of a file or directory other than /");
}

// nlohmann keeps the last of duplicate members; containers/image refuses the file
void refuse_duplicates(std::string_view text, const std::string& file) {
    std::vector<std::set<std::string>> open;
    std::string dup;
    json::parser_callback_t cb = [&](int, json::parse_event_t ev, json& parsed) {
        if (ev == json::parse_event_t::object_start) open.emplace_back();
        if (ev == json::parse_event_t::object_end && !open.empty()) open.pop_back();
        if (ev == json::parse_event_t::key && !open.empty() &&
            !open.back().insert(parsed.get<std::string>()).second && dup.empty())
            dup = parsed.get<std::string>();
        return true;
    };
    json walked = json::parse(text, cb);
    (void)walked;
    if (!dup.empty()) bad(file, "field \"" + dup + "\" appears twice in one object");
}

} // namespace

std::string Requirement::name() const {
    switch (type) {
    case Type::insecure_accept_anything:
        return "insecureAcceptAnything";
    case Type::reject:
        return "reject";
    case Type::signed_by:
        return "signedBy";
    case Type::sigstore_signed:
        return "sigstoreSigned";
    }
    return "?";
}

Policy Policy::parse(std::string_view text, const std::string& file) {
    json doc = safe_json::parse(text, file);
    refuse_duplicates(text, file);
    if (!doc.is_object()) bad(file, "a policy is a JSON object");
    only(doc, {"default", "transports"}, file, "the policy");
    Policy p;
    p.file = file;
    p.digest = oci::Digest::of(text).str();
    if (!doc.contains("default")) bad(file, "\"default\" is missing (it is mandatory)");
    p.defaults = list_of(doc["default"], file, "\"default\"");
    if (!doc.contains("transports")) return p;
    auto& ts = doc["transports"];
    if (!ts.is_object()) bad(file, "\"transports\" must be an object");
    for (auto& [name, scopes] : ts.items()) {
        if (!transports().count(name)) bad(file, "unknown transport \"" + name + "\"");
        if (!scopes.is_object()) bad(file, "transport \"" + name + "\" must map scopes to lists");
        for (auto& [scope, reqs] : scopes.items()) {
            auto list = list_of(reqs, file, "scope \"" + scope + "\" of " + name);
            if (name == "sif") { // gantry's single-file images (.sqsh): file_signature.hpp
                check_path_scope(scope, file);
                p.sif[scope] = std::move(list);
                continue;
            }
            if (name != "docker") continue; // checked, never applied: gantry pulls over docker
            check_docker_scope(scope, file);
            p.docker[scope] = std::move(list);
        }
    }
    return p;
}

Policy Policy::load(const std::string& explicit_file) {
    Paths paths = Paths::current();
    stdfs::path f;
    std::error_code ec;
    if (!explicit_file.empty())
        f = explicit_file;
    else if (!paths.policy_env.empty())
        f = paths.policy_env;
    else if (!paths.user_config.empty() && stdfs::exists(paths.user_config / "policy.json", ec))
        f = paths.user_config / "policy.json";
    else
        f = paths.system_config / "policy.json";
    std::string text;
    try {
        text = fs::read_file(f, kMaxPolicyBytes);
    } catch (const Error& e) {
        if (e.code() != Errc::not_found) throw;
        throw Error(Errc::not_found, "no signature policy: " + f.string() + " does not exist",
                    "install the containers' common files (Debian and Ubuntu: apt-get install "
                    "golang-github-containers-common; Fedora: dnf install containers-common), or "
                    "give --signature-policy FILE");
    }
    return parse(text, f.string());
}

const Requirements& Policy::for_file(const std::string& abs_path, std::string& scope) const {
    std::string p = abs_path;
    while (p.size() > 1) {
        if (auto it = sif.find(p); it != sif.end()) {
            scope = "transports.sif[\"" + p + "\"]";
            return it->second;
        }
        p.resize(p.rfind('/'));
    }
    if (auto it = sif.find(""); it != sif.end()) {
        scope = "transports.sif[\"\"]";
        return it->second;
    }
    scope = "default";
    return defaults;
}

std::vector<std::string> docker_scopes(const oci::Reference& ref) {
    std::vector<std::string> out;
    std::string name = ref.repository();
    out.push_back(ref.digest.empty() ? name + ":" + ref.tag_or_latest() : name + "@" + ref.digest);
    for (;;) {
        out.push_back(name);
        auto slash = name.rfind('/');
        if (slash == std::string::npos) break;
        name.resize(slash);
    }
    if (auto colon = name.find(':'); colon != std::string::npos) name.resize(colon);
    for (;;) {
        auto dot = name.find('.');
        if (dot == std::string::npos) break;
        name = name.substr(dot + 1);
        out.push_back("*." + name);
    }
    return out;
}

const Requirements& Policy::for_image(const oci::Reference& logical, std::string& scope) const {
    for (auto& s : docker_scopes(logical))
        if (auto it = docker.find(s); it != docker.end()) {
            scope = "transports.docker[\"" + s + "\"]";
            return it->second;
        }
    if (auto it = docker.find(""); it != docker.end()) {
        scope = "transports.docker[\"\"]";
        return it->second;
    }
    scope = "default";
    return defaults;
}

} // namespace gantry::site
