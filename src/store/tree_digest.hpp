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
//
// Schemes "gantry-tree-v3" and "v4": v1 and v2 with each read file's data hashed as zero runs
// (DataHash below), what the importer records since 2026-11-28; v1 and v2 records stay valid.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>

namespace gantry::store {

inline constexpr const char* kTreeDigestScheme = "gantry-tree-v1";               // content read
inline constexpr const char* kTreeDigestSchemeByTarSplit = "gantry-tree-v2";     // content not read
inline constexpr const char* kTreeDigestSchemeRuns = "gantry-tree-v3";           // v1, zero runs
inline constexpr const char* kTreeDigestSchemeByTarSplitRuns = "gantry-tree-v4"; // v2, zero runs

enum class TreeContent {
    hashed,       // gantry-tree-v1, v3: each regular file read and hashed
    by_tar_split, // gantry-tree-v2, v4: those the tar-split references left to it and the diff_id
};

// How a regular file's data is hashed. stream (v1, v2): its bytes, as one SHA-256. zero_runs
// (v3, v4): its 4096-byte blocks in order (the last one shorter), each run of blocks whose bytes
// are all zero as "z" and the run's block count (8 bytes, little-endian), each other block as "d"
// and its bytes; a hole (SEEK_HOLE) is such a run and is never read. The same bytes give the
// same digest however the file system stores them, and a sparse file of any size (a hostile
// layer's PAX sparse file of 2 TiB, 10 KB in its tar) costs the read of its data only.
enum class DataHash { stream, zero_runs };

struct TreeScheme {
    TreeContent content = TreeContent::hashed;
    DataHash data = DataHash::zero_runs;
};

const char* tree_digest_scheme(TreeScheme scheme);
// What a scheme name records, or nullopt for an unknown scheme.
std::optional<TreeScheme> tree_scheme_of(std::string_view name);

struct TreeDigest {
    std::string digest; // "sha256:<hex>"
    std::uint64_t entries = 0;
    std::uint64_t content_bytes = 0; // regular files' data read
    std::uint64_t unreadable = 0;    // regular files the walker could not open
};

// Walks the tree at ROOT (not following symbolic links; never leaving the tree) and digests it:
// each regular file's data hashed as DATA says, all of them without REFERENCED (v1, v3); with
// it (v2, v4), REFERENCED the paths (relative to ROOT, as the tar-split names them) whose data
// the tar-split references, left unread. Error(io) naming the entry when the walk itself fails.
TreeDigest tree_digest(const std::filesystem::path& root,
                       const std::unordered_set<std::string>* referenced = nullptr,
                       DataHash data = DataHash::zero_runs);

} // namespace gantry::store
