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
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <unordered_map>

namespace gantry::store {

inline constexpr const char* kTreeDigestScheme = "gantry-tree-v1";

struct TreeDigest {
    std::string digest; // "sha256:<hex>"
    std::uint64_t entries = 0;
    std::uint64_t content_bytes = 0; // regular files' data read
    std::uint64_t unreadable = 0;    // regular files the walker could not open
};

// Walks the tree at ROOT (not following symbolic links; never leaving the tree). Error(io)
// naming the entry when the walk itself fails.
// KNOWN: regular files' content SHA-256 (hex) by inode number, as the extractor wrote them
// (layer::ExtractOptions::content_sha256, for the tree it extracted): used instead of reading a
// file the walker may read, so the digest is the same as without it.
TreeDigest tree_digest(const std::filesystem::path& root,
                       const std::unordered_map<std::uint64_t, std::string>* known = nullptr);

} // namespace gantry::store
