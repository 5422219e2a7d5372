#include "site/registries_conf.hpp"

#include "site/paths.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/text.hpp"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <set>

namespace gantry::site {
// toml++ 3.3's internal assertions fail on some malformed input ("[[\n[[r", found by
// fuzz_site_policy); with NDEBUG they become __builtin_assume, undefined behaviour. Here they
// are checks that throw, whatever NDEBUG says, and the file is refused as malformed.
[[noreturn]] void toml_check_failed();
} // namespace gantry::site

// toml++ compiled into this file only (header-only mode: no shared library to load at start)
#define TOML_HEADER_ONLY 1
#define TOML_ENABLE_FORMATTERS 0
#pragma push_macro("NDEBUG")
#undef NDEBUG
#define TOML_ASSERT(expr) ((expr) ? static_cast<void>(0) : ::gantry::site::toml_check_failed())
#include <toml++/toml.h>
#pragma pop_macro("NDEBUG")

namespace gantry::site {

namespace stdfs = std::filesystem;

struct TomlCheckFailed {};

void toml_check_failed() {
    throw TomlCheckFailed{};
}

namespace {

constexpr std::size_t kMaxConfBytes = 4u << 20;

std::string at(const std::string& file, const toml::source_region& s) {
    return file + ":" + std::to_string(s.begin.line);
}

[[noreturn]] void refuse(const std::string& where, const std::string& what,
                         const std::string& hint = {}) {
    throw Error(Errc::invalid, where + ": " + what,
                hint.empty() ? "fix the file (containers-registries.conf(5) describes it)" : hint);
}

std::string string_of(const toml::node& n, const std::string& file, const std::string& key) {
    if (!n.is_string()) refuse(at(file, n.source()), "\"" + key + "\" must be a string");
    return std::string(*n.value<std::string_view>());
}

bool bool_of(const toml::node& n, const std::string& file, const std::string& key) {
    if (!n.is_boolean()) refuse(at(file, n.source()), "\"" + key + "\" must be true or false");
    return *n.value<bool>();
}

// containers/image parseLocation: trailing slashes dropped, URI schemes refused
std::string location_of(const toml::node& n, const std::string& file, const std::string& key) {
    std::string s = string_of(n, file, key);
    while (!s.empty() && s.back() == '/') s.pop_back();
    if (s.starts_with("http://") || s.starts_with("https://"))
        refuse(at(file, n.source()),
               "invalid " + key + " \"" + s + "\": URI schemes are not supported",
               "write HOST[:PORT][/NAMESPACE] without http:// or https://; insecure = true "
               "allows plain http");
    return s;
}

PullFromMirror pull_from_of(const toml::node& n, const std::string& file) {
    std::string v = string_of(n, file, "pull-from-mirror");
    if (v == "all") return PullFromMirror::all;
    if (v == "digest-only") return PullFromMirror::digest_only;
    if (v == "tag-only") return PullFromMirror::tag_only;
    refuse(at(file, n.source()), "unsupported pull-from-mirror value \"" + v + "\"",
           "use \"all\", \"digest-only\" or \"tag-only\"");
}

void check_wildcard(const std::string& prefix, const std::string& where) {
    if (prefix.find('*') == std::string::npos) return;
    if (!prefix.starts_with("*.") || prefix.find('*', 1) != std::string::npos ||
        prefix.find_first_of("/:@") != std::string::npos || prefix.size() < 3)
        refuse(where,
               "invalid prefix \"" + prefix + "\": a wildcard is only allowed as \"*.DOMAIN\"",
               "write prefix = \"*.example.com\" (no port, namespace or other '*')");
}

// A short name for [aliases]: no domain, no tag or digest
bool short_name(std::string_view s) {
    if (s.empty() || s.find_first_of(":@") != std::string_view::npos) return false;
    auto slash = s.find('/');
    if (slash == std::string_view::npos) return true;
    std::string_view first = s.substr(0, slash);
    return first != "localhost" && first.find('.') == std::string_view::npos;
}

RegistryTable table_of(const toml::table& t, const std::string& file) {
    RegistryTable r;
    r.origin = file;
    const toml::node* prefix_node = nullptr;
    std::vector<std::string> pull_from_at; // mirrors that set pull-from-mirror
    for (auto&& [k, v] : t) {              // keys in sorted order, not the file's
        std::string key(k.str());
        if (key == "prefix") {
            r.prefix = location_of(v, file, key);
            prefix_node = &v;
        } else if (key == "location") {
            r.location = location_of(v, file, key);
        } else if (key == "insecure") {
            r.insecure = bool_of(v, file, key);
        } else if (key == "blocked") {
            r.blocked = bool_of(v, file, key);
        } else if (key == "mirror-by-digest-only") {
            r.mirror_by_digest_only = bool_of(v, file, key);
        } else if (key == "pull-from-mirror") {
            refuse(at(file, v.source()),
                   "pull-from-mirror must not be set for a non-mirror registry",
                   "move it into the [[registry.mirror]] table it is meant for");
        } else if (key == "mirror") {
            auto* arr = v.as_array();
            if (!arr || !arr->is_array_of_tables())
                refuse(at(file, v.source()), "\"mirror\" must be an array of tables",
                       "write each mirror as [[registry.mirror]] with location = \"...\"");
            for (auto& m : *arr) {
                Mirror mir;
                bool pull_from_set = false;
                for (auto&& [mk, mv] : *m.as_table()) {
                    std::string mkey(mk.str());
                    if (mkey == "location") {
                        mir.location = location_of(mv, file, mkey);
                    } else if (mkey == "insecure") {
                        mir.insecure = bool_of(mv, file, mkey);
                    } else if (mkey == "pull-from-mirror") {
                        mir.pull_from = pull_from_of(mv, file);
                        pull_from_set = true;
                    } else {
                        refuse(at(file, mk.source()),
                               "unknown key \"" + mkey + "\" in [[registry.mirror]]",
                               "gantry reads location, insecure and pull-from-mirror there");
                    }
                }
                if (mir.location.empty())
                    refuse(at(file, m.source()), "a [[registry.mirror]] has no location");
                if (pull_from_set) pull_from_at.push_back(at(file, m.source()));
                r.mirrors.push_back(std::move(mir));
            }
        } else {
            refuse(at(file, k.source()), "unknown key \"" + key + "\" in [[registry]]",
                   "gantry reads prefix, location, insecure, blocked, mirror-by-digest-only "
                   "and [[registry.mirror]]");
        }
    }
    std::string where = at(file, t.source());
    if (r.mirror_by_digest_only && !pull_from_at.empty())
        refuse(pull_from_at.front(),
               "cannot set mirror-by-digest-only for the registry and pull-from-mirror for a "
               "mirror at the same time",
               "keep one of the two");
    if (r.prefix.empty()) {
        if (r.location.empty()) refuse(where, "a [[registry]] has neither location nor prefix");
        r.prefix = r.location;
    } else if (!r.prefix.starts_with("*.") && r.location.empty()) {
        refuse(where,
               "location is unset and prefix \"" + r.prefix + "\" is not of the form *.example.com",
               "add location = \"...\"");
    }
    check_wildcard(r.prefix, prefix_node ? at(file, prefix_node->source()) : where);
    if (r.location.find('*') != std::string::npos)
        refuse(where, "location \"" + r.location + "\" may not contain '*'");
    return r;
}

} // namespace

long prefix_match(std::string_view ref, std::string_view prefix) {
    if (prefix.starts_with("*.")) {
        std::string_view dot = prefix.substr(1); // ".example.com"
        auto index = ref.find(dot);
        if (index == std::string_view::npos) return -1;
        if (ref.substr(0, index).find('/') != std::string_view::npos) return -1;
        index += dot.size();
        if (index == ref.size()) return static_cast<long>(index);
        char c = ref[index];
        return c == ':' || c == '/' || c == '@' ? static_cast<long>(index) : -1;
    }
    if (prefix.empty() || ref.size() < prefix.size() || !ref.starts_with(prefix)) return -1;
    if (ref.size() == prefix.size()) return static_cast<long>(prefix.size());
    char c = ref[prefix.size()];
    return c == ':' || c == '/' || c == '@' ? static_cast<long>(prefix.size()) : -1;
}

namespace {

// toml++ 3.3 (bookworm's) reaches TOML_UNREACHABLE (undefined behaviour) when it meets U+FE76 to
// U+FEFE (Arabic presentation forms) where whitespace may be: its whitespace table ends early
// (found by fuzz_site_policy; fuzz/regressions/site_policy/). A registries.conf needs none of
// them: refused before the parser sees the text.
void refuse_unsafe_characters(std::string_view text, const std::string& file) {
    std::size_t line = 1;
    for (std::size_t i = 0; i < text.size(); ++i) {
        auto b = static_cast<unsigned char>(text[i]);
        if (b == '\n') ++line;
        if (b != 0xEF || i + 2 >= text.size()) continue;
        unsigned cp = ((b & 0x0Fu) << 12) |
                      ((static_cast<unsigned char>(text[i + 1]) & 0x3Fu) << 6) |
                      (static_cast<unsigned char>(text[i + 2]) & 0x3Fu);
        if (cp >= 0xFE76 && cp <= 0xFEFE) {
            char code[8];
            std::snprintf(code, sizeof code, "%04X", cp);
            refuse(file + ":" + std::to_string(line),
                   std::string("the character U+") + code +
                       " is refused (the TOML parser mishandles it)",
                   "registries.conf needs no Arabic presentation forms: remove it");
        }
    }
}

} // namespace

void RegistriesConf::merge(std::string_view text, const std::string& file, bool alias_cache) {
    refuse_unsafe_characters(text, file);
    toml::table doc;
    try {
        doc = toml::parse(text, file);
    } catch (const toml::parse_error& e) {
        refuse(at(file, e.source()), "malformed TOML: " + std::string(e.description()));
    } catch (const TomlCheckFailed&) {
        refuse(file, "malformed TOML (the parser's consistency check failed)");
    }
    files.push_back(file);
    std::map<std::string, RegistryTable> tables;
    std::set<std::string> aliases_seen;
    for (auto&& [k, v] : doc) {
        std::string key(k.str());
        std::string where = at(file, k.source());
        if (alias_cache && key != "aliases")
            refuse(where, "unknown key \"" + key + "\" in the short-name alias cache",
                   "it may hold only [aliases]; remove the file to reset the cache");
        if (key == "registries" || key == "registries.search")
            refuse(where,
                   "the v1 format ([registries.search], [registries.insecure], "
                   "[registries.block]) is not read by gantry",
                   "write v2: unqualified-search-registries = [...] and one [[registry]] "
                   "table with location, insecure or blocked per registry");
        if (key == "unqualified-search-registries") {
            auto* arr = v.as_array();
            if (!arr) refuse(where, "unqualified-search-registries must be a list of strings");
            search.clear();
            for (auto& e : *arr) search.push_back(location_of(e, file, key));
            search_set = true;
        } else if (key == "short-name-mode") {
            std::string m = string_of(v, file, key);
            if (m == "enforcing")
                mode = ShortNameMode::enforcing;
            else if (m == "permissive")
                mode = ShortNameMode::permissive;
            else if (m == "disabled")
                mode = ShortNameMode::disabled;
            else
                refuse(where, "invalid short-name-mode \"" + m + "\"",
                       "use \"enforcing\", \"permissive\" or \"disabled\"");
            mode_origin = file;
        } else if (key == "credential-helpers") {
            auto* arr = v.as_array();
            bool is_default = arr && arr->size() == 1 && (*arr)[0].is_string() &&
                              *(*arr)[0].value<std::string_view>() == "containers-auth.json";
            if (!is_default)
                refuse(where,
                       "credential-helpers other than [\"containers-auth.json\"] are not "
                       "supported by gantry",
                       "remove the key; gantry reads the auth files podman writes (gantry login)");
        } else if (key == "registry") {
            auto* arr = v.as_array();
            if (!arr || !arr->is_array_of_tables())
                refuse(where, "\"registry\" must be an array of tables: [[registry]]");
            for (auto& t : *arr) {
                auto r = table_of(*t.as_table(), file);
                if (tables.count(r.prefix))
                    refuse(at(file, t.source()), "prefix \"" + r.prefix + "\" is defined twice",
                           "merge the two [[registry]] tables into one");
                tables[r.prefix] = std::move(r);
            }
        } else if (key == "aliases") {
            auto* t = v.as_table();
            if (!t) refuse(where, "[aliases] must be a table of \"name\" = \"host/repo\"");
            for (auto&& [ak, av] : *t) {
                std::string name(ak.str());
                std::string aw = at(file, ak.source());
                if (!short_name(name))
                    refuse(aw, "alias \"" + name +
                                   "\" must be a short name (no registry, tag "
                                   "or digest)");
                if (!aliases_seen.insert(name).second)
                    refuse(aw, "alias \"" + name + "\" is defined twice");
                std::string value = string_of(av, file, name);
                if (value.empty()) { // erases an earlier file's alias
                    aliases.erase(name);
                    alias_origin.erase(name);
                    continue;
                }
                auto slash = value.find('/');
                auto last = value.rfind('/');
                if (short_name(value) || slash == std::string::npos ||
                    value.find('@') != std::string::npos ||
                    value.find(':', last) != std::string::npos)
                    refuse(aw,
                           "alias \"" + name + "\" = \"" + value +
                               "\" must name a fully qualified repository without tag or "
                               "digest",
                           "write it as \"host/namespace/repo\"");
                aliases[name] = value;
                alias_origin[name] = file;
            }
        } else {
            refuse(where, "unknown key \"" + key + "\"",
                   "gantry reads unqualified-search-registries, short-name-mode, [[registry]], "
                   "[aliases] and the default credential-helpers");
        }
    }
    for (auto& entry : tables) { // a later file's table replaces the one of its prefix
        const std::string& prefix = entry.first;
        RegistryTable& t = entry.second;
        auto it = std::find_if(registries.begin(), registries.end(),
                               [&](const RegistryTable& r) { return r.prefix == prefix; });
        if (it != registries.end())
            *it = std::move(t);
        else
            registries.push_back(std::move(t));
    }
}

const RegistryTable* RegistriesConf::find(std::string_view name) const {
    const RegistryTable* best = nullptr;
    long best_len = -1;
    for (auto& r : registries) {
        long n = prefix_match(name, r.prefix);
        if (n > best_len) {
            best = &r;
            best_len = n;
        }
    }
    return best;
}

std::string RegistriesConf::sources() const {
    std::string out;
    for (auto& f : files) out += (out.empty() ? "" : " or ") + f;
    return out.empty() ? "registries.conf (none found)" : out;
}

namespace {

void read_into(RegistriesConf& c, const stdfs::path& p, bool alias_cache = false) {
    std::string text;
    try {
        text = fs::read_file(p, kMaxConfBytes);
    } catch (const Error& e) {
        if (e.code() == Errc::not_found) return;
        throw;
    }
    c.merge(text, p.string(), alias_cache);
}

void read_dropins(RegistriesConf& c, const stdfs::path& dir) {
    std::error_code ec;
    if (!stdfs::is_directory(dir, ec)) return;
    std::vector<stdfs::path> confs;
    for (auto& e : stdfs::directory_iterator(dir, ec))
        if (e.path().extension() == ".conf" && !e.is_directory()) confs.push_back(e.path());
    std::sort(confs.begin(), confs.end());
    for (auto& p : confs) read_into(c, p);
}

} // namespace

RegistriesConf RegistriesConf::load() {
    RegistriesConf c;
    Paths p = Paths::current();
    stdfs::path main;
    bool user_main = false;
    std::error_code ec;
    if (!p.registries_conf_env.empty()) {
        main = p.registries_conf_env;
        if (!stdfs::exists(main, ec))
            throw Error(Errc::not_found,
                        "CONTAINERS_REGISTRIES_CONF names " + main.string() +
                            ", which does not exist",
                        "point it at a registries.conf, or unset it");
    } else if (!p.user_config.empty() && stdfs::exists(p.user_config / "registries.conf", ec)) {
        main = p.user_config / "registries.conf";
        user_main = true;
    } else {
        main = p.system_config / "registries.conf";
    }
    read_into(c, main);
    if (!user_main) read_dropins(c, p.system_config / "registries.conf.d");
    if (!p.user_config.empty()) read_dropins(c, p.user_config / "registries.conf.d");
    // The alias cache is read only next to a configuration: it records answers to prompts.
    if (!c.files.empty() && !p.alias_cache.empty()) {
        RegistriesConf cache;
        read_into(cache, p.alias_cache, true);
        for (auto& [k, v] : cache.aliases) {
            c.aliases[k] = v;
            c.alias_origin[k] = cache.files.front();
        }
        if (!cache.files.empty()) c.files.push_back(cache.files.front());
    }
    return c;
}

const RegistriesConf& RegistriesConf::system() {
    static const RegistriesConf conf = load();
    return conf;
}

} // namespace gantry::site
