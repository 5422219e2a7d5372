// registry/oras: a SIF file as an OCI artifact in a registry, as Apptainer's ORAS client writes
// and reads one (internal/pkg/client/oras: image.go, config.go, layer.go, oras.go): a manifest
// (application/vnd.oci.image.manifest.v1+json) whose config is the empty JSON object `{}` of
// media type application/vnd.sylabs.sif.config.v1+json and whose one layer is the SIF file
// whole, application/vnd.sylabs.sif.layer.v1.sif, annotated with its file name
// (org.opencontainers.image.title). `apptainer push x.sif oras://REG/REPO:TAG` and `pull
// oras://...`; gantry's `gantry apptainer push|pull`. The site's registries.conf (blocked,
// insecure) and policy.json (the manifest's signatures) apply as to a pull of an image; the
// credentials are the client's (auth.json, --creds).
#pragma once

#include "oci/digest.hpp"
#include "registry/client.hpp"

#include <cstdint>
#include <string>

namespace gantry::registry {

inline constexpr const char* kSifLayerMediaType = "application/vnd.sylabs.sif.layer.v1.sif";
// Singularity before 3.7 wrote this one, its typo included; Apptainer still pulls it
inline constexpr const char* kSifLayerMediaTypeProto = "appliciation/vnd.sylabs.sif.layer.tar";
inline constexpr const char* kSifConfigMediaType = "application/vnd.sylabs.sif.config.v1+json";

struct OrasResult {
    std::string ref;         // normalised
    oci::Digest manifest;    // the artifact's manifest
    std::uint64_t bytes = 0; // the SIF's
};

// Pushes the SIF FILE to REF (a reference, without oras://): its blob (skipped when the
// registry has it), the empty config, the manifest under REF's tag. Error(invalid) when FILE is
// not a SIF; registry errors as push's.
OrasResult oras_push(const std::string& file, const std::string& ref, const ClientOptions& opt);

// Pulls the SIF of REF to OUT: the manifest (one layer of the SIF media type, else refused
// naming it), checked against policy.json (POLICY_FILE, "" the default) as an image's, then the
// blob streamed to a temporary file beside OUT, its digest and size checked, renamed over OUT.
OrasResult oras_pull(const std::string& ref, const std::string& out, const ClientOptions& opt,
                     const std::string& policy_file = {});

} // namespace gantry::registry
