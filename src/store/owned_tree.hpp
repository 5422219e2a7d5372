// Trees that hold files of the user's subordinate ids, in a rootless store whose user has a
// range in /etc/subuid and /etc/subgid: unpacked layers whose recorded owners were applied on
// disk (the importer), containers' writable layers on disk, build steps' upper directories.
// The user alone may not chown to those ids, read a 0700 directory one of them owns, nor
// delete what their directories hold; a child process that is root of a user namespace with
// the maps `run --userns auto` uses (userns::run_in_userns) may, as `podman unshare` does.
// docs/storage.md, "Owners in a rootless store".
#pragma once

#include "oci/image.hpp"
#include "oci/runtime_spec.hpp"
#include "store/store.hpp"
#include "store/tree_digest.hpp"

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <sys/stat.h>
#include <vector>

namespace gantry::store {

struct SubIdMaps {
    std::vector<oci::IdMapping> uids, gids;
    bool empty() const { return uids.empty(); }
};

// The caller's `--userns auto` maps when it is not real root and has a subordinate range
// (userns::subid_maps); empty otherwise: then nothing is applied and nothing needs a namespace.
SubIdMaps owner_maps();

// Whether the unpacked layer DIFF's owners were applied on disk (its meta.json has "owners"):
// its tree may hold subordinate ids the user alone cannot read.
bool layer_owners_applied(const Store& store, const oci::Digest& diff);

// Removes the tree at PATH (fs::remove_tree); where the user alone may not (EACCES, EPERM: files
// of a subordinate id), again in a user namespace with owner_maps(). A missing path is no error.
void remove_owned_tree(const std::filesystem::path& path);

// What apply_owners did to an unpacked layer.
struct AppliedOwners {
    std::uint64_t applied = 0;  // entries given their recorded owner
    std::uint64_t unmapped = 0; // entries whose recorded owner is outside MAPS: left the user's
    TreeDigest tree;            // the tree's digest walked in the namespace: the image's owners
};

// In a user namespace with MAPS: gives every entry of the tree at ROOTFS that carries a recorded
// owner (layer::kOwnerXattr, written by the rootless extractor) that owner (lchown to the
// container's ids: on disk, MAPS' host ids) and removes the record (the disk is the truth from
// then on; an owner outside MAPS keeps its record), then walks the tree's digest there, so
// that the digest holds the container's ids whatever the disk holds. Symbolic links, devices and
// fifos carry no record and stay the user's (the container's root).
AppliedOwners apply_owners(const std::filesystem::path& rootfs, const SubIdMaps& maps);

// The tree digest of ROOTFS walked in a user namespace with MAPS, its files' data hashed as
// DATA says (system fsck --deep on a tree whose owners were applied: gantry-tree-v1 or v3).
TreeDigest tree_digest_in_userns(const std::filesystem::path& rootfs, const SubIdMaps& maps,
                                 DataHash data);

// ST's owner as a container of this caller sees it (`--userns auto`): rootless, the user's
// own id is 0 and a subordinate id its place in the range (an id outside the maps: 65534, as
// the kernel shows it); real root's ids are left as they are.
void to_container_ids(struct stat& st);

// lstat of REL (relative, no "..") inside the tree ROOTFS as root of a user namespace with
// MAPS: for a path under a directory a subordinate id closed to the user. The owner is the
// container's (the recorded owner, layer::kOwnerXattr, where there is one). nullopt when
// there is no such entry.
std::optional<struct stat> stat_in_userns(const std::filesystem::path& rootfs,
                                          const std::string& rel, const SubIdMaps& maps);

// STORE/owners.json: the maps the store's applied owners were applied with, written (durably)
// by the importer the first time it applies owners. check_store_maps: Error(conflict) when it
// names maps other than MAPS (the user's /etc/subuid or /etc/subgid changed since: the files
// on disk belong to ids the user no longer has), naming both and the fixes; nothing when the
// store has no such record.
void record_store_maps(const Store& store, const SubIdMaps& maps);
void check_store_maps(const std::filesystem::path& store_root, const SubIdMaps& maps);

// MAPS as meta.json records them ({"uid_map": [[container, host, size], ...], "gid_map": ...}),
// and whether a record names the same maps.
oci::json maps_json(const SubIdMaps& maps);
bool same_maps(const oci::json& recorded, const SubIdMaps& maps);
// "uids 1-65536 -> 300000-365535" for messages.
std::string describe_maps(const oci::json& recorded);

} // namespace gantry::store
