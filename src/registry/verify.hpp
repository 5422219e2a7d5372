// The site's signature policy (policy.json, site/policy.hpp) applied to one pull: the
// requirements for the logical name, the signatures of the manifest digest fetched from the
// lookaside storage registries.d names for the physical location (file://, http(s)://), and the
// verdict, before anything of the image is stored.
#pragma once

#include "oci/digest.hpp"
#include "oci/reference.hpp"

#include <string>

namespace gantry::registry {

// Throws Error(policy) naming the requirement that failed for LOGICAL; returns when the policy
// accepts the image whose top manifest is DIGEST, served by PHYSICAL.
// POLICY_FILE: --signature-policy, or "" for the default search.
void verify_policy(const oci::Reference& logical, const oci::Reference& physical,
                   const oci::Digest& digest, const std::string& policy_file);

} // namespace gantry::registry
