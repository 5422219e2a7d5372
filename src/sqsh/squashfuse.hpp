// sqsh/squashfuse: Debian's libsquashfuse_ll (squashfuse 0.1.105), loaded with dlopen on first
// use, and an opened squashfs image read through it.
//
// gantry links no FUSE or squashfs library: every shared object linked is start-up time for
// every `gantry run` (util/library.hpp). libsquashfuse_ll.so.0 carries the whole squashfs reader
// (superblock, tables, caches, decompressors; NOT safe for concurrent reads: its block caches
// are shared without locks, see server.cpp) and the low-level FUSE operations; libfuse3.so.3 comes
// with it. Image opens the file itself (one descriptor, never reopened by name) and bounds its
// superblock with check_superblock before the library reads any table.
#pragma once

#include "sqsh/format.hpp"
#include "util/fd.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

struct sqfs_ll;
struct sqfs;
struct sqfs_inode;

namespace gantry::sqsh {

struct Api; // the bound functions (squashfuse.cpp, server.cpp)
// Loads the libraries; Error(unsupported) naming the package to install when they are missing.
const Api& api();

class Image {
  public:
    // Opens PATH (a regular file) and checks its superblock; Error(not_found) when it is
    // missing, Error(invalid) when it is not a squashfs image gantry can read.
    explicit Image(const std::string& path);
    ~Image();
    Image(const Image&) = delete;
    Image& operator=(const Image&) = delete;

    const std::string& path() const { return path_; }
    const Superblock& super() const { return sb_; }
    int fd() const { return fd_.get(); }
    sqfs_ll* ll() { return ll_; } // for the FUSE server; owned here
    sqfs* fs();
    // A pointer stored beside the sqfs_ll (the FUSE server's context: a request carries only
    // the sqfs_ll as its user data), and the way back from an sqfs_ll this class made.
    void set_context(void* c);
    static void* context(sqfs_ll* ll);

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

  private:
    // PATH's inode in IN; false when absent. Error(invalid) when the image cannot be read.
    bool lookup(const std::string& path, struct sqfs_inode& in);
    std::string path_;
    Fd fd_;
    Superblock sb_;
    sqfs_ll* ll_ = nullptr;
};

} // namespace gantry::sqsh
