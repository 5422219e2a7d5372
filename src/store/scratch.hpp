// Scratch: a container's working directory in the store, STORE/containers/<id>/ with upper/ and
// work/ (the overlay's writable layer) and hostname. The root is mounted on STORE/mnt, one
// directory shared by every container: each mounts its root there inside its own mount
// namespace, so nobody else sees it, and no mount point is created or deleted per run.
//
// Ephemeral containers are not deleted on the critical path. On a filesystem that discards
// freed blocks synchronously (ext4 -o discard, as on many cloud VMs) removing the half-dozen
// directories of a container costs more than starting it. discard() therefore renames the
// directory into STORE/trash/ (one rename: it is gone from containers/ at once) and a detached
// reaper process deletes whatever trash/ holds after gantry has exited. A reaper killed
// half-way leaves trash/ for the next one or for `gantry system prune`.
#pragma once

#include "store/store.hpp"

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

namespace gantry::store {

class Scratch {
  public:
    // Creates STORE/containers/<id>/ with hostname and, when writable, upper/ and work/ (and
    // STORE/mnt the first time), and holds `image` (a manifest digest) so that rmi and prune
    // leave it alone while the container runs; discard() releases the hold.
    Scratch(Store& store, const std::string& id, const std::string& hostname, bool writable,
            const oci::Digest& image);
    Scratch(const Scratch&) = delete;
    Scratch& operator=(const Scratch&) = delete;
    ~Scratch(); // discard() unless kept

    const std::filesystem::path& dir() const { return dir_; }
    std::filesystem::path upper() const { return dir_ / "upper"; }
    std::filesystem::path work() const { return dir_ / "work"; }
    std::filesystem::path mount_point() const { return root_ / "mnt"; }
    std::filesystem::path hostname_file() const { return dir_ / "hostname"; }

    void keep() { keep_ = true; } // a detached container: stays until `gantry rm`
    void release() { keep_ = false; }
    bool kept() const { return keep_; }
    // Moves the directory into trash/, starts a reaper and releases the hold; idempotent.
    void discard() noexcept;

  private:
    Store& store_;
    std::string id_;
    std::filesystem::path root_, dir_;
    bool keep_ = false, gone_ = false;
};

// Renames dir into STORE/trash/ (or removes it in place if that fails) and starts a detached
// reaper. Never throws: cleanup must not mask the workload's status.
void discard_dir(const std::filesystem::path& store_root,
                 const std::filesystem::path& dir) noexcept;

// Deletes everything in STORE/trash/ now (one reaper at a time: others return at once).
// Returns the number of entries removed.
std::uint64_t reap_trash(const std::filesystem::path& store_root);

// What a run wrote into its writable layer, when that is at least `threshold` bytes: a warning
// naming the amount, the directory that took most of it and the -v that would have avoided it.
std::optional<std::string> write_report(const std::filesystem::path& upper,
                                        std::uint64_t threshold);

} // namespace gantry::store
