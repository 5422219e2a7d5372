// Pull streams for the layer pipeline: read -> hash (-> tee to a blob file) -> decompress -> untar.
#pragma once

#include "oci/image.hpp"
#include "util/hash.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <sys/types.h>
#include <vector>

namespace gantry::layer {

class Reader {
  public:
    virtual ~Reader() = default;
    // Reads up to n bytes; returns 0 only at end of stream; throws Error on failure.
    virtual std::size_t read(void* buf, std::size_t n) = 0;
};

// Reads [offset, offset+length) of a file descriptor with pread (length = -1: to EOF).
class FdReader final : public Reader {
  public:
    FdReader(int fd, std::string name, off_t offset = 0, std::int64_t length = -1);
    std::size_t read(void* buf, std::size_t n) override;

  private:
    int fd_;
    std::string name_;
    off_t offset_;
    std::int64_t left_;
};

// Passes bytes through while hashing and counting them, and optionally copying them to an fd.
class HashingReader final : public Reader {
  public:
    explicit HashingReader(Reader& src, int tee_fd = -1, std::string tee_name = {});
    std::size_t read(void* buf, std::size_t n) override;
    std::uint64_t count() const { return count_; }
    std::string hex_final() { return hash_.hex_final(); }

  private:
    Reader& src_;
    Sha256 hash_;
    std::uint64_t count_ = 0;
    int tee_fd_;
    std::string tee_name_;
};

// Serves a prefix that was already read (for sniffing), then the rest of src.
class PrefixedReader final : public Reader {
  public:
    PrefixedReader(std::vector<unsigned char> prefix, Reader& src)
        : prefix_(std::move(prefix)), src_(src) {}
    std::size_t read(void* buf, std::size_t n) override;

  private:
    std::vector<unsigned char> prefix_;
    std::size_t pos_ = 0;
    Reader& src_;
};

// A decompressing reader (gzip through ISA-L's igzip, zstd through libzstd, or pass-through).
// Truncated or corrupt input throws Error(invalid) naming `what`.
std::unique_ptr<Reader> make_decompressor(oci::Compression c, Reader& src, std::string what);

// The decompressed content of a layer blob whose compression is sniffed from its first bytes
// (gzip, zstd or a plain tar, whatever the media type claims). Neither copyable nor movable:
// the decompressor reads through the prefix reader held here.
class SniffedStream {
  public:
    SniffedStream(Reader& blob, const std::string& what);
    SniffedStream(const SniffedStream&) = delete;
    SniffedStream& operator=(const SniffedStream&) = delete;
    oci::Compression compression() const { return compression_; }
    Reader& plain() { return *plain_; }

  private:
    static std::vector<unsigned char> head(Reader& blob);
    std::vector<unsigned char> head_;
    oci::Compression compression_;
    PrefixedReader prefixed_;
    std::unique_ptr<Reader> plain_;
};

// Reads and discards the rest of a stream; returns the byte count.
std::uint64_t drain(Reader& r);

} // namespace gantry::layer
