// Materialising a container root from an image's unpacked layers: the overlayfs lower-dir stack
// (top layer first, relative to the store's layer directory), or a flattened copy with the
// whiteouts applied (for bundles, and where overlayfs is unavailable).
#pragma once

#include "oci/digest.hpp"
#include "store/store.hpp"

#include <functional>
#include <string>
#include <vector>

namespace gantry::rootfs {

struct LayerStack {
    std::string layers_dir;         // ROOT/layers/sha256
    std::vector<std::string> lower; // "<diffid hex>/rootfs", top layer first
};

// Throws Error(not_found) naming the layer and the fix when a tree is missing.
LayerStack stack(const store::Store& store, const std::vector<oci::Digest>& diff_ids);

// Copies the layers (bottom first) into dest, applying overlay whiteouts (char 0:0) and opaque
// directories. Owners are applied when running as real root. Rootless, layers whose owners
// were applied on disk (subordinate ids: store/owned_tree.hpp) are copied by a child process
// that is root of a user namespace with the user's maps; the copy is the user's, each file's
// owner recorded (layer::kOwnerXattr) as in the layer.
void flatten(const store::Store& store, const std::vector<oci::Digest>& diff_ids,
             const std::string& dest, bool privileged);

// Reads a small file from the top-most layer that has it ("" if absent or whited out).
std::string read_image_file(const store::Store& store, const std::vector<oci::Digest>& diff_ids,
                            const std::string& path);

// Opens a file of the image's merged view for reading (in-root in its layer); -1 if absent.
int open_image_file(const store::Store& store, const std::vector<oci::Digest>& diff_ids,
                    const std::string& path);

// Calls fn(path, host_path) for every regular file of the image's merged view (upper layers
// hide lower ones; whiteouts and opaque directories honoured), paths relative to the image root.
void walk_image_files(const store::Store& store, const std::vector<oci::Digest>& diff_ids,
                      const std::function<void(const std::string&, const std::string&)>& fn);

// Whether a path exists in the image's merged view (whiteouts and opaque directories honoured).
bool image_has(const store::Store& store, const std::vector<oci::Digest>& diff_ids,
               const std::string& path);

// Names in a directory of the image's merged view.
std::vector<std::string> list_image_dir(const store::Store& store,
                                        const std::vector<oci::Digest>& diff_ids,
                                        const std::string& dir);

} // namespace gantry::rootfs
