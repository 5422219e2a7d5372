// Safe extraction of one layer tar stream into its own directory.
//
// Nothing is ever written outside root_fd: names with ".." are refused, absolute names are made
// relative, parent directories are resolved with openat2(RESOLVE_IN_ROOT) (so a symlink planted by
// an earlier entry can only lead back inside the layer), leaves are created with O_EXCL/O_NOFOLLOW
// relative to a directory fd, and hard links must name an existing non-directory inside the layer.
// OCI whiteouts become overlayfs whiteouts (char 0:0) and opaque markers (user.overlay.opaque=y),
// so the unpacked layers stack with overlayfs ("userxattr" mount option).
#pragma once

#include "layer/stream.hpp"

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace gantry::layer {

struct ExtractOptions {
    std::string what;        // names the layer in messages, e.g. "layer sha256:ab12…"
    bool privileged = false; // real root: chown, device nodes, setuid/setgid bits, security.*
    // Start each regular file's writeback as soon as its content is written
    // (sync_file_range(SYNC_FILE_RANGE_WRITE), which does not wait): set when the tree is synced
    // before it is published, so that the disk writes it while the rest is still being
    // decompressed and the sync at the end finds little left (docs/storage.md)
    bool early_writeback = false;
    // rootless (not privileged): an owner other than root recorded in kOwnerXattr (false: the
    // files are the caller's and nothing says whose they were, as Apptainer's sandboxes)
    bool record_owners = true;
};

struct ExtractStats {
    std::uint64_t entries = 0;
    std::uint64_t files = 0;
    std::uint64_t dirs = 0;
    std::uint64_t symlinks = 0;
    std::uint64_t hardlinks = 0;
    std::uint64_t whiteouts = 0;
    std::uint64_t bytes = 0;     // file content bytes (zero runs included)
    std::uint64_t allocated = 0; // bytes of the 4 KiB blocks that hold data (holes excluded)
    std::uint64_t skipped_devices = 0;
    std::uint64_t dropped_xattrs = 0;
    std::uint64_t stripped_setid = 0;
    std::uint64_t owners_recorded = 0; // rootless: entries given kOwnerXattr (an owner not root)
};

// The xattr that records an entry's owner ("uid:gid") when it cannot be applied (rootless).
inline constexpr const char* kOwnerXattr = "user.gantry.owner";
// overlayfs opaque-directory marker in the user namespace (mount with -o userxattr).
inline constexpr const char* kOpaqueXattr = "user.overlay.opaque";

// Extracts the (uncompressed) tar stream `in` into the directory root_fd. Throws Error(invalid)
// for hostile or corrupt entries; the caller discards root_fd's tree on failure.
ExtractStats extract_tar(Reader& in, int root_fd, const ExtractOptions& opt);

// Normalises a tar member name: strips leading "/" and "./", drops "." and empty components.
// Returns false if a ".." component is present. Exposed for tests.
bool normalize_entry_path(const std::string& name, std::vector<std::string>& out);

} // namespace gantry::layer
