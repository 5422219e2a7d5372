// Scratch: what a container keeps in the store. Its root is mounted on STORE/mnt, one directory
// shared by every container: each mounts its private tmpfs there (and its root on mnt/root)
// inside its own mount namespace, so nobody else sees it, and no mount point is created or
// deleted per run. The writable layer lives in that tmpfs (Layer::memory, the default) or on
// disk in STORE/containers/<id>/upper and work/ (Layer::disk). STORE/containers/<id>/ exists
// only when something needs it (a disk layer, a detached container's state and log, GPU or CDI
// files, a flattened root): a default run creates nothing in the store (its hold is a flock on
// STORE/locks/image-<hex>, made by the image's first run).
//
// Ephemeral containers are not deleted on the critical path. On a filesystem that discards
// freed blocks synchronously (ext4 -o discard, as on many cloud VMs) removing the half-dozen
// directories of a container costs more than starting it. discard() therefore renames the
// directory into STORE/trash/ (one rename: it is gone from containers/ at once). Once trash/
// holds kReapBatch entries, a detached reaper process deletes all of them after gantry has
// exited: one fork per batch rather than per container (a fork of gantry costs about as much
// as the rest of a short container's exit). A reaper killed half-way, or a batch not yet full,
// is left for the next reaper or for `gantry system prune`.
#pragma once

#include "store/store.hpp"

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace gantry::store {

// Where a container's writable layer lives: none (--read-only), in its private tmpfs, on disk.
enum class Layer { none, memory, disk };

class Scratch {
  public:
    // Holds `image` (a manifest digest) so that rmi and prune leave it alone while the
    // container runs, creates STORE/mnt the first time and, for Layer::disk,
    // STORE/containers/<id>/upper and work/. The hold is a use hold (Store::use_image, gone with
    // this process) unless `recorded`: then a file in STORE/holds/ that outlives this process,
    // for a container that stays until `gantry rm` (released by discard()).
    // An image that is not the store's (a squashfs file: `in_store` false) is not held.
    // REUSE: the directory of a container started again (`gantry start`) is taken as it is, its
    // writable layer on disk included (the overlay's work directory is emptied: the kernel
    // refuses one a volatile mount used).
    Scratch(Store& store, const std::string& id, Layer layer, const oci::Digest& image,
            bool recorded = false, bool in_store = true, bool reuse = false);
    Scratch(const Scratch&) = delete;
    Scratch& operator=(const Scratch&) = delete;
    ~Scratch(); // discard() unless kept

    // STORE/containers/<id>/, created by the first call.
    const std::filesystem::path& dir();
    std::filesystem::path upper() const { return dir_ / "upper"; } // Layer::disk
    std::filesystem::path work() const { return dir_ / "work"; }
    std::filesystem::path mount_point() const { return root_ / "mnt"; }
    Layer layer() const { return layer_; }

    void keep() { keep_ = true; }      // a detached container: stays until `gantry rm`
    void release() { keep_ = reuse_; } // a reused directory stays: its container does
    bool reused() const { return reuse_; }
    bool kept() const { return keep_; }
    // Moves the directory into trash/ (see discard_dir) and releases the hold; idempotent.
    void discard() noexcept;

  private:
    Store& store_;
    std::string id_;
    std::filesystem::path root_, dir_;
    Layer layer_;
    FileLock use_;
    bool recorded_, reuse_, made_ = false, keep_ = false, gone_ = false;
};

// How many discarded directories trash/ collects before a reaper is started.
inline constexpr unsigned kReapBatch = 16;

// Renames dir into STORE/trash/ (or removes it in place if that fails). True when trash/ then
// holds kReapBatch entries or more (or the filesystem cannot say how many it holds): a reaper is
// due, which the caller starts (Scratch::discard does) once it released its locks, since a
// forked reaper holds every lock of its parent's until it closes its descriptors. Never throws:
// cleanup must not mask the workload's status.
bool discard_dir(const std::filesystem::path& store_root,
                 const std::filesystem::path& dir) noexcept;

// Deletes everything in STORE/trash/ now (one reaper at a time: others return at once). An
// entry that cannot be deleted is left there and the others are still deleted. Returns the
// number of entries removed.
std::uint64_t reap_trash(const std::filesystem::path& store_root);

// What a run wrote into its writable layer, when that is at least `threshold` bytes: a warning
// naming the amount, the directory that took most of it and the -v that would have avoided it
// (and, for a layer in memory, --writable-layer disk).
std::optional<std::string> write_report(const std::filesystem::path& upper, std::uint64_t threshold,
                                        Layer layer = Layer::disk);

// For a layer in memory (`tmpfs`: a descriptor of the container's tmpfs): write_report of its
// upper/ (walked only when the whole tmpfs holds at least `threshold` bytes: usually it does
// not, and statfs is one call), then a warning when it filled up, so writes failed with "No
// space left on device", naming its size and the fixes.
std::vector<std::string> memory_layer_reports(int tmpfs, std::uint64_t threshold);

} // namespace gantry::store
