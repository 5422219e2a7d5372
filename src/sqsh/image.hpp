// sqsh/image: an opened squashfs image, read with squashfs-tools-ng's libsquashfs (Debian's
// libsquashfs1, loaded with dlopen on first use), as the untrusted input it is.
//
// A .sqsh file comes from a colleague or a shared store and is read by gantry as root: every
// table, length and reference in it is hostile until checked. libsquashfs bounds what it reads
// (metadata blocks against their table, directory headers and entries against the directory's
// size, names against 256 bytes, xattr keys and values against their blocks, fragment and id
// indices against their tables) and reports SQFS_ERROR_* instead of trusting them; this class
// adds what the library leaves to its caller: the file type comes from the inode's type (never
// the mode's bits), names are checked (no '/', '.', '..' or NUL), directory listings and
// xattrs are bounded, and every failure is an Error(invalid) naming the file. Debian's
// libsquashfuse (the reader before this one) trusted everything past the superblock: a
// directory entry's name size smashed its stack (tests/e2e/test_sqsh_hostile.py).
//
// gantry links no squashfs library: every linked library is start-up time for every `gantry
// run` (util/library.hpp). The image's file is opened once and read by descriptor (pread),
// never reopened by name. Not safe for concurrent use: one request at a time (server.cpp), but
// for read_blocks().
#pragma once

#include "fuse/tree.hpp"
#include "layer/file_holes.hpp"
#include "sif/container.hpp"
#include "sif/oci_sif.hpp"
#include "sqsh/format.hpp"
#include "util/fd.hpp"

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <sys/stat.h>
#include <tuple>
#include <utility>
#include <vector>

struct sqfs_inode_generic_t;
struct sqfs_data_reader_t;

namespace gantry::sqsh {

// An inode read from the image (libsquashfs' generic inode, freed with it).
struct InodeFree {
    void operator()(sqfs_inode_generic_t* p) const;
};
using Inode = std::unique_ptr<sqfs_inode_generic_t, InodeFree>;

// One entry of a directory: its checked name, the reference of its inode in the inode table and
// its type as the listing says (S_IFDIR, S_IFREG, ...; the inode's own type decides).
using DirEntry = fuse::DirEntry; // a listing is what the FUSE server serves (fuse/tree.hpp)

// Upper bounds a hostile image cannot make gantry exceed.
inline constexpr std::size_t kMaxDirEntries = 1u << 20;    // per directory
inline constexpr std::size_t kMaxXattrBytes = 64u << 10;   // all xattrs of one inode
inline constexpr std::size_t kMaxLinkTarget = 4096;        // PATH_MAX
inline constexpr std::size_t kMaxCachedEntries = 1u << 20; // listings kept, in all

class Image {
  public:
    // Opens PATH (a regular file), checks its superblock and loads its tables (ids, fragments,
    // xattrs); Error(not_found) when it is missing, Error(invalid) when it is not a squashfs
    // image gantry can read, Error(unsupported) naming the package when libsquashfs is absent.
    explicit Image(const std::string& path);
    // Reads the image from FD (any readable descriptor of a regular file or memfd), named PATH
    // in messages. The fuzz harness uses this with a memfd.
    Image(Fd fd, const std::string& path);
    // Keeps FD (any readable descriptor, named PATH in messages) and loads libsquashfs, but
    // reads nothing of the image: its superblock and tables are read by open_tables(), or by
    // the first call that needs them. `run FILE.sqsh` opens its image so, and the confined
    // process that serves it (fuse/server.hpp) calls open_tables(): gantry itself parses
    // nothing of the file (what it needs before mounting, sqsh/facts.hpp reads in a confined
    // process of its own).
    struct Deferred {};
    Image(Fd fd, const std::string& path, Deferred);
    // Reads and checks the superblock and loads the tables, once (the constructors above do).
    void open_tables();
    // The squashfs image is bytes [OFFSET, OFFSET + SIZE) of the file (a SIF's system
    // partition, found by sqsh::open_deferred): every read, the superblock's included, is
    // relative to OFFSET and bounded by SIZE. Before open_tables(). The whole file when unset.
    void set_window(std::uint64_t offset, std::uint64_t size);
    std::uint64_t window_offset() const { return window_offset_; }
    // The image's size: the window's, or the file's (fstat) when there is none.
    std::uint64_t window_size() const;
    bool windowed() const { return windowed_; }
    // The SIF around the image, when the file is one (set by sqsh::open_deferred).
    void set_sif(sif::Container c) { sif_ = std::make_shared<const sif::Container>(std::move(c)); }
    const sif::Container* sif() const { return sif_.get(); }
    // An OCI-SIF's image (its window is the squashfs layer), when the file is one.
    void set_oci(sif::OciImage i) { oci_ = std::make_shared<const sif::OciImage>(std::move(i)); }
    const sif::OciImage* oci() const { return oci_.get(); }
    ~Image();
    Image(const Image&) = delete;
    Image& operator=(const Image&) = delete;

    const std::string& path() const { return path_; }
    // Called with (offset, size) before each read of the file (the superblock's, libsquashfs'):
    // a lazily fetched image (lazy/squashfs_artifact.hpp) makes those bytes present. An Error it
    // throws fails the read (the caller's message is its own).
    using BeforeRead = std::function<void(std::uint64_t offset, std::size_t size)>;
    void set_before_read(BeforeRead f) { before_read_ = std::move(f); }
    // The superblock (after open_tables(): a deferred image's is zero until then).
    const Superblock& super() const { return sb_; }
    int fd() const { return fd_.get(); }

