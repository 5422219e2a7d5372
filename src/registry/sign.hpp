// Signing what gantry pushes (push --sign-by): a GPG simple signature (containers-signature(5))
// of the pushed manifest, for the reference it was pushed as, written where registries.d says a
// signature of that location is written (lookaside-staging, else lookaside, else the built-in
// default directory; containers/image's rule), as signature-1 under REPO@sha256=HEX/, later
// signature-N of that digest removed, as containers/image does. Only file:// locations can be
// written (containers/image writes no other either): another scheme is refused before anything
// is pushed. Sigstore signing (--sign-by-sigstore-private-key) writes to the registry instead.
#pragma once

#include "oci/digest.hpp"
#include "oci/reference.hpp"
#include "registry/client.hpp"

#include <filesystem>
#include <string>

namespace gantry::registry {

struct SignTarget {
    std::filesystem::path dir; // LOOKASIDE/REPO-PATH@sha256=HEX is below it
    std::string origin;        // the registries.d file and scope that named it
};

// Where signatures of DEST go, and that KEY_ID can sign; checked before the push. Throws
// Error(unsupported) for a location that is not file://, Error(invalid) for a key that cannot
// sign.
SignTarget prepare_signing(const oci::Reference& dest, const std::string& key_id);

// Signs DIGEST for DEST (the pushed reference) with KEY_ID and stores the signature. Returns the
// file written.
std::filesystem::path sign_pushed(const SignTarget& target, const oci::Reference& dest,
                                  const oci::Digest& digest, const std::string& key_id);

// Signs DIGEST for DEST with cosign's encrypted private key KEY_FILE (PASSPHRASE) and adds the
// signature to DEST's sigstore attachment (tag sha256-HEX.sig in the same repository, an OCI
// image manifest whose layers are the payloads; the signatures already there are kept, as
// containers/image keeps them), over a client made as push makes it (OPT, registries.conf's
// insecure). The payload is containers/image's: the pushed
// reference as identity. Returns the attachment's reference.
std::string sign_pushed_sigstore(const ClientOptions& opt, const oci::Reference& dest,
                                 const oci::Digest& digest, const std::string& key_file,
                                 const std::string& passphrase);

// The key file's text, read before the push (Error naming it when it cannot be read).
std::string read_sigstore_key(const std::string& key_file);

} // namespace gantry::registry
