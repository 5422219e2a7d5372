// sqsh/load: `gantry load FILE.sqsh`, a squashfs image brought into the store as a one-layer
// image, so it can be pushed, analysed, slimmed or built upon like any other.
//
// A process gantry forks and confines (sqsh/confined.hpp: nobody, no capabilities, a seccomp
// allow-list; it keeps only the image's descriptor and two pipes) reads the image and streams it
// as a tar (sqsh/image_tar.hpp: owners, modes, xattrs, hard links, device nodes kept); gantry
// re-writes it as a gzip layer into the store (store::LayerWriter: diffID and blob digest in one
// pass) and imports that layer as it imports any other, through the same hardened tar reading
// and extraction (a hostile file's symlinks and `..` names are refused there). gantry itself
// parses nothing of the file past its superblock. The config is the gantry header's, with its
// one new layer; a squashfs without a header (mksquashfs, enroot, Charliecloud) gets an empty
// config for this host's platform; a SIF's partition gets Apptainer's labels, runscript and
// environment (sif/metadata.hpp). Nothing is tagged until the image is complete.
#pragma once

#include "oci/digest.hpp"
#include "store/store.hpp"

#include <functional>
#include <string>

namespace gantry::sqsh {

struct LoadedSqsh {
    std::string ref;      // the reference now pointing at it
    oci::Digest manifest; // its manifest digest
    oci::Digest config;   // its image ID
    bool had_header = false;
    bool sif = false; // a SIF's squashfs partition, its config Apptainer's metadata
    std::uint64_t entries = 0;
};

// Loads FILE and tags it REF; with REF empty, the file's name without its extension
// ("app.sqsh" -> "app:latest"). Error(invalid) for a damaged or hostile file, Error(usage)
// when no reference can be made of the name, Error(unsupported) for a socket in it. gantry
// reads the superblock; the header and the tar are read by processes that call CONFINE first
// (engine::squashfs_confinement()).
LoadedSqsh load(store::Store& store, const std::string& file, const std::string& ref,
                bool privileged, const std::function<void()>& confine);

// Whether PATH should be loaded as a squashfs image: its first bytes are squashfs's magic, or
// SIF's (its squashfs partition is loaded, with Apptainer's metadata as its config).
bool is_squashfs_file(const std::string& path);

} // namespace gantry::sqsh
