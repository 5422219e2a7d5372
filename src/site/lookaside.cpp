#include "site/lookaside.hpp"

#include "site/paths.hpp"
#include "site/policy.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/yaml.hpp"

#include <algorithm>
#include <filesystem>
#include <map>
#include <optional>

namespace gantry::site {

namespace stdfs = std::filesystem;

namespace {

struct Section {
    std::string lookaside;
    std::string staging; // lookaside-staging (or sigstore-staging)
    std::optional<bool> attachments;
    std::string origin;
};

struct RegistriesD {
    std::optional<Section> default_docker;
    std::map<std::string, Section> docker;
};

[[noreturn]] void bad_d(const std::string& file, int line, const std::string& what) {
    throw Error(Errc::invalid, file + ":" + std::to_string(line) + ": " + what,
                "fix the file (containers-registries.d(5) describes it)");
}

Section section_of(const yaml::Node& n, const std::string& file, const std::string& where) {
    Section s;
    s.origin = file + " (" + where + ")";
    if (n.is_null()) return s;
    if (!n.is_map()) bad_d(file, n.line, where + " must be a mapping");
    for (auto& [k, v] : n.entries) {
        const std::string& key = k.value;
        if (key == "lookaside" || key == "sigstore" || key == "lookaside-staging" ||
            key == "sigstore-staging") {
            if (!v.is_scalar() || v.value.empty()) bad_d(file, v.line, key + " must be a URL");
            const std::string& url = v.value;
            if (!url.starts_with("file://") && !url.starts_with("http://") &&
                !url.starts_with("https://"))
                bad_d(file, v.line,
                      key + " \"" + url + "\" is not a file://, http:// or https:// URL");
            std::string& slot = key == "lookaside" || key == "sigstore" ? s.lookaside : s.staging;
            if (!slot.empty()) bad_d(file, k.line, key + " is set twice in " + where);
            slot = url;
        } else if (key == "use-sigstore-attachments") {
            if (!v.is_scalar() || (v.value != "true" && v.value != "false"))
                bad_d(file, v.line, key + " must be true or false");
            s.attachments = v.value == "true";
        } else {
            bad_d(file, k.line, "unknown key \"" + key + "\" in " + where);
        }
    }
    return s;
}

void parse_into(RegistriesD& d, std::string_view text, const std::string& file) {
    yaml::Node doc;
    try {
        doc = yaml::parse(text);
    } catch (const yaml::SyntaxError& e) {
        bad_d(file, e.line, "malformed YAML: " + e.message);
    }
    if (doc.is_null()) return;
    if (!doc.is_map()) bad_d(file, doc.line, "the file must be a mapping");
    for (auto& [k, v] : doc.entries) {
        if (k.value == "default-docker") {
            if (d.default_docker) bad_d(file, k.line, "default-docker is configured twice");
            d.default_docker = section_of(v, file, "default-docker");
        } else if (k.value == "docker") {
            if (v.is_null()) continue;
            if (!v.is_map()) bad_d(file, v.line, "docker must map scopes to sections");
            for (auto& [scope, sec] : v.entries) {
                if (d.docker.count(scope.value))
                    bad_d(file, scope.line, "scope \"" + scope.value + "\" is configured twice");
                d.docker[scope.value] = section_of(sec, file, "docker \"" + scope.value + "\"");
            }
        } else {
            bad_d(file, k.line, "unknown key \"" + k.value + "\"");
        }
    }
}

RegistriesD load_registries_d() {
    Paths p = Paths::current();
    std::error_code ec;
    stdfs::path dir = p.system_config / "registries.d";
    if (!p.user_config.empty() && stdfs::is_directory(p.user_config / "registries.d", ec))
        dir = p.user_config / "registries.d";
    RegistriesD d;
    if (!stdfs::is_directory(dir, ec)) return d;
    std::vector<stdfs::path> files;
    for (auto& e : stdfs::directory_iterator(dir, ec))
        if (e.path().extension() == ".yaml" && !e.is_directory()) files.push_back(e.path());
    std::sort(files.begin(), files.end());
    for (auto& f : files) parse_into(d, fs::read_file(f, 4u << 20), f.string());
    return d;
}

} // namespace

void check_registries_d(std::string_view text, const std::string& file) {
    RegistriesD d;
    parse_into(d, text, file);
}

Lookaside lookaside_for(const oci::Reference& physical) {
    RegistriesD d = load_registries_d();
    // containers/image's registries_d.go: each setting from the most specific section that has
    // it (the full name, then the namespaces, then default-docker)
    std::vector<const Section*> sections;
    for (auto& scope : docker_scopes(physical))
        if (auto it = d.docker.find(scope); it != d.docker.end()) sections.push_back(&it->second);
    if (d.default_docker) sections.push_back(&*d.default_docker);
    Lookaside out;
    for (const Section* s : sections)
        if (out.base.empty() && !s->lookaside.empty()) {
            out.base = s->lookaside;
            out.origin = s->origin;
        }
    for (const Section* s : sections)
        if (out.write_base.empty() && (!s->staging.empty() || !s->lookaside.empty())) {
            out.write_base = s->staging.empty() ? s->lookaside : s->staging;
            out.write_origin = s->origin;
        }
    for (const Section* s : sections)
        if (s->attachments) {
            out.sigstore_attachments = *s->attachments;
            out.attachments_origin = s->origin;
            break;
        }
    Paths p = Paths::current();
    if (!p.default_lookaside.empty()) {
        if (out.base.empty()) {
            out.base = "file://" + p.default_lookaside.string();
            out.origin = "the built-in default";
        }
        if (out.write_base.empty()) {
            out.write_base = "file://" + p.default_lookaside.string();
            out.write_origin = "the built-in default";
        }
    }
    return out;
}

std::string signature_url(const std::string& base, const oci::Reference& physical,
                          const oci::Digest& digest, unsigned n) {
    std::string b = base;
    while (b.ends_with('/')) b.pop_back();
    std::string hex = digest.str().substr(digest.str().find(':') + 1);
    return b + "/" + physical.path + "@sha256=" + hex + "/signature-" + std::to_string(n);
}

} // namespace gantry::site
