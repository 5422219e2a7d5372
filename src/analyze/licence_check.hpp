// analyze/licence_check: what `gantry push` does with the GPU licence findings of the image it
// is about to push (docs/analyze.md): the mode for the destination registry (refuse | warn | off)
// from --licence-check, else the config file's `licence_check` key, else warn; and the one-line
// summary it prints. NGC-CONTAINER-LICENSE counts only when the registry is public (the config's
// `licence_check.public` list, else a built-in list of public registries).
#pragma once

#include "analyze/model.hpp"
#include "store/store.hpp"

#include <optional>
#include <string>
#include <vector>

namespace gantry::analyze {

enum class LicenceCheck { off, warn, refuse };
const char* to_string(LicenceCheck m);

// "refuse" | "warn" | "off"; Error(usage) naming `where` (the flag or the config key) otherwise.
LicenceCheck parse_licence_check(const std::string& value, const std::string& where);

// The site's settings, from the config file's `licence_check` key:
//   licence_check: refuse                 # one mode for every registry, or
//   licence_check:
//     default: warn                       # registries not named below (default: warn)
//     registries: {docker.io: refuse, registry.internal: off}
//     public: [docker.io, ghcr.io]        # where NGC-CONTAINER-LICENSE counts
struct LicencePolicy {
    LicenceCheck fallback = LicenceCheck::warn;
    std::vector<std::pair<std::string, LicenceCheck>> registries;
    std::vector<std::string> public_registries = {
        "docker.io", "ghcr.io", "quay.io", "public.ecr.aws", "registry.gitlab.com", "nvcr.io"};
};
// Parses the YAML text of gantry's config file (`file` names it in errors: Error(invalid) for a
// `licence_check` that is not as above, naming the key and line). Other top-level keys are
// other modules' and are not looked at.
LicencePolicy parse_licence_policy(const std::string& yaml_text, const std::string& file);

// The policy of gantry's config file (config_file::path()); the defaults when there is none.
// Error(io) naming the file when it cannot be read.
LicencePolicy load_licence_policy();

// The mode for `registry` ("docker.io", "localhost:5000"): the flag when given, else the policy.
LicenceCheck licence_mode(const LicencePolicy& p, const std::string& registry,
                          const std::optional<std::string>& flag);

struct PushLicenceSummary {
    std::vector<const Finding*> findings; // the licence findings that count for this registry
    std::string line; // "" when the image carries no GPU vendor file nor licence text
};
PushLicenceSummary push_licence_summary(const Report& r, const LicencePolicy& p,
                                        const std::string& registry, const std::string& image);

// The check a registry push runs first (`gantry push`, the Engine API's push; analyze/
// push_check.cpp): SRC's report against the mode for DEST's registry (SRC's own name's when
// DEST is ""), FLAG the --licence-check value if given. Returns the summary line to show ("":
// nothing to say); Error(policy) when the mode is refuse and a finding counts.
std::string check_push_licences(const store::Store& store, const std::string& src,
                                const std::string& dest, const std::optional<std::string>& flag);

} // namespace gantry::analyze
