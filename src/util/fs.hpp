// Filesystem helpers: atomic writes, whole-file reads, robust tree removal, and in-root path
// resolution (openat2 RESOLVE_IN_ROOT) for paths inside an untrusted tree.
#pragma once

#include "util/fd.hpp"

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace gantry::fs {

namespace stdfs = std::filesystem;

// A name unique to this process and call, for temporary files: "<pid>-<counter>-<random>".
std::string unique_name();
// Whether the writer of NAME, a temporary named "<anything>.tmp-" + unique_name(), has exited
// (its pid, which unique_name() begins with, is no process): its file is debris. False for any
// other name and while the pid exists (or may: another user's process).
bool temporary_writer_gone(const std::string& name);

// The running binary's absolute path (/proc/self/exe resolved), for hooks that call gantry back.
// Error(internal) when /proc is not mounted.
std::string self_exe();

// The program NAME found on $PATH (/usr/local/bin:/usr/bin:/bin when unset), "" when absent.
std::string find_program(const std::string& name);

// How far an atomic write goes to survive a crash of the machine (power loss, a node's reset).
enum class Sync {
    // The data is synced before the rename that publishes it and the directory after: once
    // write_atomic returns, the new content survives a crash, and a crash before that leaves
    // the old content (never an empty or torn file). Everything a store keeps.
    durable,
    // Atomic for readers, not durable: for files that do not outlive the machine's boot or the
    // process (runtime state under /run, pid files, a container's scratch files).
    volatile_only,
};

// Writes data to "<path>.tmp-<unique>" in the same directory, then renames it over path.
// Readers see either the old or the new content, never a partial one.
void write_atomic(const stdfs::path& path, std::string_view data, mode_t mode = 0644,
                  Sync sync = Sync::durable);

// fsync(2) of the directory at PATH, so that names created, renamed or removed in it survive
// a crash. Throws Error naming it.
void sync_dir(const stdfs::path& path);
// fsync(2) of FD (a file's data and metadata). Throws Error naming `what`.
void sync_file(int fd, const std::string& what);

// Writes all of data to fd (retrying short writes) or throws Error naming `what`.
void write_all(int fd, const void* data, std::size_t n, const std::string& what);

// Reads a whole file; throws Error(not_found/io) naming the path; refuses files over max_size.
std::string read_file(const stdfs::path& path, std::uint64_t max_size = 64u << 20);

// Reads fd (a pipe, stdin) to EOF; throws Error naming `what` on a read error or when it holds
// more than max_size bytes.
std::string read_stream(int fd, std::uint64_t max_size, const std::string& what);

// Removes a tree even when it holds read-only directories (extracted layers often do).
// A missing path is not an error.
void remove_tree(const stdfs::path& path);

// mkdir -p for trusted paths (gantry's own store and state directories).
void make_dirs(const stdfs::path& path, mode_t mode = 0755);

// Opens a directory (O_PATH unless want_read) and throws a clear error if it fails.
Fd open_dir(const stdfs::path& path, bool want_read = false);

// openat2(dirfd, path, flags, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS [| extra]): every symlink
// and ".." in path is resolved as if dirfd were "/". Returns -1 with errno set on failure.
int openat_in_root(int root_fd, const std::string& path, int flags, mode_t mode = 0,
                   std::uint64_t extra_resolve = 0);

// True when the kernel supports openat2 (Linux >= 5.6).
bool have_openat2();

// Bytes used by a tree (st_blocks * 512, hard links counted once).
std::uint64_t disk_usage(const stdfs::path& path);

} // namespace gantry::fs
