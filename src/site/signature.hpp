// Evaluating policy.json's requirements for one image: GPG "simple signing" signatures
// (containers-signature(5)) verified with GPGME (loaded by dlopen, keys imported into a throwaway
// GnuPG home), their JSON payload checked strictly (critical.type, the manifest digest, the
// identity per signedIdentity), and the verdict. The caller fetches the signatures
// (lookaside.hpp says where); nothing here touches the network or the store.
#pragma once

#include "oci/digest.hpp"
#include "oci/reference.hpp"
#include "site/policy.hpp"
#include "site/sigstore.hpp"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace gantry::site {

inline constexpr std::size_t kMaxSignatureBytes = 4u << 20; // as containers/image

// The signed payload of SIG if it is a valid OpenPGP signature made by one of the keys in
// KEYRINGS (binary or armored key blocks). Throws Error(policy) saying why not.
std::string gpg_verify(const std::string& sig, const std::vector<std::string>& keyrings);

// The same check for any OpenPGP signed or clear-signed MESSAGE against the keys in KEYRINGS
// (KEYS_WHAT names them when none is usable: "the --key files"; UNTRUSTED ends the refusal of a
// signature by another key: "which the --key files do not hold"), returning the signed text, the
// signer's primary-key fingerprint (upper-case hex; a signing subkey's primary) and first user ID.
// With MODERN_HASH, a signature over a hash other than SHA-224/256/384/512 is refused (as sif's
// verifier refuses SHA-1). Throws Error(policy) saying why.
struct GpgSigned {
    std::string text, fingerprint, user_id;
};
GpgSigned gpg_verify_message(const std::string& message, const std::vector<std::string>& keyrings,
                             const std::string& keys_what, const std::string& untrusted,
                             bool modern_hash);

// Signing (push --sign-by): a simple-signing payload for DIGEST and IDENTITY (containers/image's
// form), and PAYLOAD made an OpenPGP signed message by the secret key KEY_ID (fingerprint, key
// id, as podman and skopeo take it: gpgme_get_key) of the user's GnuPG home ($GNUPGHOME, else
// ~/.gnupg). Throws Error(invalid) naming the key when there is no such secret key or it cannot
// sign.
std::string simple_signing_payload(const oci::Digest& digest, const std::string& identity,
                                   std::int64_t timestamp);
std::string gpg_sign(const std::string& payload, const std::string& key_id);
void check_signing_key(const std::string& key_id); // before anything is pushed

// TEXT clear-signed (OpenPGP, SHA-256) for a SIF signature (sif/sign.hpp): with the first secret
// key that can sign in SECRET_KEY (a key file's bytes, binary or armored, without a passphrase;
// imported into a throwaway GnuPG home whose gpg-agent is stopped after; ORIGIN names the file
// in Error(invalid)), or with KEY_ID from the user's GnuPG home. Returns the message, the
// signer's primary-key fingerprint and first user ID.
GpgSigned gpg_clearsign_with_key(const std::string& text, const std::string& secret_key,
                                 const std::string& origin);
GpgSigned gpg_clearsign(const std::string& text, const std::string& key_id);

// Checks a verified simple-signing PAYLOAD: strict JSON, type "atomic container signature",
// docker-manifest-digest == DIGEST, docker-reference accepted by ID for LOGICAL.
// Throws Error(policy) saying which check failed.
void check_payload(const std::string& payload, const oci::Digest& digest, const SignedIdentity& id,
                   const oci::Reference& logical);

// The payload check shared by both signature formats: simple signing ("atomic container
// signature", "optional" may be absent) and sigstore ("cosign container image signature",
// "optional" present, null or an object); a file's signature is simple signing whose identity is
// not compared (file_signature.hpp).
enum class PayloadKind { simple_signing, sigstore, file };
void check_signed_payload(const std::string& payload, PayloadKind kind, const oci::Digest& digest,
                          const SignedIdentity& id, const oci::Reference& logical);

// Whether SIGNED (the signature's docker-reference, as written) is accepted by ID for the image
// the user asked for, LOGICAL (containers/image's policy_reference_match.go).
bool identity_matches(const SignedIdentity& id, const oci::Reference& logical,
                      const std::string& signed_ref);

// Where the signatures of the image come from, each called at most once and only when a
// requirement needs them: GPG simple signatures (lookaside) and sigstore attachments.
struct SignatureSources {
    std::function<std::vector<std::string>()> simple;
    std::function<std::vector<SigstoreSignature>()> sigstore;
};

// What accepted an image: recorded with it (images --json) and shown by `gantry info`.
struct Verdict {
    std::string policy_file;
    std::string policy_digest;             // sha256 of the file's bytes
    std::string scope;                     // "default", "transports.docker[\"host/repo\"]"
    std::vector<std::string> requirements; // types, in the file's order
};

// Applies POLICY to LOGICAL whose top manifest is DIGEST. Throws Error(policy) naming the file,
// the scope, the requirement and the reason.
Verdict evaluate(const Policy& policy, const oci::Reference& logical, const oci::Digest& digest,
                 const SignatureSources& sources);

} // namespace gantry::site
