// sif/oci_sif: an OCI-SIF, the SIF layout SingularityCE 4 writes for OCI images: an OCI image
// index as the OCI.RootIndex object, and the image's blobs (manifest, config, layers) as
// OCI.Blob objects, each named by its digest. SingularityCE runs single-layer OCI-SIFs whose
// layer is a squashfs (application/vnd.sylabs.image.layer.v1.squashfs); so does gantry: that
// layer is the image's root, mounted in place as a classic SIF's partition is.
//
// The index, the manifest and the config are read here, bounded (4 MiB each) and checked
// against their digests (sha256 of the bytes); the layer's digest is not (it would read the
// whole image before a start; a classic SIF's partition carries none either).
#pragma once

#include "sif/container.hpp"

#include <string>

namespace gantry::sif {

inline constexpr const char* kSquashfsLayer = "application/vnd.sylabs.image.layer.v1.squashfs";
inline constexpr std::size_t kMaxOciJson = 4u << 20;

struct OciImage {
    Object layer;                // the squashfs layer's blob
    std::string manifest_digest; // "sha256:..." of the manifest
    std::string config_digest;
    std::string config; // the config blob, byte for byte
};

// Whether C is an OCI-SIF (it has an OCI.RootIndex object).
bool is_oci_sif(const Container& c);

// The image of OCI-SIF C for HOST (an index of several manifests: the one whose platform is
// linux/HOST). Errc::invalid naming WHAT for an index, manifest or config that is not JSON, is
// too large, has no blob in the file or whose bytes do not match its digest; Errc::unsupported
// for an image of several layers or a layer that is not squashfs, or none for HOST.
OciImage oci_image(const Container& c, const ReadAt& read, const std::string& host,
                   const std::string& what);

} // namespace gantry::sif
