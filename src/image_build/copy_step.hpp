// COPY and ADD: files from the build context or from another stage written as one new layer,
// with BuildKit's rules. A source that is a directory has its contents copied; a destination
// ending in "/", or one that is a directory in the image, receives sources under their base
// names; several sources need such a destination. Missing parent directories are created
// (0755, root); existing ones are written with their metadata from the image, as docker's
// layers carry them. Context files become root's (or --chown's, names looked up in the image's
// /etc/passwd and /etc/group); a stage's files keep their owners. --chmod sets the mode of
// every copied file and directory. ADD extracts a local tar archive (plain, gzip, bzip2, xz,
// zstd) into the destination; its member names are checked like a pulled layer's (no "..").
// Nothing follows a symbolic link out of its source tree: links are copied as links.
#pragma once

#include "image_build/ignore.hpp"
#include "image_build/work_image.hpp"
#include "store/store.hpp"

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <sys/stat.h>
#include <vector>

namespace gantry::image_build {

struct CopySource {
    std::filesystem::path root;     // the context directory, or a stage's flattened tree
    std::string path;               // relative to root ("" for root itself)
    const Ignore* ignore = nullptr; // the context's .dockerignore (null for a stage)
    bool keep_owners = false;       // a stage's files: owners as recorded
    bool remote = false;            // ADD of a URL: never extracted
};

struct CopyRequest {
    std::vector<CopySource> sources;
    std::string dest;         // absolute, expanded (relative ones resolved against WORKDIR)
    bool dest_is_dir = false; // the written destination ended in "/"
    std::optional<std::pair<std::uint32_t, std::uint32_t>> chown;
    std::optional<std::uint32_t> chmod;
    bool extract_archives = false; // ADD
    std::optional<std::int64_t> epoch;
    bool privileged = false; // unpack with owners (real root)
    std::string what;        // "COPY app.py /app/" for messages
};

// Writes the layer into the store and unpacks it.
WorkLayer copy_layer(store::Store& store, const WorkImage& image, const CopyRequest& req);

// A layer that creates DIR (and its parents) where the image lacks it (WORKDIR); nullopt when
// the image has it already.
std::optional<WorkLayer> mkdir_layer(store::Store& store, const WorkImage& image,
                                     const std::string& dir,
                                     std::optional<std::pair<std::uint32_t, std::uint32_t>> owner,
                                     std::optional<std::int64_t> epoch, bool privileged);

// The metadata of PATH ("a/b") in the image's merged view, following links in-root (owners as a
// rootless store recorded them); nullopt when absent or whited out.
std::optional<struct stat> stat_in_image(const store::Store& store, const WorkImage& image,
                                         const std::string& path);

// --chown USER[:GROUP]: numeric ids, or names from the image's /etc/passwd and /etc/group.
std::pair<std::uint32_t, std::uint32_t>
resolve_owner(const store::Store& store, const WorkImage& image, const std::string& spec);

// --chmod: octal (e.g. 755, 0644). Error(invalid) otherwise.
std::uint32_t parse_chmod(const std::string& spec);

} // namespace gantry::image_build
