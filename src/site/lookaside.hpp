// registries.d (containers-registries.d(5)): where GPG simple signatures of an image are kept
// ("lookaside" storage, old name "sigstore"). The directory is $HOME/.config/containers/
// registries.d if it exists, else /etc/containers/registries.d; its *.yaml files are merged
// (a scope may be configured once), `docker:` scopes matched most specific first (the same
// scopes as policy.json's), then `default-docker:`, else the default directory
// (/var/lib/containers/sigstore for root, ~/.local/share/containers/sigstore otherwise).
// Each setting comes from the most specific section that has it (containers/image's rule).
// Signature N of a manifest digest is BASE/REPO-PATH@sha256=HEX/signature-N, N = 1, 2, ...
// until one is missing. Refused, naming file and line: malformed YAML, unknown keys, a scope
// configured twice, a URL that is not file://, http:// or https://.
#pragma once

#include "oci/digest.hpp"
#include "oci/reference.hpp"

#include <string>
#include <string_view>

namespace gantry::site {

struct Lookaside {
    std::string base;       // "file:///path", "https://host/path", or "" (none configured)
    std::string origin;     // the file and scope that set it, for messages
    std::string write_base; // lookaside-staging, else lookaside, else the default: for signing
    std::string write_origin;
    bool sigstore_attachments = false; // use-sigstore-attachments
    std::string attachments_origin;    // "" when not configured (false)
};

// The signature storage settings for PHYSICAL (the location that serves or receives the image).
Lookaside lookaside_for(const oci::Reference& physical);

// Parses one registries.d file into its docker scopes (for the fuzz harness and load).
// Throws Error(invalid) naming FILE and the line.
void check_registries_d(std::string_view text, const std::string& file);

// BASE/REPO-PATH@sha256=HEX/signature-N
std::string signature_url(const std::string& base, const oci::Reference& physical,
                          const oci::Digest& digest, unsigned n);

} // namespace gantry::site
