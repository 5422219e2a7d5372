// store/layer_tar: one copy of a layer. Beside each unpacked tree the importer keeps the layer's
// tar-split (layers/sha256/<diff_id>/tar-split.json.zst: every tar header and padding, each
// regular file's content by reference to the tree's path; layer/tar_split_recorder.hpp), so the
// exact uncompressed tar, and so the diff_id, can be rebuilt from the tree, and the compressed
// blob need not be kept (docs/storage.md, "One copy of a layer").
//
// Every reader of a layer's content goes through open_layer(): the blob when the store kept it,
// else the tar rebuilt from the tree, hashed as it streams and checked against the diff_id at its
// end (a tree changed behind gantry's back fails with Error(invalid) naming the layer and the fix).
#pragma once

#include "layer/stream.hpp"
#include "layer/tar_split.hpp"
#include "store/store.hpp"
#include "util/fs.hpp"

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>

namespace gantry::store {

inline constexpr const char* kTarSplitFile = "tar-split.json.zst";

// config.yaml's `store: {keep_compressed: true}`: keep each layer's compressed blob beside its
// tree and tar-split (byte-identical re-export of everything). False when unset.
bool keep_compressed();

// Writes LINES (layer/tar_split.hpp's JSON lines) zstd-compressed into the layer directory DIR.
// SYNC: durable into a published layer (system migrate); volatile_only into a pending layer's
// directory, whose one syncfs before it is published covers it (PendingLayer::commit).
void write_tar_split(const stdfs::path& dir, std::string_view lines,
                     fs::Sync sync = fs::Sync::durable);

// "" when every file LINES references is a regular file of that size in the tree ROOTFS, else
// why not (the first that is not): what the importer checks before it relies on the tree.
// REFERENCED, when given, receives the paths LINES references (a gantry-tree-v2 digest's).
// The same with the file lines given as parsed (the importer's, from the recorder).
std::string check_tree(const stdfs::path& rootfs, const std::vector<layer::tar_split::Entry>& lines,
                       std::unordered_set<std::string>* referenced = nullptr);
std::string check_tree(const stdfs::path& rootfs, std::string_view lines, const std::string& what,
                       std::unordered_set<std::string>* referenced = nullptr);

// The paths the tar-split of the layer DIFF_ID references (fsck --deep's v2 walk).
std::unordered_set<std::string> referenced_files(const Store& store, const Digest& diff_id,
                                                 const std::string& what);

bool has_tar_split(const Store& store, const Digest& diff_id);

// The exact uncompressed tar of DIFF_ID, rebuilt from its tree and tar-split (Error(not_found)
// when the layer has none), checked against DIFF_ID when the last byte is read. ONLY_COPY: the
// store keeps no blob of it (said in the error of a tree changed behind gantry's back).
std::unique_ptr<layer::Reader> open_reconstruction(const Store& store, const Digest& diff_id,
                                                   const std::string& what, bool only_copy = true);

// The same from the tree ROOTFS and the tar-split LINES (what open_reconstruction reads).
std::unique_ptr<layer::Reader> rebuild_tar(const stdfs::path& rootfs, std::string_view lines,
                                           const Digest& diff_id, const std::string& what,
                                           bool only_copy = true);

// What a layer's readers read: the compressed blob when the store has it, else the rebuilt tar
// (uncompressed: readers sniff the compression, layer::SniffedStream). Error(not_found) naming
// the layer, with the fix, when it has neither.
struct LayerContent {
    std::unique_ptr<layer::Reader> reader;
    bool rebuilt = false; // the uncompressed tar rebuilt from the tree (not the blob)
    Fd fd;                // the blob's, when not rebuilt
};
LayerContent open_layer(const Store& store, const Digest& blob, const Digest& diff_id,
                        const std::string& what);

// A layer whose blob the store does not keep, compressed again (gzip, igzip level 3, a fixed
// header: the same tree gives the same bytes) into a file under tmp/, removed with this object.
// Its digest differs from the blob pulled or loaded unless that was written the same way.
struct Recompressed {
    Digest digest;
    std::uint64_t size = 0;
    stdfs::path file;
    Recompressed() = default;
    Recompressed(Recompressed&&) noexcept = default;
    Recompressed& operator=(Recompressed&&) noexcept = default;
    ~Recompressed();
};
Recompressed recompress_layer(const Store& store, const Digest& diff_id, const std::string& what);

// The rebuilt tar in an unnamed file under tmp/ (unlinked once opened), for readers that need a
// file descriptor (lazy/convert.hpp's writers)
Fd rebuilt_file(const Store& store, const Digest& diff_id, const std::string& what);

// The blob is in the store, or the layer can be rebuilt from its tree.
bool has_layer_content(const Store& store, const Digest& blob, const Digest& diff_id);

// A layer whose blob the store does not keep: its meta.json says so ("blob_kept": false); the
// compressed digest, size and media type as pulled or loaded are in it too.
struct DroppedBlob {
    Digest blob;
    std::uint64_t size = 0;
    std::string media_type;
};
std::optional<DroppedBlob> dropped_blob(const Store& store, const Digest& diff_id);

} // namespace gantry::store
