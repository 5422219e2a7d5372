// sqsh/image_tree: a squashfs image (sqsh::Image) as the tree the FUSE server serves. Node ids:
// the root is 1, every other inode its reference in the inode table plus 2 (references are 48
// bits: no overflow, never 0 or 1).
#pragma once

#include "fuse/tree.hpp"

namespace gantry::sqsh {

class ImageTree final : public fuse::Tree {
  public:
    explicit ImageTree(std::shared_ptr<Image> image) : image_(std::move(image)) {}

    struct stat attr(std::uint64_t node) override;
    int lookup(std::uint64_t dir, const char* name, std::uint64_t& node,
               struct stat& attr) override;
    std::shared_ptr<const Image::Listing> list(std::uint64_t dir) override;
    std::uint64_t node_of(std::uint64_t ref) const override;
    std::unique_ptr<File> open(std::uint64_t node) override;
    std::optional<std::string> link_target(std::uint64_t node) override;
    std::vector<std::pair<std::string, std::string>> xattrs(std::uint64_t node) override;
    struct statvfs statfs() override;
    void after_confinement() override { image_->open_tables(); }
    std::vector<int> descriptors() const override { return {image_->fd()}; }
    std::string name() const override { return "the squashfs image " + image_->path(); }
    unsigned reader_threads() const override;

  private:
    std::uint64_t ref_of(std::uint64_t node) const;
    std::shared_ptr<Image> image_;
};

} // namespace gantry::sqsh
