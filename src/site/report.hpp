// What the site's files say, for `gantry info`: which registries.conf (with its drop-ins and the
// short-name alias cache) and policy.json are in force, and for one image name what they make
// of it: the fully qualified names it stands for, the locations a pull tries for each (mirrors in
// order, the primary last, insecure or blocked), the policy.json requirements that apply (scope,
// types, keys, signedIdentity) and where its signatures are read (lookaside, sigstore
// attachments).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace gantry::site {

// The report as JSON; REFERENCE "" for the files only. POLICY_FILE: --signature-policy or "".
// A malformed file throws its Error(invalid); a missing policy.json is reported, not thrown.
nlohmann::json report(const std::string& reference, const std::string& policy_file);

// The report as lines of text, for people.
std::string render_report(const nlohmann::json& report);

} // namespace gantry::site
