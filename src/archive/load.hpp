// load: images from a `docker save` archive, an OCI archive (tar of a layout) or an OCI layout
// directory into the store. Every blob is verified; a failure leaves no new reference behind.
#pragma once

#include "oci/image.hpp"
#include "store/store.hpp"
#include "util/fd.hpp"

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace gantry::archive {

struct LoadOptions {
    // pick from multi-platform indexes (`load --platform A[,B]`); empty: every platform the
    // archive holds, one image per name the host's; an image of none of them is refused
    std::vector<oci::Platform> platforms;
    std::string name; // repository for images the archive names only by tag (or not at all)
    bool privileged = false;
    unsigned jobs = 0;
    // what the archive is called in messages when PATH is not its name (a spooled stream:
    // "standard input"); its unnamed images are then named localhost/image
    std::string source;
    // an image the archive names not at all is kept untagged (store::Store::untagged, docker
    // load's way: the Engine API's), instead of being named after the archive (gantry load's)
    bool keep_unnamed = false;
};

struct LoadedImage {
    std::vector<std::string> refs; // normalised references now pointing at the image
    oci::Digest manifest;
    oci::Digest config; // the image ID
    std::string format; // "docker-archive", "oci-archive", "oci-dir"
};

std::vector<LoadedImage> load(store::Store& store, const std::filesystem::path& path,
                              const LoadOptions& opt);

// An archive that arrives on a stream (`gantry load < x.tar`, docker's default), copied into an
// unnamed file in the store's tmp/ that goes with its last descriptor: archives are read out of
// order (a docker save tar may name its manifest last). Read it as /proc/self/fd/N. Refuses a
// terminal and an empty stream, naming WHAT.
Fd spool_archive(store::Store& store, int fd, const std::string& what);

} // namespace gantry::archive
