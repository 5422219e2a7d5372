// The file work of `gantry cp` (engine/copy.hpp), descriptor-relative throughout: a tree is
// read and written entry by entry with *at() calls on one name at a time and O_NOFOLLOW, so
// a symbolic link planted in a container's root is copied as a link and never followed, on
// either side; a tar stream's names are walked the same way from the destination directory.
#pragma once

#include <string>

namespace gantry::engine {

// Copies SRC_NAME in SRC_DIR (a file, a directory with everything under it, a link as a link:
// FOLLOW follows SRC_NAME itself only) to DST_NAME in DST_DIR: a directory merges into one
// there, any other entry replaces a non-directory. Modes and times are kept; owners are the
// copying process's. Devices and sockets are left out, each with a warning.
void copy_tree(int src_dir, const std::string& src_name, int dst_dir, const std::string& dst_name,
               bool follow);

// Writes SRC_NAME in SRC_DIR (as copy_tree reads it) to OUT as a tar stream whose entries begin
// with ARCHIVE_NAME, as docker cp's `-` does.
void write_tar(int src_dir, const std::string& src_name, const std::string& archive_name, int out,
               bool follow);

// Extracts the tar stream IN (plain, gzip, bzip2 or xz) into the directory DST_DIR: names are
// relative to it ("/" and ".." refused: Error(invalid)), a name through a symbolic link is
// refused rather than followed, files replace non-directories. WHAT names the stream.
void extract_tar_into(int in, int dst_dir, const std::string& what);

} // namespace gantry::engine
