// util/mapped_file: a regular file mapped read-only for as long as the object lives, what the
// device-code scanners read whole files through (compat/fatbin, compat/hip_fatbin,
// gpu_vendors/nvidia/forward_compat). An empty file maps to no bytes.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace gantry {

class MappedFile {
  public:
    // Errors name the path: the system's for open, stat and mmap; Error(invalid) for a path that
    // is not a regular file.
    explicit MappedFile(const std::string& path);
    ~MappedFile();
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;

    std::string_view bytes() const { return {static_cast<const char*>(data_), size_}; }
    std::size_t size() const { return size_; }

  private:
    void* data_ = nullptr;
    std::size_t size_ = 0;
};

} // namespace gantry