    // --- the inode level (the FUSE server) ---
    std::uint64_t root_ref() const { return sb_.root_inode; }
    // The inode at REF; Error(invalid) when it cannot be read.
    Inode inode(std::uint64_t ref);
    // The stat of IN: type from the inode's type, permissions from its mode, owners through
    // the id table, nlink, size, rdev, times. Error(invalid) for an id outside the table.
    struct stat stat(const sqfs_inode_generic_t& in);
    // The entries of directory IN (at most kMaxDirEntries), sorted by name, or the one named
    // NAME (a binary search). Listings
    // are cached (at most kMaxCachedEntries in all), so a lookup in a directory of 60,000 files
    // does not read 60,000 entries. Error(invalid) when IN is not a directory or its listing
    // is damaged.
    using Listing = fuse::Listing;
    std::shared_ptr<const Listing> entries(const sqfs_inode_generic_t& in);
    std::optional<DirEntry> find(const sqfs_inode_generic_t& in, std::string_view name);
    // The target of symlink IN. Error(invalid) when it is not one or the target is unusable.
    std::string link_target(const sqfs_inode_generic_t& in);
    // Reads up to SIZE bytes of regular file IN at OFFSET into BUF; the count read (0 at or
    // past the end). Error(invalid) when a block cannot be read or decompressed.
    std::size_t read(const sqfs_inode_generic_t& in, std::uint64_t offset, char* buf,
                     std::size_t size);
    // Whether bytes [OFFSET, OFFSET + SIZE) of regular file IN lie in IN's own data blocks
    // (none in a fragment block that other files share) and the image has no before-read hook:
    // such a range read_blocks() may read. (image_blocks.cpp)
    bool in_own_blocks(const sqfs_inode_generic_t& in, std::uint64_t offset, std::size_t size);
    // read() of a range in_own_blocks() accepted, with the calling thread's own decompressor
    // and block cache: the one call that is safe beside the others, from any number of threads
    // at once (a server thread decompresses a big file's blocks while another one answers
    // lookups). Error(invalid) as read().
    std::size_t read_blocks(const sqfs_inode_generic_t& in, std::uint64_t offset, char* buf,
                            std::size_t size);
    // Where regular file IN has sparse blocks (all zeros, nothing stored): its data as regions,
    // the sparse blocks left out and neighbouring blocks merged, the fragment's tail as data; an
    // all-sparse file gives one empty region at its size. Empty for a file without sparse
    // blocks. Reads only IN's block list. (image_blocks.cpp)
    std::vector<layer::DataRegion> data_regions(const sqfs_inode_generic_t& in);
    // IN's xattrs as full names ("user.x") and values, at most kMaxXattrBytes in all.
    std::vector<std::pair<std::string, std::string>> xattrs(const sqfs_inode_generic_t& in);

    // --- the path level (what gantry reads before it mounts) ---
    // The value of the root directory's xattr NAME (nullopt when absent); Error(invalid) when it
    // is larger than MAX or cannot be read.
    std::optional<std::string> root_xattr(const char* name, std::size_t max);
    // The content of the regular file PATH (relative to the root, symlinks not followed):
    // nullopt when absent or not a regular file; Error(invalid) over MAX bytes or unreadable.
    std::optional<std::string> read_file(const std::string& path, std::size_t max);
    // The mode of PATH (not followed), nullopt when absent; the names in directory PATH (empty
    // when absent or not a directory). Error(invalid) when the image cannot be read.
    std::optional<mode_t> mode_of(const std::string& path);
    std::vector<std::string> list_dir(const std::string& path);
    // The gantry header, verified (nullopt for a squashfs without one).
    std::optional<Header> header();

    struct Tables; // libsquashfs' objects (image.cpp)

  private:
    Tables& tables(); // open_tables() first
    // read() through DATA (the shared reader, or a thread's own: read_blocks)
    std::size_t read_with(sqfs_data_reader_t* data, const sqfs_inode_generic_t& in,
                          std::uint64_t offset, char* buf, std::size_t size);
    // PATH's inode (components looked up one by one, symlinks not followed); null when absent.
    Inode lookup(const std::string& path);
    void check_sizes(std::uint64_t ref);
    [[noreturn]] void damaged(const std::string& what, int err) const;

    std::string path_;
    Fd fd_;
    std::uint64_t window_offset_ = 0, window_size_ = 0;
    bool windowed_ = false;
    std::shared_ptr<const sif::Container> sif_;
    std::shared_ptr<const sif::OciImage> oci_;
    BeforeRead before_read_;
    Superblock sb_;
    std::unique_ptr<Tables> t_;
    // listings by their place in the directory table (block, offset, size)
    std::map<std::tuple<std::uint32_t, std::uint32_t, std::uint32_t>,
             std::shared_ptr<const Listing>>
        listings_;
    std::size_t cached_ = 0; // entries in listings_
};

// The file type bits (S_IFREG, ...) of libsquashfs inode type TYPE (basic or extended); 0 for
// a type squashfs does not define.
mode_t file_type(unsigned type);
// The file type bits of inode IN (its type's, never its mode's).
mode_t file_type(const sqfs_inode_generic_t& in);

} // namespace gantry::sqsh
