// The step cache of `gantry build`: what a build step produced, found again by a key made from
// everything that decides its result. The key is SHA-256 over length-prefixed fields: the parent
// (the previous step's key, or the base image's digest), the instruction text with its build
// arguments expanded, and the content digests of the files a COPY/ADD reads. A hit reuses the
// recorded result (the layer's digest and diff ID, or none for an empty layer, and the image
// config after the step) without running the step. Entries live as one JSON file per key in a
// directory of the store, each written with temp + rename, so a killed build leaves either the
// whole entry or nothing; an unreadable entry is a miss.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gantry::image_build {

// The cache key of one step (64 lower-case hex characters).
std::string step_key(std::string_view parent, std::string_view instruction,
                     const std::vector<std::string>& input_digests = {});

struct CacheEntry {
    std::string layer_digest; // the compressed layer in the store ("" for an empty layer)
    std::string diff_id;      // its uncompressed digest ("" for an empty layer)
    nlohmann::json config;    // the image config after the step
    std::string created_by;   // the history entry's created_by
};

class StepCache {
  public:
    explicit StepCache(std::filesystem::path dir) : dir_(std::move(dir)) {}

    // The entry recorded for key, or nullopt (no entry, or one that cannot be read).
    std::optional<CacheEntry> lookup(std::string_view key) const;

    // Records entry under key, replacing any earlier one (temp + rename).
    void record(std::string_view key, const CacheEntry& entry) const;

    const std::filesystem::path& dir() const { return dir_; }

  private:
    std::filesystem::path dir_;
};

} // namespace gantry::image_build
