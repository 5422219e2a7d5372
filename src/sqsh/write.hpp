// sqsh/write: `gantry save REF --format squashfs -o FILE`, a store image as one squashfs file.
//
// The image's layer blobs stream top layer first, each read once (digest verified, decompressed
// in-process), through the Flattener (whiteouts and opaque directories resolved, lower entries
// an upper one hides dropped); the surviving entries, with their recorded owners, modes, xattrs,
// hard links and device nodes, go as one pax tar stream into squashfs-tools-ng's tar2sqfs
// (Debian's squashfs-tools-ng), which builds the squashfs with zstd and 128 KiB blocks on every
// CPU. The root entry comes last and carries the gantry header (format.hpp). Nothing is
// unpacked: the only copy is the output. The output is an unnamed file (O_TMPFILE; on NFS, which
// has none, a hidden temporary name) in FILE's directory, given its name only when complete: an
// error or a kill leaves nothing behind, and FILE is replaced in one rename.
#pragma once

#include "sif/metadata.hpp"
#include "store/store.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace gantry::sqsh {

struct SaveOptions {
    int level = 3;     // zstd level (tar2sqfs's default, 15, is ~4x slower for ~5% smaller files)
    unsigned jobs = 0; // compressor threads (0: one per CPU we may use)
    // false: FILE is created only if absent (a shared store's object: another node may be
    // reading the one there); SaveResult::existed says it was
    bool replace = true;
    // files written above the image's layers, hiding the same paths (save_sif's /.singularity.d)
    std::vector<sif::File> extra;
};

struct SaveResult {
    std::uint64_t entries = 0; // in the flattened root
    std::uint64_t bytes = 0;   // of the squashfs file
    bool existed = false;      // !replace and FILE was there: it was left as it was
};

// Throws Error(unsupported) when tar2sqfs is missing (naming the package), Error(invalid) for a
// damaged layer blob, Error(io) when the file cannot be written.
SaveResult save(const store::Store& store, const std::string& ref, const std::string& out,
                const SaveOptions& opt = {});

// `gantry save REF --format sif -o FILE`: the same squashfs, with Apptainer's files for the
// image's config added above its layers (sif::apptainer_files: labels, environment, runscript),
// as the primary system partition of a SIF (sif/write.hpp), built for the image's
// architecture. The squashfs is written to an unnamed file first and copied into the SIF by the
// kernel (copy_file_range). Errors as save's.
SaveResult save_sif(const store::Store& store, const std::string& ref, const std::string& out,
                    const SaveOptions& opt = {});

} // namespace gantry::sqsh
