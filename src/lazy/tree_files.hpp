// lazy/tree_files: a lazily pulled image's files as the GPU step reads them (rootfs::ImageFiles:
// the vendor backends look for the libraries and the CUDA/ROCm versions an image holds), read
// through its lazy::Tree before the container starts: what it reads is fetched (and verified)
// as a container's read would be, and recorded in the image's working set.
#pragma once

#include "lazy/tree.hpp"
#include "rootfs/image_files.hpp"

#include <string>
#include <vector>

namespace gantry::lazy {

class TreeFiles final : public rootfs::ImageFiles {
  public:
    explicit TreeFiles(Tree& tree) : tree_(tree) {}
    bool has(const std::string& path) const override;
    std::string read(const std::string& path) const override; // up to 64 MiB, as sqsh's
    std::vector<std::string> list(const std::string& dir) const override;
    // The file's content in a sealed memfd (up to 1 GiB).
    int open(const std::string& path) const override;
    const char* kind() const override { return "lazy"; }

  private:
    Tree& tree_;
};

} // namespace gantry::lazy
