// policy.json, the containers ecosystem's signature policy (containers-policy.json(5)), read as
// containers/image reads it: the file (--signature-policy FILE, else $CONTAINERS_POLICY_JSON,
// else $HOME/.config/containers/policy.json if it exists, else /etc/containers/policy.json), the
// requirements per transport and scope, and the lookup of the most specific scope for an image
// of the "docker" transport. signature.hpp evaluates the requirements.
//
// Strict, as containers/image: an unknown or duplicate field, an unknown transport or
// requirement type, a non-canonical scope, a requirement list that is empty, or a signedBy
// without exactly one of keyPath/keyPaths/keyData refuses the whole file, naming it (and, for
// syntax errors, the line). No file found is an error too, never "accept".
#pragma once

#include "oci/reference.hpp"

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace gantry::site {

struct SignedIdentity {
    enum class Kind {
        match_repo_digest_or_exact, // the default
        match_repository,
        match_exact,
        exact_reference,  // value: dockerReference
        exact_repository, // value: dockerRepository
        remap_identity,   // prefix -> signed_prefix, then match_repo_digest_or_exact
    };
    Kind kind = Kind::match_repo_digest_or_exact;
    std::string value;
    std::string prefix, signed_prefix;
};

struct Requirement {
    enum class Type { insecure_accept_anything, reject, signed_by, sigstore_signed };
    Type type = Type::reject;
    std::vector<std::string> key_paths; // signedBy keyPath / keyPaths (read when evaluated)
    std::string key_data;               // signedBy keyData, decoded
    std::vector<std::string> key_texts; // sigstoreSigned keyData / keyDatas, decoded PEM
    std::string unsupported; // a sigstoreSigned field this gantry does not verify ("fulcio"...)
    SignedIdentity identity;
    std::string name() const; // "signedBy", ... as written in the file
};

using Requirements = std::vector<Requirement>;

struct Policy {
    std::string file;
    std::string digest; // "sha256:..." of the file's bytes, recorded with what it accepted
    Requirements defaults;
    std::map<std::string, Requirements> docker; // scope ("" included) -> requirements
    std::map<std::string, Requirements> sif;    // path scope ("" included): .sqsh files

    // Parses TEXT, the contents of FILE. Throws Error(invalid) naming FILE.
    static Policy parse(std::string_view text, const std::string& file);
    // The file named by EXPLICIT_FILE or found as the header says, parsed.
    static Policy load(const std::string& explicit_file);

    // The requirements for LOGICAL (docker transport): the most specific scope, then the
    // transport's "", then default. SCOPE is set to what matched ("default" for the default).
    const Requirements& for_image(const oci::Reference& logical, std::string& scope) const;
    // The requirements for the single-file image ABS_PATH (a .sqsh): the "sif" transport's
    // scopes (the file, then its parent directories), then its "", then default.
    const Requirements& for_file(const std::string& abs_path, std::string& scope) const;
};

// containers/image's PolicyConfigurationIdentity and PolicyConfigurationNamespaces for a docker
// reference: "host/repo:tag" (or "@digest"), "host/repo", "host/ns", "host", "*.domain"...
std::vector<std::string> docker_scopes(const oci::Reference& ref);

} // namespace gantry::site
