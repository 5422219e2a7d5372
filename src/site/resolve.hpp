// What registries.conf makes of an image name a user typed: the fully qualified names a short
// name stands for (aliases, unqualified-search-registries, short-name-mode), and for one fully
// qualified ("logical") name the locations a pull tries: its mirrors in file order, then the
// primary location, each rewritten by its table's prefix -> location (containers/image's
// shortnames.Resolve and PullSourcesFromReference). The image keeps its logical name whichever
// location served it.
#pragma once

#include "oci/reference.hpp"
#include "site/registries_conf.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace gantry::site {

// True when TEXT names no registry: its first path element has no '.' or ':' and is not
// "localhost" ("busybox", "nvidia/cuda:12"), as containers/image decides.
bool is_short_name(std::string_view text);

struct Candidates {
    std::vector<oci::Reference> refs; // tried in order; the first that pulls wins
    std::string how;                  // "alias in FILE", "unqualified-search-registries of FILE"
};

// The fully qualified names TEXT may mean. A qualified name is itself. A short name: its alias
// (the cache first), else one candidate per search registry. With several candidates and no
// terminal, short-name-mode enforcing is an error, as podman's; gantry never prompts, so it is
// also an error on a terminal. With no registries.conf at all, docker's rule (docker.io) holds.
// Throws Error(invalid/not_found) naming the file to edit.
Candidates resolve_name(const RegistriesConf& conf, std::string_view text, bool tty);

struct PullSource {
    oci::Reference ref;    // the physical reference to fetch
    bool insecure = false; // the mirror's or the table's insecure
    bool mirror = false;
};

// Where a pull of LOGICAL goes: mirrors allowed for it (mirror-by-digest-only, pull-from-mirror),
// then the primary location. No table: LOGICAL itself.
std::vector<PullSource> pull_sources(const RegistriesConf& conf, const oci::Reference& logical);

// Throws Error(policy) when the table matching REF (a physical reference) is blocked.
void check_not_blocked(const RegistriesConf& conf, const oci::Reference& ref);

// Whether the table matching NAME ("host[:port]" or a repository) sets insecure = true.
bool insecure(const RegistriesConf& conf, const std::string& name);

} // namespace gantry::site
