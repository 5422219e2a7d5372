// What prepare made of a kept container (CONTAINER_DIR/prepared.json), written by `gantry
// create` (the Engine API's POST /containers/create runs it) and `run -d`, so that `gantry
// start` (POST /containers/{id}/start, restart) only starts the container: the runtime spec as
// prepare left it (the GPU and CDI edits, devices and hooks in it, and its fields config.json has
// no place for: the host nodes to bind, the in-root setup, the resources), the labels, the
// image's root (its manifest and layers, or the squashfs file, or the lazily pulled image) read
// again by nobody. The image is not read, the spec not rebuilt, the GPUs not discovered again:
// docker's start, too, runs what create decided, and starts a container whose image was removed
// since (the container's hold keeps its layers).
//
// A container without the file (made by an older gantry) is prepared again from its request.
#pragma once

#include "engine/engine.hpp"

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace gantry::engine {

struct KeptPreparation {
    enum class Root { store, squashfs, lazy };
    oci::RuntimeSpec spec;
    std::map<std::string, std::string> labels;
    Root root = Root::store;
    oci::Digest manifest;              // the image's manifest (none for a plain squashfs file)
    std::vector<oci::Digest> diff_ids; // Root::store: its layers, bottom first (held)
    std::string squashfs_file;         // Root::squashfs: the image file
    // the ports it publishes (-p and -P's), each start assigning the free host ports again
    std::vector<network::PortMapping> ports;
};

// What P (prepared, not yet launched: its spec not moved) keeps.
KeptPreparation kept_preparation(const Prepared& p);

nlohmann::json preparation_to_json(const KeptPreparation& k);
// Error(invalid) naming FILE for what is not such a record.
KeptPreparation preparation_from_json(const nlohmann::json& j, const std::string& file);

// DIR/prepared.json: written beside request.json (not synced: the container's state is gone at
// boot anyway); read back, nullopt when DIR has none.
void write_preparation(const std::filesystem::path& dir, const KeptPreparation& k);
std::optional<KeptPreparation> read_preparation(const std::filesystem::path& dir);

} // namespace gantry::engine
