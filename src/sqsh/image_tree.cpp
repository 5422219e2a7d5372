#include "sqsh/image_tree.hpp"

#include "sqsh/libsquashfs.hpp"
#include "util/error.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <thread>

namespace gantry::sqsh {

std::uint64_t ImageTree::node_of(std::uint64_t ref) const {
    return ref == image_->root_ref() ? kRoot : ref + 2;
}

std::uint64_t ImageTree::ref_of(std::uint64_t node) const {
    return node == kRoot ? image_->root_ref() : node - 2;
}

struct stat ImageTree::attr(std::uint64_t node) {
    Inode in = image_->inode(ref_of(node));
    struct stat a = image_->stat(*in);
    a.st_ino = node;
    return a;
}

int ImageTree::lookup(std::uint64_t dir, const char* name, std::uint64_t& node, struct stat& a) {
    Inode d = image_->inode(ref_of(dir));
    if (!S_ISDIR(file_type(*d))) return ENOTDIR;
    auto e = image_->find(*d, name);
    if (!e) return ENOENT;
    Inode in = image_->inode(e->ref);
    if (file_type(*in) != e->type) return EIO; // the listing lies about it
    node = node_of(e->ref);
    a = image_->stat(*in);
    a.st_ino = node;
    return 0;
}

std::shared_ptr<const Image::Listing> ImageTree::list(std::uint64_t dir) {
    Inode d = image_->inode(ref_of(dir));
    if (!S_ISDIR(file_type(*d))) return nullptr;
    return image_->entries(*d);
}

namespace {

class ImageFile final : public fuse::Tree::File {
  public:
    ImageFile(Image& image, Inode in) : image_(image), in_(std::move(in)) {}
    std::size_t read(std::uint64_t offset, char* buf, std::size_t size) override {
        return image_.read(*in_, offset, buf, size);
    }
    bool concurrent(std::uint64_t offset, std::size_t size) override {
        return image_.in_own_blocks(*in_, offset, size);
    }
    std::size_t read_concurrently(std::uint64_t offset, char* buf, std::size_t size) override {
        return image_.read_blocks(*in_, offset, buf, size);
    }

  private:
    Image& image_;
    Inode in_;
};

} // namespace

std::unique_ptr<fuse::Tree::File> ImageTree::open(std::uint64_t node) {
    Inode in = image_->inode(ref_of(node));
    if (!S_ISREG(file_type(*in))) return nullptr;
    return std::make_unique<ImageFile>(*image_, std::move(in));
}

std::optional<std::string> ImageTree::link_target(std::uint64_t node) {
    Inode in = image_->inode(ref_of(node));
    if (!S_ISLNK(file_type(*in))) return std::nullopt;
    return image_->link_target(*in);
}

std::vector<std::pair<std::string, std::string>> ImageTree::xattrs(std::uint64_t node) {
    Inode in = image_->inode(ref_of(node));
    return image_->xattrs(*in);
}

// Where CPUs are to spare (4 or more: a node's), half of them, at most 4: a big file's blocks are
// decompressed while the serving thread answers the next request and the kernel reads the next
// one from the disk. None on fewer: on 2 busy CPUs (this VM, six builds beside it) a reader
// found no idle CPU, and the handing over cost more than it gained (its replies contend with the
// serving thread's in the kernel's FUSE copy): a cold full read of the CUDA image took 5.3 s
// against 2.1 s with the serving thread alone, +50 % CPU (docs/sqsh.md). GANTRY_SQSH_READERS=N
// (0-16) sets the number, for the benchmark and the tests.
unsigned ImageTree::reader_threads() const {
    if (const char* v = std::getenv("GANTRY_SQSH_READERS"); v && *v) {
        unsigned n = 0;
        auto [end, ec] = std::from_chars(v, v + std::strlen(v), n);
        if (ec != std::errc() || *end || n > 16)
            throw Error(Errc::usage,
                        std::string("GANTRY_SQSH_READERS=") + v + " is not a number of threads",
                        "give 0 to 16, or unset it (gantry then picks)");
        return n;
    }
    unsigned cpus = std::thread::hardware_concurrency();
    return cpus < 4 ? 0 : std::min(cpus / 2, 4u);
}

struct statvfs ImageTree::statfs() {
    const Superblock& sb = image_->super();
    struct statvfs v {};
    v.f_bsize = v.f_frsize = sb.block_size;
    v.f_blocks = (sb.bytes_used + sb.block_size - 1) / sb.block_size;
    v.f_files = sb.inodes;
    v.f_namemax = 256;
    return v;
}

} // namespace gantry::sqsh
