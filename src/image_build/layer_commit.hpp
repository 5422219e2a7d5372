// A RUN step's writable layer made into a layer of the store: the upper directory written as a
// gzip'ed tar blob (image_build/upper_layer.hpp through store::LayerWriter), unpacked into the
// store like any pulled layer (store::Importer, verified on the way in), and the upper directory
// emptied (kept for a container's commit). For a rootless caller the upper directory holds files
// owned by the container's ids (subordinate ids, or the caller's own as root), some of them
// unreadable to the caller (a 0600 file of a subordinate uid): the tar is then written by a child
// process inside a user namespace with the container's id maps, where every file is readable and
// its owner is the id the container saw, and that child also deletes the upper directory, which the
// caller alone could not.
#pragma once

#include "image_build/work_image.hpp"
#include "oci/runtime_spec.hpp"
#include "store/store.hpp"

#include <array>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace gantry::image_build {

struct UpperCommit {
    std::filesystem::path upper;
    // the container's maps (empty for real root: no user namespace needed)
    std::array<std::vector<oci::IdMapping>, 2> maps;
    std::set<std::string> stubs;              // mount targets, relative ("etc/hosts")
    std::map<std::string, std::string> links; // symlinks the GPU injection made -> their targets
    std::optional<std::int64_t> epoch;        // SOURCE_DATE_EPOCH
    bool privileged = false;                  // real root: unpack with owners and devices
    // leave the upper directory as it is (a container's commit: the container keeps its
    // changes), instead of emptying it as a build step's is
    bool keep_upper = false;
};

// The new layer, or nullopt when the step changed nothing (the upper directory is empty).
std::optional<WorkLayer> commit_upper(store::Store& store, const UpperCommit& c);

// Unpacks a layer blob the store already holds into its layer tree (store::Importer).
void unpack_layer(store::Store& store, const WorkLayer& layer, bool privileged);

} // namespace gantry::image_build
