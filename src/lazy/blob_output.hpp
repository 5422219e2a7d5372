// lazy/blob_output: where a converted layer's bytes go (the eStargz and zstd:chunked writers):
// the blob file, counted and hashed as it is written, and the uncompressed tar stream's hash and
// size (the layer's diffID).
#pragma once

#include "util/fs.hpp"
#include "util/hash.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace gantry::lazy {

class BlobOutput {
  public:
    // FD: the blob file; KIND names the format in errors ("eStargz"); WHAT names the layer.
    BlobOutput(int fd, std::string kind, std::string what)
        : fd_(fd), target_("the " + kind + " blob of " + what) {}

    // bytes written to the blob so far: the next byte's offset
    std::uint64_t offset() const { return written_; }
    // bytes that go into the blob as they are (footers, tables of contents)
    void raw(std::string_view bytes) { emit(bytes.data(), bytes.size()); }
    std::string blob_hex() { return blob_.hex_final(); }
    std::string tar_hex() { return tar_.hex_final(); }
    std::uint64_t tar_size() const { return tar_size_; }

  protected:
    // the uncompressed tar's bytes (hashed and counted; the subclass compresses them)
    void count_tar(const void* data, std::size_t n) {
        tar_.update(data, n);
        tar_size_ += n;
    }
    // compressed bytes, to the blob
    void emit(const char* p, std::size_t n) {
        blob_.update(p, n);
        written_ += n;
        fs::write_all(fd_, p, n, target_);
    }

  private:
    int fd_;
    std::string target_; // for errors: "the eStargz blob of ..."
    std::uint64_t written_ = 0, tar_size_ = 0;
    Sha256 blob_, tar_;
};

} // namespace gantry::lazy
