#include "site/resolve.hpp"

#include "util/error.hpp"

namespace gantry::site {

bool is_short_name(std::string_view text) {
    auto slash = text.find('/');
    if (slash == std::string_view::npos) return true;
    std::string_view first = text.substr(0, slash);
    if (first == "localhost" || first.find_first_of(".:") != std::string_view::npos) return false;
    for (char c : first)
        if (c >= 'A' && c <= 'Z') return false; // gantry's (docker's) reading: a host
    return true;
}

namespace {

// "name" and the ":tag" / "@digest" that followed it in TEXT
std::pair<std::string, std::string> split_suffix(std::string_view text) {
    auto at = text.find('@');
    std::string_view name = text.substr(0, at);
    std::string suffix(at == std::string_view::npos ? "" : text.substr(at));
    auto slash = name.rfind('/');
    auto colon = name.rfind(':');
    if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
        suffix = std::string(name.substr(colon)) + suffix;
        name = name.substr(0, colon);
    }
    return {std::string(name), suffix};
}

oci::Reference rewrite(const oci::Reference& ref, const std::string& prefix,
                       const std::string& location) {
    std::string s = ref.str();
    long n = prefix_match(ref.repository(), prefix);
    if (n < 0 || location.empty()) return ref;
    return oci::Reference::parse(location + s.substr(static_cast<std::size_t>(n)));
}

} // namespace

Candidates resolve_name(const RegistriesConf& conf, std::string_view text, bool tty) {
    Candidates c;
    if (!is_short_name(text) || conf.files.empty()) {
        c.refs.push_back(oci::Reference::parse(text));
        c.how = conf.files.empty() && is_short_name(text) ? "docker.io (no registries.conf)" : "";
        return c;
    }
    oci::Reference::parse(text); // refuse what is no reference at all, with its message
    auto [name, suffix] = split_suffix(text);
    if (auto it = conf.aliases.find(name); it != conf.aliases.end()) {
        c.refs.push_back(oci::Reference::parse(it->second + suffix));
        c.how = "alias \"" + name + "\" in " + conf.alias_origin.at(name);
        return c;
    }
    if (conf.search.empty())
        throw Error(Errc::not_found,
                    "short name \"" + std::string(text) +
                        "\" did not resolve to an alias and no unqualified-search-registries "
                        "are defined in " +
                        conf.sources(),
                    "use a fully qualified name (HOST/REPO), or add an [aliases] entry or "
                    "unqualified-search-registries to registries.conf");
    if (conf.search.size() > 1 && conf.mode == ShortNameMode::enforcing) {
        std::string list;
        for (auto& s : conf.search) list += (list.empty() ? "" : ", ") + s;
        throw Error(Errc::usage,
                    "short name \"" + std::string(text) + "\": short-name resolution enforced " +
                        (tty ? "and gantry does not prompt" : "but cannot prompt without a TTY") +
                        " (short-name-mode = \"enforcing\" in " + conf.mode_origin +
                        "; candidates: " + list + ")",
                    "use a fully qualified name, or add an [aliases] entry for \"" + name + "\"");
    }
    for (auto& reg : conf.search)
        c.refs.push_back(oci::Reference::parse(reg + "/" + std::string(text)));
    c.how = "unqualified-search-registries of " + conf.sources();
    return c;
}

std::vector<PullSource> pull_sources(const RegistriesConf& conf, const oci::Reference& logical) {
    const RegistryTable* t = conf.find(logical.repository());
    if (!t) return {PullSource{logical, false, false}};
    std::vector<PullSource> out;
    bool by_digest = !logical.digest.empty();
    if (!t->mirror_by_digest_only || by_digest)
        for (auto& m : t->mirrors) {
            if (m.pull_from == PullFromMirror::digest_only && !by_digest) continue;
            if (m.pull_from == PullFromMirror::tag_only && by_digest) continue;
            out.push_back(PullSource{rewrite(logical, t->prefix, m.location), m.insecure, true});
        }
    out.push_back(PullSource{rewrite(logical, t->prefix, t->location), t->insecure, false});
    return out;
}

void check_not_blocked(const RegistriesConf& conf, const oci::Reference& ref) {
    const RegistryTable* t = conf.find(ref.repository());
    if (t && t->blocked)
        throw Error(Errc::policy,
                    "registry " + ref.domain + " is blocked (prefix \"" + t->prefix + "\" in " +
                        t->origin + ")",
                    "use another registry or a mirror, or ask the administrator to lift "
                    "blocked = true");
}

bool insecure(const RegistriesConf& conf, const std::string& name) {
    const RegistryTable* t = conf.find(name);
    return t && t->insecure;
}

} // namespace gantry::site
