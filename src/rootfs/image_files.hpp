// rootfs/image_files: the files of an image's merged view, whatever holds them: the store's
// unpacked layers (LayerFiles, over read_image_file and friends) or a squashfs file
// (sqsh::SquashFiles). What reads an image's few known files before a run (the GPU layout:
// where its libraries live, its linker cache, its CUDA compat libcuda) takes this, so a .sqsh
// image is read as fully as a store image.
#pragma once

#include "oci/digest.hpp"
#include "store/store.hpp"

#include <string>
#include <vector>

namespace gantry::rootfs {

class ImageFiles {
  public:
    virtual ~ImageFiles() = default;
    // Whether PATH (relative to the root, not followed if a symlink) exists.
    virtual bool has(const std::string& path) const = 0;
    // A small file's content ("" when absent or not a regular file); Error(invalid) if huge.
    virtual std::string read(const std::string& path) const = 0;
    // The names in directory DIR (empty when absent).
    virtual std::vector<std::string> list(const std::string& dir) const = 0;
    // A readable descriptor of the regular file PATH (-1 when absent), owned by the caller.
    virtual int open(const std::string& path) const = 0;
    // What holds the files, for cache keys: "layers", or "sqsh" (the same manifest digest can
    // be either, and they may not be read alike).
    virtual const char* kind() const = 0;
};

class LayerFiles final : public ImageFiles {
  public:
    LayerFiles(const store::Store& store, const std::vector<oci::Digest>& diff_ids)
        : store_(store), ids_(diff_ids) {}
    bool has(const std::string& path) const override;
    std::string read(const std::string& path) const override;
    std::vector<std::string> list(const std::string& dir) const override;
    int open(const std::string& path) const override;
    const char* kind() const override { return "layers"; }

  private:
    const store::Store& store_;
    const std::vector<oci::Digest>& ids_;
};

} // namespace gantry::rootfs
