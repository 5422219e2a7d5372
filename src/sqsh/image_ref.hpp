// sqsh/image_ref: a run's IMAGE that names a squashfs file, and its run view (config and
// passwd) read from the file itself, without the store.
//
// `gantry run sqsh:FILE` always means the file; a plain IMAGE means a file only when it
// looks like a path (a '/' in it, or a .sqsh/.sqfs/.squashfs name) AND is an existing regular
// file: "busybox" or "localhost:5000/app" stay image references unless such a file exists.
#pragma once

#include "rootfs/image_files.hpp"
#include "rootfs/run_view.hpp"
#include "sqsh/facts.hpp"
#include "sqsh/image.hpp"

#include <functional>
#include <optional>
#include <string>

namespace gantry::sqsh {

// The file IMAGE names, or nullopt for an image of the store. "sqsh:" with nothing after it is
// Error(usage).
std::optional<std::string> file_of(const std::string& image);

// The run view of a squashfs file from its facts (sqsh/facts.hpp): the config from its header
// (an empty config for a squashfs without one), no layers (its diff IDs are not in the store),
// etc/passwd from the file. The manifest digest is the header's, or for a foreign squashfs the
// sha256 of "sqsh:" + its absolute path (a stable name for the container's image hold and
// state).
rootfs::RunView run_view(const Facts& facts, const std::string& path);

// The files of a squashfs image, for what reads an image's known files before a run (the GPU
// step, the CPU check). Each call is answered by a confined process (sqsh/confined.hpp) that
// first calls CONFINE: gantry itself parses nothing of the image.
class SquashFiles final : public rootfs::ImageFiles {
  public:
    SquashFiles(Image& image, std::function<void()> confine)
        : image_(image), confine_(std::move(confine)) {}
    bool has(const std::string& path) const override;
    std::string read(const std::string& path) const override;
    std::vector<std::string> list(const std::string& dir) const override;
    // The file's content in a sealed memfd (up to 1 GiB).
    int open(const std::string& path) const override;
    const char* kind() const override { return "sqsh"; }

  private:
    Image& image_;
    std::function<void()> confine_;
};

} // namespace gantry::sqsh
