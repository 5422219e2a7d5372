// registries.conf (v2), the containers ecosystem's file of registry rules, read as podman reads
// it (containers-registries.conf(5), containers-registries.conf.d(5)): where it is found, the
// drop-ins merged in order, `[[registry]]` tables matched by longest prefix, short-name search
// and aliases. This header owns the model and the reading; resolve.hpp turns it into the
// locations a pull tries.
//
// Files, as podman 4.3 finds them: $CONTAINERS_REGISTRIES_CONF, else
// $HOME/.config/containers/registries.conf if it exists, else /etc/containers/registries.conf;
// then the drop-ins (*.conf, lexical order) of /etc/containers/registries.conf.d/ and of
// $HOME/.config/containers/registries.conf.d/ (only the latter when the user's own main file was
// used). Later files replace scalar settings and the table of the same prefix; aliases merge,
// "" erases one. The short-name alias cache ($HOME/.cache/containers/short-name-aliases.conf, or
// /var/cache/containers/... for root) wins over every file's aliases.
//
// Refused, with the file and line: malformed TOML, a key this reader does not know or honour
// (v1 tables, credential-helpers other than the default, ...), a value of the wrong type, a
// location with a URI scheme, a wildcard prefix that is not "*.domain", mirror-by-digest-only
// together with a per-mirror pull-from-mirror, the same prefix twice in one file.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace gantry::site {

enum class PullFromMirror { all, digest_only, tag_only };
enum class ShortNameMode { permissive, enforcing, disabled };

struct Mirror {
    std::string location;
    bool insecure = false;
    PullFromMirror pull_from = PullFromMirror::all;
};

struct RegistryTable {
    std::string prefix;   // as written ("*.example.com", "example.com/ns"); location when unset
    std::string location; // "" only for a wildcard prefix: settings apply, nothing is rewritten
    bool insecure = false;
    bool blocked = false;
    bool mirror_by_digest_only = false;
    std::vector<Mirror> mirrors;
    std::string origin; // "FILE" that defined it
};

struct RegistriesConf {
    std::vector<RegistryTable> registries;
    std::vector<std::string> search; // unqualified-search-registries, in order
    bool search_set = false;
    std::map<std::string, std::string> aliases;      // short name -> "host/ns/repo"
    std::map<std::string, std::string> alias_origin; // short name -> file
    ShortNameMode mode = ShortNameMode::permissive;
    std::string mode_origin;        // "" when unset (permissive)
    std::vector<std::string> files; // read, in order (cache file included)

    // The process's configuration (read once). Throws Error(invalid) for a bad file.
    static const RegistriesConf& system();
    // Reads the files podman would: see the header comment. HOME and the environment as given.
    static RegistriesConf load();

    // Merges one file's text over what is here (FILE names it in errors). A drop-in must be v2;
    // `alias_cache` files may hold only [aliases].
    void merge(std::string_view text, const std::string& file, bool alias_cache = false);

    // The table whose prefix matches NAME ("host/ns/repo", with or without ":tag"/"@digest")
    // longest, or nullptr (containers/image's FindRegistry).
    const RegistryTable* find(std::string_view name) const;

    // "FILE or FILE2 ...": where the rules come from, for messages.
    std::string sources() const;
};

// Length of PREFIX's match at the start of REF (containers/image's refMatchingPrefix, wildcards
// included), or -1.
long prefix_match(std::string_view ref, std::string_view prefix);

} // namespace gantry::site
