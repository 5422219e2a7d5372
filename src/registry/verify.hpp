// The site's signature policy (policy.json, site/policy.hpp) applied to one pull: the
// requirements for the logical name, the signatures of the manifest digest fetched from the
// lookaside storage registries.d names for the physical location (file://, http(s)://) or its
// sigstore attachment in the registry, and the verdict, before anything of the image is stored.
#pragma once

#include "oci/digest.hpp"
#include "oci/reference.hpp"
#include "registry/client.hpp"
#include "site/signature.hpp"
#include "store/store.hpp"

#include <nlohmann/json.hpp>
#include <string>

namespace gantry::registry {

// Throws Error(policy) naming the requirement that failed for LOGICAL; returns what accepted
// the image whose top manifest is DIGEST, served by PHYSICAL through CLIENT (which fetches its
// sigstore attachment when registries.d asks for one).
// POLICY_FILE: --signature-policy, or "" for the default search.
site::Verdict verify_policy(Client& client, const oci::Reference& logical,
                            const oci::Reference& physical, const oci::Digest& digest,
                            const std::string& policy_file);

// What accepted an image, kept with it: ROOT/verdicts/<manifest hex>.json maps each reference
// pulled as that manifest to its verdict (policy file and digest, scope, requirement types,
// whether a signature was verified, when). `images --json` shows it; a stale entry (the
// reference now names another manifest) is never shown.
void record_verdict(store::Store& store, const std::string& ref, const oci::Digest& manifest,
                    const site::Verdict& verdict);
// The recorded verdict of REF as MANIFEST, or null.
nlohmann::json recorded_verdict(const store::Store& store, const std::string& ref,
                                const oci::Digest& manifest);

} // namespace gantry::registry
