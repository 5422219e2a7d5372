// The image a build stage is making: its layers (blob digest, diff ID, size) and its whole image
// config (architecture, os, config, rootfs.diff_ids, history), changed step by step. A RUN step
// needs it in the store to run a container on it: commit() writes its config and manifest blobs
// (content-addressed, so committing the same state twice writes nothing new) and returns the
// manifest digest; nothing names it until the build tags it, so `system prune` collects the
// intermediate states of a build once it is over.
#pragma once

#include "oci/digest.hpp"
#include "store/images.hpp"
#include "store/store.hpp"

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace gantry::image_build {

// The largest image config a build may write: the store reads no config blob larger than this
// (Store::read_blob's limit), so a bigger one would name an image nothing can run or inspect.
inline constexpr std::uint64_t kMaxConfigBytes = 64u << 20;

struct WorkLayer {
    oci::Digest blob, diff_id;
    std::int64_t size = 0;
    std::string media_type; // "" for the gzip layers gantry writes
};

struct WorkImage {
    nlohmann::json config; // the image config document
    std::vector<WorkLayer> layers;

    // FROM scratch: no layers, an empty config, of PLATFORM.
    static WorkImage scratch(const oci::Platform& platform);
    // FROM an image of the store: its layers and config (history included).
    static WorkImage of(const store::Store& store, const store::Image& image);

    // The config's "config" object (created when missing).
    nlohmann::json& run_config();
    std::vector<oci::Digest> diff_ids() const;
    void add_layer(const WorkLayer& layer); // appends to layers and rootfs.diff_ids

    // Writes the config and an OCI manifest into the store; returns the manifest digest.
    // Throws Error(invalid) when the config is larger than kMaxConfigBytes (nothing written).
    oci::Digest commit(store::Store& store) const;
    // The image ID (the config's digest) as commit() writes it.
    oci::Digest id() const;
    std::string config_text() const;

    // Config and layers as JSON, as a stage built in a child process hands them back
    // (stage_jobs.hpp), and read back.
    nlohmann::json to_json() const;
    static WorkImage from_json(const nlohmann::json& j);
};

} // namespace gantry::image_build
