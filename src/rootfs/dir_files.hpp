// rootfs/dir_files: the files of a root that is a plain directory (an Apptainer sandbox, written
// by `gantry apptainer build --sandbox` or by anyone), read as hostile input: every path is
// resolved with openat2(RESOLVE_IN_ROOT) under the directory, so a symlink in the tree (an
// absolute one, or ../ ones) leads back inside it and never to the host's files, and only
// regular files are read (a FIFO or device node is never opened for reading).
#pragma once

#include "rootfs/image_files.hpp"
#include "util/fd.hpp"

#include <string>
#include <vector>

namespace gantry::rootfs {

class DirFiles final : public ImageFiles {
  public:
    // Opens DIR (Error(not_found) when it is not a directory).
    explicit DirFiles(const std::string& dir);
    bool has(const std::string& path) const override;
    std::string read(const std::string& path) const override;
    std::vector<std::string> list(const std::string& dir) const override;
    int open(const std::string& path) const override;
    const char* kind() const override { return "dir"; }

  private:
    std::string dir_;
    Fd root_;
};

} // namespace gantry::rootfs
