// registry/artifacts: OCI artifacts in a registry (image-spec 1.1's artifact guidance,
// distribution-spec 1.1): blobs put and fetched whole, manifests put by digest, and the
// referrers of a manifest, the artifacts whose `subject` names it. A registry that serves the
// referrers API (GET /v2/NAME/referrers/DIGEST) indexes an artifact pushed with a subject and says
// so with an OCI-Subject header; for one that does not (a 404 there, no header), the spec's tag
// fallback: the tag `sha256-HEX` of the subject holds an image index of its referrers, which the
// pusher reads, extends and puts back. Used by registry/oras (SIF files) and the kernel caches'
// artifacts (engine/kernel_cache_artifacts.hpp).
#pragma once

#include "oci/digest.hpp"
#include "oci/reference.hpp"
#include "registry/client.hpp"
#include "util/json.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace gantry::registry {

inline constexpr const char* kOciManifestType = "application/vnd.oci.image.manifest.v1+json";
inline constexpr const char* kOciIndexType = "application/vnd.oci.image.index.v1+json";
// image-spec 1.1's empty descriptor: the config of an artifact that needs none
inline constexpr const char* kOciEmptyType = "application/vnd.oci.empty.v1+json";
inline constexpr const char* kOciEmptyJson = "{}";

// A client for REF's registry under the site's registries.conf (a blocked registry refused, an
// insecure one allowed plain http), as pull and push make theirs.
std::unique_ptr<Client> client_for(const oci::Reference& ref, const ClientOptions& opt);

// Uploads a blob of REPO, unless the registry has it: FD's bytes [0, SIZE) or, with FD < 0, TEXT.
void upload_blob(Client& c, const std::string& repo, const oci::Digest& digest, int fd,
                 std::uint64_t size, const std::string& text);

// Streams blob DIGEST of REPO (SIZE bytes) to FD, hashing it on the way: Error(invalid) naming
// WHAT when the registry sends other bytes (more, fewer or another digest).
void download_blob(Client& c, const std::string& repo, const oci::Digest& digest,
                   std::uint64_t size, int fd, const std::string& what);

// A manifest's descriptor as the registry has it (GET: its media type, digest and size; the body
// is hashed, never trusted for its digest). Error(not_found) naming REPO and TARGET when absent.
struct ManifestRef {
    std::string media_type;
    oci::Digest digest;
    std::uint64_t size = 0;
    std::string body;
};
ManifestRef get_manifest(Client& c, const std::string& repo, const std::string& target,
                         const std::string& what);

// The result of push_referrer: the artifact's manifest digest, and how its subject learnt of it.
struct ReferrerPush {
    oci::Digest manifest;
    bool indexed_by_registry = false; // OCI-Subject answered: the referrers API has it
};

// Puts MANIFEST (an image manifest whose `subject` is SUBJECT) under its digest in REPO; where
// the registry does not answer with OCI-Subject, the tag fallback's index of SUBJECT's referrers
// gets its descriptor (artifactType and annotations copied from the manifest, as the spec says).
// Two pushers updating one fallback index at once can lose one entry (the spec's known race).
ReferrerPush push_referrer(Client& c, const std::string& repo, const std::string& manifest,
                           const oci::Digest& subject);

// The descriptors (JSON objects: mediaType, digest, size, artifactType, annotations) of SUBJECT's
// referrers in REPO whose artifactType is ARTIFACT_TYPE: from the referrers API, or from the tag
// fallback where the registry has no API (none: an empty list). Hostile answers are refused:
// Error(invalid) naming the registry.
std::vector<nlohmann::json> list_referrers(Client& c, const std::string& repo,
                                           const oci::Digest& subject,
                                           const std::string& artifact_type);

// The descriptors of BODY, an image index (the referrers API's answer or the fallback tag's),
// whose artifactType is ARTIFACT_TYPE: Error(invalid) naming WHAT for a document that is not an
// index, lists more than 10000 entries or holds a descriptor without a valid digest or size.
std::vector<nlohmann::json> referrers_in_index(const std::string& body,
                                               const std::string& artifact_type,
                                               const std::string& what);

// The tag the fallback keeps SUBJECT's referrers under: "sha256-HEX".
std::string referrers_tag(const oci::Digest& subject);

} // namespace gantry::registry
