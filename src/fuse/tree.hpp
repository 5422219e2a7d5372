// fuse/tree: what the FUSE server (fuse/server.hpp) serves: a read-only tree of nodes, asked for
// by node id. Two implement it: a squashfs image (sqsh/image_tree.hpp) and the merged layers of
// a lazily pulled eStargz image (lazy/tree.hpp). Every call may throw: the server answers EIO.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <utility>
#include <vector>

namespace gantry::fuse {

// One entry of a directory's listing: its name, the reference node_of() makes a node id of, and
// its file type bits (S_IFREG, ...).
struct DirEntry {
    std::string name;
    std::uint64_t ref = 0;
    mode_t type = 0;
};
using Listing = std::vector<DirEntry>;

class Tree {
  public:
    virtual ~Tree() = default;

    static constexpr std::uint64_t kRoot = 1; // FUSE_ROOT_ID

    // The attributes of NODE (st_ino is NODE).
    virtual struct stat attr(std::uint64_t node) = 0;
    // The child NAME of directory DIR: 0 and its node and attributes, or an errno (ENOENT,
    // ENOTDIR, EIO).
    virtual int lookup(std::uint64_t dir, const char* name, std::uint64_t& node,
                       struct stat& attr) = 0;
    // The entries of directory DIR, sorted by name (null when DIR is not a directory); an
    // entry's `ref` becomes a node id through node_of().
    virtual std::shared_ptr<const Listing> list(std::uint64_t dir) = 0;
    virtual std::uint64_t node_of(std::uint64_t ref) const = 0;

    // A regular file opened for reading, until the kernel releases it.
    class File {
      public:
        virtual ~File() = default;
        // Up to SIZE bytes at OFFSET into BUF; the count (0 at or past the end).
        virtual std::size_t read(std::uint64_t offset, char* buf, std::size_t size) = 0;
        // Whether read_concurrently() may read this range on another thread, beside any call
        // the serving thread makes at the same time (a squashfs file's own data blocks).
        virtual bool concurrent(std::uint64_t /*offset*/, std::size_t /*size*/) { return false; }
        virtual std::size_t read_concurrently(std::uint64_t offset, char* buf, std::size_t size) {
            return read(offset, buf, size);
        }
    };
    // NODE opened (null when it is not a regular file).
    virtual std::unique_ptr<File> open(std::uint64_t node) = 0;

    // The target of symlink NODE (EINVAL-worthy Error when it is not one: nullopt).
    virtual std::optional<std::string> link_target(std::uint64_t node) = 0;
    virtual std::vector<std::pair<std::string, std::string>> xattrs(std::uint64_t node) = 0;
    virtual struct statvfs statfs() = 0;

    // Called before the serving process is forked (the lazy tree closes the registry
    // connections it kept: the child closes every descriptor but descriptors()).
    virtual void before_serving() {}
    // Called in the serving process once it is confined, before the first request: what the
    // tree parses of untrusted input it parses here (a squashfs image's tables).
    virtual void after_confinement() {}
    // Called in gantry once the serving process has ended (the container is gone): the lazy
    // tree keeps what its run made local (lazy/store_layers.hpp). Must not throw.
    virtual void after_serving() {}
    // What after_serving()'s long work asks between its steps (a lazy image's local copies
    // becoming store layers, or the node's .sqsh cache entry): once ABANDONED says true, that
    // work stops where it is, nothing half-written, and the image stays lazy. gantry sets it as
    // the container ends: `gantry rm` of it while its monitor is still at that work.
    virtual void abandon_when(std::function<bool()> abandoned) { (void)abandoned; }
    // The descriptors the serving process keeps open (an image's file, cache files).
    virtual std::vector<int> descriptors() const = 0;
    // What the server says when it cannot serve ("the squashfs image x.sqsh").
    virtual std::string name() const = 0;
    // How many threads read its files' concurrent() ranges beside the one that answers every
    // request (fuse/server.cpp); 0: that one reads them too (the lazy trees).
    virtual unsigned reader_threads() const { return 0; }
    // Whether the serving process keeps gantry's stderr to say why a read failed (the lazy
    // tree: a registry gone, a chunk that lies); the squashfs server closes it.
    virtual bool keeps_stderr() const { return false; }
};

} // namespace gantry::fuse
