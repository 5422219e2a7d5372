// sqsh/shared: read-only shared image stores (`--image-store DIR`), the cluster's one copy of an
// image: every node mounts the same squashfs file from NFS, Lustre or GPFS instead of pulling
// and unpacking its own.
//
// A shared store is a directory of content-addressed objects and small reference files:
//   DIR/sqsh/<manifest hex>.sqsh     the flattened image (sqsh/write.hpp), header included
//   DIR/manifests/<manifest hex>.json, DIR/configs/<config hex>.json   the image's own blobs
//   DIR/refs/<reference, %-encoded>  "sha256:<manifest hex>\n": one file per tag
// Readers (`run`, `inspect`, `images`) only open and read: no lock, no temporary, no access
// time written, so DIR may be read-only to them. Publishing (`push --image-store`, `save
// --format squashfs --image-store`) writes each object to a temporary and links it in under its
// final name, never replacing one already there (a node reading it over NFS would get ESTALE);
// a reference is replaced with rename. Two nodes publishing the same image at once both
// succeed: the first link wins and the other's copy is dropped. Objects go in before the
// reference that names them, so a reader never sees a tag without its image.
//
// A store may also hold Apptainer images as plain files at its top level, as sites keep their
// libraries of SIFs (DIR/NAME.sif): IMAGE names DIR/IMAGE.sif (or DIR/IMAGE when it ends in
// .sif), else the file `apptainer pull docker://IMAGE` names (the repository's last component,
// `_`, the tag: nvcr.io/nvidia/pytorch:24.01-py3 is pytorch_24.01-py3.sif, alpine is
// alpine_latest.sif). A store's own reference (refs/) wins over a SIF file of the same name;
// stores are searched in order as for references. Such a file runs as `gantry run FILE.sif`.
//
// Where the stores come from (configured_stores): --image-store (repeatable), then
// GANTRY_IMAGE_STORES (colon-separated), then the config file's `image_stores:` list
// ($GANTRY_CONFIG, else ~/.config/gantry/config.yaml, else /etc/gantry/config.yaml). Lookups go
// to the local store first and reach these only when it lacks the image, so a run of a local
// image reads no configuration.
#pragma once

#include "oci/digest.hpp"
#include "sqsh/write.hpp"
#include "store/store.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace gantry::sqsh {

struct SharedImage {
    std::string store;    // the shared store's directory
    std::string ref;      // the reference it was found by ("" when found by digest)
    oci::Digest manifest; // the manifest's digest: the object's key
    std::string file;     // DIR/sqsh/<hex>.sqsh, or DIR/NAME.sif
    // a SIF file of the store's top level: `ref` is its name without .sif, `manifest` a digest
    // of its path (the ID its run shows for a classic SIF)
    bool sif = false;
};

// The shared stores to search: GIVEN, then $GANTRY_IMAGE_STORES, then the config file's;
// duplicates dropped, order kept. Error(invalid) for a config file that is not YAML with an
// `image_stores` list of strings (naming the file).
std::vector<std::string> configured_stores(const std::vector<std::string>& given);

// IMAGE (a reference, REPO@sha256:..., or sha256:<64 hex>) in the first of STORES that has it.
std::optional<SharedImage> find_shared(const std::vector<std::string>& stores,
                                       const std::string& image);

// Every tagged image of STORES (a digest tagged twice is listed twice), sorted by reference,
// then each store's SIF files (sorted by name).
std::vector<SharedImage> list_shared(const std::vector<std::string>& stores);

struct PublishResult {
    SharedImage image;
    bool existed = false; // the object was there already (or a concurrent publisher won)
    std::uint64_t bytes = 0;
};

// Publishes the store image REF into the shared store DIR (created if missing), tagged as REF
// names it (a reference) or untagged (an ID). Error(io) naming DIR when it is not writable.
PublishResult publish(const store::Store& store, const std::string& ref, const std::string& dir,
                      const SaveOptions& opt = {});

// Writes DATA as PATH (a content-addressed object of a store) unless a file of that name is
// there: a temporary, synced, linked in (never replacing), the directory synced.
void put_object(const std::string& path, const std::string& data);

// The SIF file names IMAGE may have in a store, in the order they are looked for: IMAGE.sif
// (IMAGE itself when it ends in .sif), then `apptainer pull`'s name for the reference IMAGE.
// None for a digest, or for a name holding `/` only as a path would (`..`, a leading `.`).
std::vector<std::string> sif_file_names(const std::string& image);

// The file name of a reference in DIR/refs (every byte outside [A-Za-z0-9._~-] as %XX).
std::string ref_file_name(const std::string& normalized_ref);

} // namespace gantry::sqsh
