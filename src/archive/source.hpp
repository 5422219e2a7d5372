// Source: named members of an image archive (a tar file, compressed or not) or of an OCI layout
// directory, readable by name without trusting the names: a tar member is looked up in an index
// of the archive, a directory member must be a plain relative path without "..".
#pragma once

#include "layer/stream.hpp"

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace gantry::archive {

namespace stdfs = std::filesystem;

class Source {
  public:
    virtual ~Source() = default;
    virtual bool has(const std::string& name) const = 0;
    virtual std::uint64_t size(const std::string& name) const = 0;
    // Reads a small member whole; Error(not_found) names the member and the archive.
    virtual std::string read(const std::string& name, std::uint64_t max = 64u << 20) const = 0;
    // A stream over a member; safe to use from several threads at once (one stream each).
    virtual std::unique_ptr<layer::Reader> open(const std::string& name) const = 0;
    virtual std::vector<std::string> names() const = 0;
    virtual bool is_directory() const = 0;
    const std::string& path() const { return path_; }

    // Opens a directory as a layout, or a file as a tar archive. A compressed tar (gzip, zstd)
    // is first decompressed into an anonymous temporary file under tmp_dir.
    static std::unique_ptr<Source> open_path(const stdfs::path& path, const stdfs::path& tmp_dir);

  protected:
    std::string path_;
};

} // namespace gantry::archive
