// The layer a RUN step leaves: the upper directory of its disk writable layer read back as
// the entries of an OCI layer tar. Overlayfs records a deletion as a character device 0/0
// (-> ".wh.NAME") and a directory that replaced the lower one with the xattr
// trusted.overlay.opaque or user.overlay.opaque = "y" (-> "DIR/.wh..wh..opq"). Owners, modes,
// symlinks and hard links are kept as recorded; names are visited sorted so the same tree gives
// the same tar; modification times are clamped to SOURCE_DATE_EPOCH when one is given. An owner
// recorded in the xattr user.gantry.owner (a rootless store's, copied up with the file) is the
// owner written. STUBS are the run's mount targets ("etc/hosts", "proc"): what the runtime
// created only to mount on (an empty file or a directory holding nothing but such stubs) is left
// out, as BuildKit leaves out its mount stubs; so is a symlink LINKS names that still points where
// the GPU injection made it point (build/step_driver.hpp). The entries go to a sink
// (store::LayerWriter in a build, a recorder in tests).
#pragma once

#include <archive_entry.h>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <sys/stat.h>

namespace gantry::image_build {

struct TarSink {
    std::function<void(archive_entry*)> header;
    std::function<void(const void*, std::size_t)> data; // empty: the files' bytes are not read
};

// Walks upper and emits its entries (paths relative, no leading "/"). Throws Error(io) when
// the tree cannot be read.
// Replaces st's owner with the one a rootless store recorded for PATH (user.gantry.owner,
// "uid:gid"), when there is one; returns whether there was.
bool apply_recorded_owner(const std::string& path, struct stat& st);

// Returns the number of entries written.
std::size_t write_upper(const std::filesystem::path& upper,
                        std::optional<std::int64_t> source_date_epoch, const TarSink& sink,
                        const std::set<std::string>& stubs = {},
                        const std::map<std::string, std::string>& links = {});

} // namespace gantry::image_build
