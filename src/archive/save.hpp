// save: images from the store to a docker-archive, an OCI archive or an OCI layout directory,
// readable by docker/podman load, skopeo and umoci. Output is written under a temporary name
// and renamed into place when complete. Docker schema 2 manifests are converted to OCI for the
// OCI formats (as skopeo does); docker archives carry uncompressed layers (as docker save does).
#pragma once

#include "oci/digest.hpp"
#include "oci/image.hpp"
#include "store/store.hpp"

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace gantry::archive {

enum class SaveFormat { docker_archive, oci_archive, oci_dir };
SaveFormat parse_save_format(const std::string& text); // Error(usage) for unknown formats

struct SaveResult {
    std::uint64_t images = 0;
    std::uint64_t bytes = 0;
};

// The manifest written in place of an image's (`save --compression`: its layers converted by
// lazy::convert_to); it must be in the store. The saved image keeps the names of the original.
using ManifestRewrite = std::function<oci::Digest(const oci::Digest& manifest)>;

// `save --platform linux/amd64,linux/arm64/v8` (a list as docker 29's; also load --platform): each
// parsed, Error(usage) naming an empty one or one given twice.
std::vector<oci::Platform> parse_platforms(const std::string& text);
// What an image given by its ID is saved under: every name it has (gantry save's), or none
// (docker's daemon's: the Engine API's GET /images/get; its load keeps such an image untagged).
enum class IdNames { all, none };

// refs: what the user typed (names or IDs); each is resolved in the store. OUT "-": the tar
// is streamed to standard output (not for oci_dir). PLATFORMS not empty: of each name only
// the images of those platforms (each must be held: Error(not_found) naming what the name
// holds; an ID's image must be of one of them); several of one name need an OCI format.
SaveResult save(const store::Store& store, const std::vector<std::string>& refs,
                const std::filesystem::path& out, SaveFormat format,
                const ManifestRewrite& rewrite = {},
                const std::vector<oci::Platform>& platforms = {}, IdNames id_names = IdNames::all);

} // namespace gantry::archive
