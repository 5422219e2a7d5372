// Evaluating policy.json's requirements for one image: GPG "simple signing" signatures
// (containers-signature(5)) verified with GPGME (loaded by dlopen, keys imported into a throwaway
// GnuPG home), their JSON payload checked strictly (critical.type, the manifest digest, the
// identity per signedIdentity), and the verdict. The caller fetches the signatures
// (lookaside.hpp says where); nothing here touches the network or the store.
#pragma once

#include "oci/digest.hpp"
#include "oci/reference.hpp"
#include "site/policy.hpp"

#include <functional>
#include <string>
#include <vector>

namespace gantry::site {

inline constexpr std::size_t kMaxSignatureBytes = 4u << 20; // as containers/image

// The signed payload of SIG if it is a valid OpenPGP signature made by one of the keys in
// KEYRINGS (binary or armored key blocks). Throws Error(policy) saying why not.
std::string gpg_verify(const std::string& sig, const std::vector<std::string>& keyrings);

// Checks a verified simple-signing PAYLOAD: strict JSON, type "atomic container signature",
// docker-manifest-digest == DIGEST, docker-reference accepted by ID for LOGICAL.
// Throws Error(policy) saying which check failed.
void check_payload(const std::string& payload, const oci::Digest& digest, const SignedIdentity& id,
                   const oci::Reference& logical);

// Whether SIGNED (the signature's docker-reference, as written) is accepted by ID for the image
// the user asked for, LOGICAL (containers/image's policy_reference_match.go).
bool identity_matches(const SignedIdentity& id, const oci::Reference& logical,
                      const std::string& signed_ref);

// Applies POLICY to LOGICAL whose top manifest is DIGEST. SIGNATURES is called at most once,
// only when a requirement needs them. Throws Error(policy) naming the file, the scope, the
// requirement and the reason; returns the scope that accepted the image.
std::string evaluate(const Policy& policy, const oci::Reference& logical, const oci::Digest& digest,
                     const std::function<std::vector<std::string>()>& signatures);

} // namespace gantry::site
