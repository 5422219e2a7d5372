// sif/dsse: the DSSE envelopes (Dead Simple Signing Envelope, secure-systems-lab/dsse v1) that
// SingularityCE and Apptainer write into a SIF when signing with a PEM key (`sign --key`,
// github.com/sylabs/sif 2.9+ pkg/integrity/dsse.go): the signature object's data is the
// envelope's JSON, {"payloadType":"application/vnd.sylabs.sif-metadata+json","payload":BASE64,
// "signatures":[{"keyid":ID,"sig":BASE64}]} and a newline, whose payload is the same image
// metadata the OpenPGP form clear-signs (sif/signature.hpp), and whose signatures are over
// PAE(payloadType, payload) (the spec's pre-authentication encoding). The descriptor names the
// hash (SHA-256) and no fingerprint. The crypto is not here (site::pem_verify, site::pem_sign).
//
// The envelope is hostile input: bounded, strict JSON (the three fields, each signature's
// "keyid" and "sig", nothing else), base64 in the standard or URL alphabet (the spec allows
// both), at most kMaxDsseSignatures signatures (fuzz/fuzz_sif_signature.cpp fuzzes it).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace gantry::sif {

inline constexpr const char* kDssePayloadType = "application/vnd.sylabs.sif-metadata+json";
inline constexpr std::size_t kMaxDsseSignatures = 16;

struct DsseSignature {
    std::string key_id; // may be empty
    std::string sig;    // raw bytes
};
struct Envelope {
    std::string payload_type;
    std::string payload; // decoded
    std::vector<DsseSignature> signatures;
};

// Whether a signature object's DATA is a JSON object (an envelope) rather than OpenPGP armor.
bool looks_like_envelope(std::string_view data);

// Throws Error(policy) naming WHAT and the defect.
Envelope parse_envelope(std::string_view data, const std::string& what);

// DSSE's pre-authentication encoding: "DSSEv1 LEN(type) type LEN(body) body".
std::string pae(std::string_view type, std::string_view body);

// The envelope's bytes as sif writes them (json.Encoder: the fields in this order, a newline).
std::string encode_envelope(std::string_view payload, const std::vector<DsseSignature>& sigs);

} // namespace gantry::sif
