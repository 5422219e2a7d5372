// Sigstore signatures (policy.json's sigstoreSigned with public keys): the attachment a registry
// keeps beside an image (tag sha256-<hex>.sig in the same repository, an OCI image manifest whose
// layers are the signed payloads), the payload's strict JSON (critical.type "cosign container
// image signature", the manifest digest, the identity per signedIdentity), and the signature
// over the payload's bytes (base64 in the layer annotation dev.cosignproject.cosign/signature:
// ECDSA or RSA PKCS#1 v1.5 over SHA-256, or Ed25519), verified against PEM public keys with
// GnuTLS, loaded by dlopen when a policy asks for it. Specification: sigstore/cosign
// specs/SIGNATURE_SPEC.md; containers/image internal/signature/sigstore.go. Fulcio certificates
// and Rekor bundles are not verified here; policy.json fields asking for them are refused.
// Signing with cosign's encrypted private keys: below.
#pragma once

#include "oci/digest.hpp"
#include "oci/reference.hpp"
#include "site/policy.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace gantry::site {

inline constexpr const char* kSigstorePayloadType =
    "application/vnd.dev.cosign.simplesigning.v1+json";
inline constexpr const char* kSigstoreSignatureAnnotation = "dev.cosignproject.cosign/signature";
inline constexpr unsigned kMaxSigstoreLayers = 64;

// One layer of an attachment manifest, as the registry described it (untrusted).
struct SigstoreLayer {
    std::string media_type;
    oci::Digest digest;
    std::uint64_t size = 0;
    std::string signature; // the annotation's base64 text, "" when absent
};

// One signature: the payload's bytes (fetched, digest checked) and its layer's description.
struct SigstoreSignature {
    std::string media_type;
    std::string payload;
    std::string signature; // base64
};

// The tag of DIGEST's attachment: "sha256-<hex>.sig".
std::string sigstore_attachment_tag(const oci::Digest& digest);

// The layers of an attachment manifest (an OCI image manifest). Throws Error(policy) for a
// manifest that is not one, or that lists more than kMaxSigstoreLayers layers.
std::vector<SigstoreLayer> parse_sigstore_attachment(std::string_view manifest);

// Throws Error(invalid) naming ORIGIN when PEM is not a public key GnuTLS reads (PEM "PUBLIC
// KEY": ECDSA, RSA, Ed25519).
void check_sigstore_key(const std::string& pem, const std::string& origin);

// Whether SIG (base64) is a valid signature of PAYLOAD by one of KEYS (PEM). Throws
// Error(policy) saying why not.
void sigstore_verify(const std::string& payload, const std::string& sig,
                     const std::vector<std::string>& keys);

// Checks a verified sigstore PAYLOAD: strict JSON with "critical" and "optional" (null or an
// object), critical.type "cosign container image signature", the digest equal to DIGEST, the
// identity accepted by ID for LOGICAL. Throws Error(policy) saying which check failed.
void check_sigstore_payload(const std::string& payload, const oci::Digest& digest,
                            const SignedIdentity& id, const oci::Reference& logical);

// Signing (push --sign-by-sigstore-private-key): cosign's encrypted private key (PEM "ENCRYPTED
// SIGSTORE PRIVATE KEY" or "ENCRYPTED COSIGN PRIVATE KEY" around base64 of go-securesystemslib's
// envelope {"kdf": scrypt N/r/p/salt, "cipher": nacl/secretbox nonce, "ciphertext"}, opened with
// libsodium, loaded by dlopen) holding a PKCS#8 key; PAYLOAD signed with it (ECDSA over SHA-256
// for cosign's P-256 keys, as cosign signs), base64. ORIGIN names the key file in errors
// (Error(invalid): not such a key, wrong passphrase, unsupported parameters).
std::string decrypt_cosign_envelope(std::string_view envelope, const std::string& password,
                                    const std::string& origin);
std::string sigstore_sign(const std::string& key_file_text, const std::string& password,
                          const std::string& payload, const std::string& origin);

// Raw public-key signatures with PEM keys, as sigstore's signers and verifiers make and check them
// for DSSE envelopes in SIF files (sif/dsse.hpp): ECDSA (P-256, P-384) ASN.1 over SHA-256, RSA
// PKCS #1 v1.5 over SHA-256, pure Ed25519. A key's ID is go-securesystemslib's SHA256KeyID:
// OpenSSH's "SHA256:" fingerprint of the public key.
struct PemSignature {
    std::string key_id; // may be empty
    std::string sig;    // raw bytes
};
// The key ID of the PEM public key PEM ("" when it is not one).
std::string pem_key_id(const std::string& pem);
// The key ID of the key in KEYS (PEM public keys) that made one of SIGS over DATA; a signature
// naming another key ID is not tried against a key. Throws Error(policy) saying why none did.
std::string pem_verify(const std::string& data, const std::vector<PemSignature>& sigs,
                       const std::vector<std::string>& keys);
// DATA signed with the unencrypted PEM private key PEM (ORIGIN names it in Error(invalid)).
PemSignature pem_sign(const std::string& pem, const std::string& data, const std::string& origin);

// A payload for DIGEST and IDENTITY in containers/image's form (for signing and tests).
std::string sigstore_payload(const oci::Digest& digest, const std::string& identity);

} // namespace gantry::site
