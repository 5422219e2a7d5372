// sif/signature: the signatures Apptainer and SingularityCE write into a SIF (`apptainer sign`:
// github.com/sylabs/sif v2's pkg/integrity) checked against the file as its verifier checks them.
// A signature is a data object (Signature) linked to an object group: an OpenPGP clear-signed
// message whose text is JSON metadata, {"version":1, "header":{"digest":"sha256:HEX"},
// "objects":[{"relativeId":N, "descriptorDigest":..., "objectDigest":...}]}, with a digest of the
// header's fixed fields, of each object's descriptor (all fields but the ID, group, offsets and
// modification time; the ID relative to the group's least) and of each object's data. The
// signature's descriptor names the hash and the signer's primary-key fingerprint.
//
// The OpenPGP part (the message, the keys) is not here: the caller passes a function that checks
// the clear-signed message against its keys and returns the signed text and the signer
// (site::gpg_verify_message). Everything else is: which signatures cover which group, that the
// signer is the one the descriptor names, that the metadata lists exactly the group's objects
// and that every digest matches. The signature objects and the metadata are hostile input:
// bounded sizes, strict JSON (nothing unknown, nothing missing, no duplicates), and each
// refusal a sentence naming the object (fuzz/fuzz_sif_signature.cpp fuzzes this parser).
//
// DSSE envelopes (sif 2.9's form for PEM keys, sif/dsse.hpp) carry the same metadata, checked
// the same way; the envelope's signatures are checked by the caller's CheckEnvelope.
//
// Legacy signatures (Singularity before 3.6: the clear-signed text is "SIFHASH:\n" and the hex
// digest, by the descriptor's hash, of the data of the group's objects in table order, or of the
// one object it is linked to) cover no header nor descriptor: checked only when asked
// (Checks::legacy, as sif's OptVerifyLegacy and `apptainer verify --legacy-insecure`), else
// refused with a sentence naming the form.
#pragma once

#include "sif/container.hpp"
#include "sif/dsse.hpp"

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace gantry::sif {

// A signature object larger than this is refused unread (Apptainer's are 1-3 KiB).
inline constexpr std::uint64_t kMaxSignatureBytes = 1u << 20;

// The signed text and who signed it, from the OpenPGP check.
struct SignedText {
    std::string text;
    std::string fingerprint; // the signer's primary key, 40 upper-case hex digits
    std::string user_id;     // its first user ID ("Name (comment) <email>"), may be empty
};
// Checks a clear-signed MESSAGE against the caller's keys; throws Error saying why it does not
// verify (not OpenPGP, another key, a bad signature, a weak hash).
using CheckMessage = std::function<SignedText(const std::string& message)>;
// Checks a DSSE envelope's SIGNATURES over PAE (its pre-authentication encoding) against the
// caller's keys; returns the ID of the key that verified, or throws Error(policy) saying why not.
using CheckEnvelope =
    std::function<std::string(const std::string& pae, const std::vector<DsseSignature>& sigs)>;
// What verify() checks with: either may be empty (a signature of that form then fails, saying
// that no key of its kind was given).
struct Checks {
    CheckMessage openpgp;
    CheckEnvelope dsse;
    bool legacy = false; // check legacy signatures rather than refuse them
};

// The signature descriptor's own fields (its extra bytes): the hash ("sha256", ...) and the
// signer's fingerprint (upper-case hex; empty when the descriptor names none).
struct SignatureInfo {
    std::string hash;
    std::string fingerprint;
};
SignatureInfo signature_info(std::string_view extra);

// The metadata a current signature signs, parsed strictly. Digests keep their algorithm name
// ("sha256", "sha384", "sha512", "sha224", "sha512_224", "sha512_256") and raw bytes.
struct Digest {
    std::string algorithm;
    std::string value;
};
struct ObjectDigests {
    std::uint32_t relative_id = 0;
    Digest descriptor, data;
};
struct SignedMetadata {
    Digest header;
    std::vector<ObjectDigests> objects;
};
// Throws Error(policy) naming WHAT and the defect.
SignedMetadata parse_metadata(std::string_view text, const std::string& what);

// Whether a clear-signed MESSAGE's text is a legacy signature ("SIFHASH:\n" + a hex digest).
bool is_legacy_message(std::string_view message);

// The digest of BYTES with a metadata ALGORITHM (one of the names above).
std::string digest_bytes(const std::string& algorithm, std::string_view bytes);

// The digest of object O's data (read by READ in chunks) with a metadata ALGORITHM.
std::string digest_object(const ReadAt& read, const Object& o, const std::string& algorithm);

// The fields of a descriptor that a current signature covers (the reference's
// GetIntegrityReader), from its 585 bytes, with its ID made relative to the group's least.
std::string descriptor_integrity_bytes(std::string_view descriptor, std::uint32_t relative_id);
// The header's: launch script, magic, version and ID (of its first 64 bytes).
std::string header_integrity_bytes(std::string_view header);

// The outcome for one signature object.
struct SignatureResult {
    std::uint32_t id = 0;    // the signature object
    std::uint32_t group = 0; // the object group it is linked to (0: linked to an object)
    std::uint32_t linked_object = 0;
    SignatureInfo info;
    std::string form;           // "OpenPGP", "DSSE", "legacy OpenPGP" (once read)
    SignedText signer;          // when the check passed (DSSE: fingerprint is the key ID)
    std::vector<Object> covers; // the group's objects, in table order
    bool verified = false;
    std::string error; // why not, a sentence naming the object
};
struct Report {
    std::vector<SignatureResult> signatures;
    std::vector<std::string> problems; // beyond single signatures: an unsigned group, ...
    bool ok() const;
};

// The signature objects of C, with their group and descriptor fields, nothing checked (gantry
// verify without --key lists them).
std::vector<SignatureResult> list_signatures(const Container& c);

// Checks every signature of C (file read by READ, named WHAT) with CHECK, and that every object
// group is signed. Refusals (Error(policy), Error(invalid)) are recorded in the report, not
// thrown; others (read errors, CHECK's usage errors) are thrown.
Report verify(const Container& c, const ReadAt& read, const Checks& checks,
              const std::string& what);
Report verify(const Container& c, const ReadAt& read, const CheckMessage& check,
              const std::string& what);

// Whether REP holds a verified signature of object group GROUP in a current form (OpenPGP or
// DSSE, not legacy): what policy.json's signedBy asks of a SIF's primary partition.
bool group_verified(const Report& rep, std::uint32_t group);

} // namespace gantry::sif
