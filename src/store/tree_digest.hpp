// TreeDigest: the digest of an unpacked layer tree, recorded in the layer's meta.json when the
// importer unpacks it and recomputed by `gantry system fsck --deep` (docs/storage.md).
//
// Scheme "gantry-tree-v1": SHA-256 over one record per entry of the tree (the root included,
// as "."), sorted by the entry's path relative to the root (byte order). A record is these
// fields, each ended by a NUL byte:
//   path, type (f d l c b p s), mode & 07777 (octal), uid, gid (decimal),
//   size (regular files and symlinks, else 0), content (SHA-256 hex of a regular file's data,
//   "unreadable" when the walker may not open it, else empty), link target (symlinks),
//   device (major:minor of c and b), then the number of extended attributes and, sorted by
//   name, each one's name and its value in hex.
// Not covered: times (a run's atime, a copy's mtime), link counts, directory sizes (they
// depend on the file system, not on the content).
//
// Scheme "gantry-tree-v2": the same records, with the content field empty for each regular file
// whose path the layer's tar-split references (store/layer_tar.hpp): the tar rebuilt from the
// tree and the tar-split hashes to the layer's diff_id, which pins those files' data, so the walk
// reads none of them; every other regular file (a sparse file, one with a name tar-split cannot
// hold, any file after an entry the recorder kept verbatim) is read and hashed as in v1. `system
// fsck --deep` checks both (docs/storage.md).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>

namespace gantry::store {

inline constexpr const char* kTreeDigestScheme = "gantry-tree-v1";           // content read
inline constexpr const char* kTreeDigestSchemeByTarSplit = "gantry-tree-v2"; // content not read

enum class TreeContent {
    hashed,       // gantry-tree-v1: each regular file read and hashed
    by_tar_split, // gantry-tree-v2: those the tar-split references left to it and the diff_id
};

const char* tree_digest_scheme(TreeContent content);
// The content mode a scheme name records, or nullopt for an unknown scheme.
std::optional<TreeContent> tree_content_of(std::string_view scheme);

struct TreeDigest {
    std::string digest; // "sha256:<hex>"
    std::uint64_t entries = 0;
    std::uint64_t content_bytes = 0; // regular files' data read
    std::uint64_t unreadable = 0;    // regular files the walker could not open
};

// Walks the tree at ROOT (not following symbolic links; never leaving the tree) and digests it:
// gantry-tree-v1 without REFERENCED; with it, gantry-tree-v2, REFERENCED the paths (relative to
// ROOT, as the tar-split names them) whose data the tar-split references. Error(io) naming the
// entry when the walk itself fails.
TreeDigest tree_digest(const std::filesystem::path& root,
                       const std::unordered_set<std::string>* referenced = nullptr);

} // namespace gantry::store
