// Detached signatures of single-file images (a .sqsh saved by `save --format squashfs`, or an
// object of a shared image store, DIR/sqsh/<hex>.sqsh), checked before the file is mounted when
// policy.json asks for one, as Apptainer checks a SIF file before it runs it.
//
// The signature is FILE.sig beside FILE: a GPG simple signature (containers-signature(5), the
// format and keys of policy.json's signedBy) whose payload's critical.image.docker-manifest-digest
// is the sha256 of the whole file; critical.identity.docker-reference holds the file's name
// (written for people; not compared: the digest binds the exact bytes). The requirements are
// policy.json's for the "sif" transport (containers/image's transport for single-file images):
// the scope of the file's absolute path, then of each parent directory, then the transport's
// "", then "default". insecureAcceptAnything needs no signature (and no hashing), reject
// refuses, signedBy verifies FILE.sig with its keys, sigstoreSigned is refused (no sigstore
// signatures for files). With no policy.json at all, nothing is checked.
//
// A SIF file (named .sif, or with the SIF magic) carries its signatures inside (Apptainer's
// `sign`, gantry sign FILE.sif --key): signedBy then asks for a verified OpenPGP signature, in
// the current form (not legacy), by one of its keys, of the object group that holds the
// partition a run mounts (an OCI-SIF: of each object group); FILE.sig is not read.
#pragma once

#include "site/signature.hpp"

#include <optional>
#include <string>

namespace gantry::site {

// FILE.sig
std::string file_signature_path(const std::string& file);

// Signs FILE with the GPG secret key KEY_ID and writes FILE.sig (replacing one there). Returns
// the signature's path.
std::string sign_file(const std::string& file, const std::string& key_id);

// Applies policy.json (POLICY_FILE, or the default search) to FILE before it is mounted. Throws
// Error(policy) naming the file, the policy, the scope and the reason; returns the verdict, or
// nullopt when no policy.json exists.
std::optional<Verdict> verify_file(const std::string& file, const std::string& policy_file = {});

} // namespace gantry::site
